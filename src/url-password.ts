/**
 * Secrets in URLs, as messages and logs show them: a password in the user part, and the values of
 * query parameters that carry one (by their names as the parsers that read them decode them, so
 * `?tok%65n=` is `token` here as it is to the server's query parser).
 */

/** A connection URL as messages and logs show it: its password, in the user part or a `password` or `sslpassword` parameter (which libpq and `pg` read too), as `***`, the rest as given. */
export function hidePassword(url: string): string {
  return redactQueryValues(hideUserPassword(url, '***'), (name) => /password/i.test(name), '***');
}

/**
 * A connection URL as a hint's command shows it: its passwords as PASSWORD, for the user to put
 * back (`***` would be taken as the password), single-quoted for a POSIX shell, whose `?`, `&`
 * and `#` would otherwise change the command. A URL already shown with `***` gets PASSWORD too.
 */
export function urlInCommand(url: string): string {
  const shown = redactQueryValues(hideUserPassword(url, 'PASSWORD'), (name) => /password/i.test(name), 'PASSWORD');
  return `'${shown.replaceAll("'", "'\\''")}'`;
}

/**
 * The password of the user part as `***`, read off the text rather than parsed, since connection
 * libraries take a password with `:` or `@` in it unencoded (`pg` connects with
 * `postgres://bob:Sek:r3t@Pw@host/db`, whose password a URL parser reports encoded): it runs from
 * the first `:` after `//` to the user part's last `@`. That `@` is the last one before the path
 * (as URL parsers split it) when the URL parses; when it does not (a `/`, `?` or `#` in the
 * password cuts the host short), the last `@` that a host name follows.
 */
function hideUserPassword(url: string, mask: string): string {
  const authority = url.indexOf('//');
  if (authority < 0) return url;
  const at = parses(url) ? lastAtBeforePath(url, authority + 2) : lastAtBeforeHost(url, authority + 2);
  const colon = url.indexOf(':', authority + 2);
  if (at < 0 || colon < 0 || colon > at) return url;
  return `${url.slice(0, colon + 1)}${mask}${url.slice(at)}`;
}

function parses(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function lastAtBeforePath(url: string, from: number): number {
  const end = url.slice(from).search(/[/?#]/);
  const at = url.lastIndexOf('@', end < 0 ? url.length : from + end);
  return at >= from ? at : -1;
}

function lastAtBeforeHost(url: string, from: number): number {
  for (let i = url.length - 1; i >= from; i--) {
    if (url[i] === '@' && /^[\w.~%[\]:-]*(?:[/?#]|$)/.test(url.slice(i + 1))) return i;
  }
  return -1;
}

/**
 * Names of query parameters that carry a credential, as their percent-decoded names read:
 * passwords, secrets, tokens, keys (`key`, `apikey`, `api_key`, `access-key`, ...), auth
 * (`auth`, `authorization`, `oauth`), credentials, signatures (`sig`, `X-Amz-Signature`) and
 * sessions, cookies, JWTs, bearer tokens and one-time passwords. A name that merely contains one of them is enough: a value redacted in vain costs less
 * than a secret in a log.
 */
const CREDENTIAL_NAME = /pass(?:wd|word)?|pwd|secret|token|key|auth|credential|sig(?:nature)?(?:$|[^a-z])|session|cookie|jwt|bearer|otp/i;

export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

/**
 * Every URL's user part in `text` (`http://bob:p4ss@host/`, the target of an absolute-form request
 * or a URL inside a query value, also percent-encoded there: `http%3A%2F%2Fbob%3Ap4ss%40host`) as
 * `mask`, user name included: a token is often given as the user.
 */
export function hideUserInfo(text: string, mask: string): string {
  return text.replace(/\/\/[^/?#\s]*@/g, `//${mask}@`).replace(/%2F%2F(?:(?!%2F)[^/?#\s&])*%40/gi, `%2F%2F${mask}%40`);
}

/** `url` with the value of every query parameter whose percent-decoded name `isSecret` accepts written as `mask`. */
export function redactQueryValues(url: string, isSecret: (name: string) => boolean, mask: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const hash = url.indexOf('#', start);
  const end = hash < 0 ? url.length : hash;
  const query = url
    .slice(start + 1, end)
    .replace(/(^|&)([^=&]*)=([^&]*)/g, (_whole, separator: string, name: string, value: string) =>
      isSecret(decodedName(name)) ? `${separator}${name}=${mask}` : `${separator}${name}=${maskedAfterSemicolon(value, isSecret, mask)}`,
    );
  return url.slice(0, start + 1) + query + url.slice(end);
}

/**
 * A value with whatever follows a `;NAME=` whose name `isSecret` accepts written as `mask`. The
 * parsers here split at `&` only, so `?x=1;token=T` sends no token (it is refused); but the
 * value is still someone's secret, and must not be shown in the refusal's log.
 */
function maskedAfterSemicolon(value: string, isSecret: (name: string) => boolean, mask: string): string {
  for (const pair of value.matchAll(/;([^=;]*)=/g)) {
    if (isSecret(decodedName(pair[1]!))) return value.slice(0, pair.index + pair[0].length) + mask;
  }
  return value;
}

/** A query parameter's name as URL query parsers read it ('+' a space, %XX decoded; as given where that fails). */
function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}
