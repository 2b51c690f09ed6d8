/**
 * Request logging: one entry per request with its method, URL, status and time, and nothing
 * else of the request (the token travels in its headers); every logged URL has its user part and
 * the value of every parameter named as a credential (`token`, `password`, `apikey`, ...; however
 * its name is written, after `&` or `;`) redacted. Thumbnail requests are left out unless
 * `verbose`: one page of results loads dozens of them.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { hideUserInfo, isCredentialName, redactQueryValues } from '../url-password.js';

const REDACTED = '[redacted]';

/** The URL as logs show it: its user part, and the value of any query parameter named as a credential (`token`, `tok%65n`, `token[]`, `access_token`, `password`, `api_key`, ...), replaced. */
export function redactSecrets(url: string): string {
  return redactQueryValues(hideUserInfo(url, REDACTED), isCredentialName, REDACTED);
}

/** Responses the error middleware answered with a "not now" 503 and logged itself, as one warning line with the reason. */
const refusedForNow = new WeakSet<object>();

/** Marks `res` as a "not now" refusal already logged: the request log leaves it out (else it would log it again, as an error with a stack of its own making). */
export function markRefusedForNow(res: object): void {
  refusedForNow.add(res);
}

/** Responses the server cut short (a client that stopped reading, the shutdown) and logged as such itself. */
const cutShort = new WeakSet<object>();

/** Marks `res` as cut short by the server, which logs why: the request log leaves it out (else it would read "aborted by the client"). */
export function markCutShort(res: object): void {
  cutShort.add(res);
}

/** Whether the server cut `res` short: what its handler meets afterwards (a closed connection, an answer already sent) is no news. */
export function wasCutShort(res: object): boolean {
  return cutShort.has(res);
}

const THUMBNAIL = /^\/api\/images\/[^/?]+\/thumbnail(?:[?#]|$)/;

export interface RequestLogOptions {
  /** Log thumbnail requests too. */
  verbose?: boolean;
}

export function requestLogger(logger: Logger, options: RequestLogOptions = {}): RequestHandler {
  return pinoHttp({
    logger,
    quietReqLogger: true,
    autoLogging: options.verbose ? true : { ignore: (req) => THUMBNAIL.test(req.url ?? '') },
    // a "not now" 503 (the index's database away, busy, warming up) is the error middleware's one
    // warning line with the reason, and a response the server cut short ResponsesInFlight's:
    // pino-http would add an entry of its own, with an error and a stack it makes up for any status
    // >= 500 (or "aborted by the client"); the error middleware logs as an error with its stack
    // what needs a person (a corrupt index)
    customLogLevel: (_req, res, error) => (refusedForNow.has(res) || cutShort.has(res) ? 'silent' : res.statusCode === 503 ? 'warn' : error || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: redactSecrets(req.url), remoteAddress: req.remoteAddress }),
      // a request whose client went away before the answer has no status (its message would read
      // 200, express's default; its entry a status of null): it is marked aborted instead
      res: (res: { statusCode: number | null; raw: { writableEnded: boolean } }) => (res.raw.writableEnded ? { statusCode: res.statusCode } : { aborted: true }),
    },
    customSuccessMessage: (req, res, ms) => `${req.method} ${redactSecrets(req.url ?? '')} ${res.writableEnded ? res.statusCode : 'aborted by the client after'} ${Math.round(ms)} ms`,
    customErrorMessage: (req, res, error) => `${req.method} ${redactSecrets(req.url ?? '')} ${res.statusCode} failed: ${error.message}`,
  });
}
