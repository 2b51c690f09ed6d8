/**
 * Secrets in URLs, as messages and logs show them: a password in the user part, and the values of
 * query parameters that carry one (by their names as the parsers that read them decode them, so
 * `?tok%65n=` is `token` here as it is to the server's query parser).
 */

/** A connection URL as messages and logs show it: its password, in the user part or a `password` or `sslpassword` parameter (which libpq and `pg` read too), as `***`, the rest as given. */
export function hidePassword(url: string): string {
  const shown = redactQueryValues(url, (name) => /password/i.test(name), '***');
  let password: string;
  try {
    password = new URL(shown).password;
  } catch {
    // not a URL: whatever stands between ':' and '@'
    return shown.replace(/:[^:@/]*@/, ':***@');
  }
  return password === '' ? shown : shown.replace(`:${password}@`, ':***@');
}

/** `url` with the value of every query parameter whose percent-decoded name `isSecret` accepts written as `mask`. */
export function redactQueryValues(url: string, isSecret: (name: string) => boolean, mask: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const hash = url.indexOf('#', start);
  const end = hash < 0 ? url.length : hash;
  const query = url.slice(start + 1, end).replace(/(^|&)([^=&]*)=([^&]*)/g, (whole, separator: string, name: string) => (isSecret(decodedName(name)) ? `${separator}${name}=${mask}` : whole));
  return url.slice(0, start + 1) + query + url.slice(end);
}

/** A query parameter's name as URL query parsers read it ('+' a space, %XX decoded; as given where that fails). */
function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}
