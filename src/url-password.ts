/** A connection URL as messages and logs show it: its password, if any, as `***`, the rest as given. */
export function hidePassword(url: string): string {
  let password: string;
  try {
    password = new URL(url).password;
  } catch {
    // not a URL: whatever stands between ':' and '@'
    return url.replace(/:[^:@/]*@/, ':***@');
  }
  return password === '' ? url : url.replace(`:${password}@`, ':***@');
}
