/**
 * Requests that another web site makes a visitor's browser send:
 * - DNS rebinding: a page of `evil.example` that re-points its own name at 127.0.0.1 reads a
 *   tokenless server on loopback as same-origin. A server without a token therefore answers only
 *   requests addressed (`Host`) to an IP address, `localhost`, this machine's name or a name given
 *   with `--allowed-host`. With a token, such a page has nothing to send.
 * - Cross-site writes: a form on another site may POST to the API (multipart needs no CORS
 *   preflight); the answer is unreadable, but the work (an upload tiled and embedded) is done. A
 *   POST a browser marks as cross-origin is refused: `Sec-Fetch-Site` where the browser sends it,
 *   else `Origin` against `Host` (as Go's CrossOriginProtection decides). Clients that are not
 *   browsers send neither and pass.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { RequestHandler } from 'express';
import { HttpError } from './http-error.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host name of a `Host` header, lower case, without its port, brackets or trailing dot. */
export function hostName(hostHeader: string): string {
  const name = hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : hostHeader.replace(/:\d*$/, '');
  return name.toLowerCase().replace(/\.$/, '');
}

/** Names a tokenless server answers for besides IP addresses, `localhost` and this machine's name; `*` for any. */
export function refuseRebinding(allowedHosts: readonly string[] = []): RequestHandler {
  const allowed = new Set([hostname().toLowerCase(), ...allowedHosts.map(hostName)]);
  const anyHost = allowed.has('*');
  return function checkHost(req, _res, next) {
    const header = req.headers.host;
    if (anyHost || header === undefined) {
      next();
      return;
    }
    const name = hostName(header);
    if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name)) {
      next();
      return;
    }
    next(
      new HttpError(
        403,
        'FORBIDDEN',
        `this server has no token and answers only requests addressed to an IP address, localhost or ${hostname()}, not to "${name}" (a page elsewhere may have pointed that name here)`,
        {},
        `if "${name}" is this server's name, start it with --allowed-host ${name} (or with --token)`,
      ),
    );
  };
}

/** Whether a browser marked the request as sent from a page of another origin. */
function crossOrigin(fetchSite: string | undefined, origin: string | undefined, host: string | undefined): boolean {
  if (fetchSite !== undefined) return fetchSite !== 'same-origin' && fetchSite !== 'none';
  if (origin === undefined) return false;
  try {
    return host === undefined || new URL(origin).host !== new URL(`http://${host}`).host;
  } catch {
    // `Origin: null` (a sandboxed page, a file) or a value that is no URL
    return true;
  }
}

/** Refuses a write (any method but GET, HEAD, OPTIONS) that a page of another origin sent. */
export function refuseCrossOriginWrites(): RequestHandler {
  return function checkOrigin(req, _res, next) {
    const fetchSite = req.headers['sec-fetch-site'];
    if (SAFE_METHODS.has(req.method) || !crossOrigin(typeof fetchSite === 'string' ? fetchSite : undefined, req.headers.origin, req.headers.host)) {
      next();
      return;
    }
    next(new HttpError(403, 'FORBIDDEN', `a ${req.method} from a page of another site (${req.headers.origin ?? 'its origin not given'}) is refused: only this server's own page, and clients that are not browsers, may send one`));
  };
}
