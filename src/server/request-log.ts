/**
 * Request logging: one entry per request with its method, URL, status and time, and nothing
 * else of the request (the token travels in its headers); `?token=` is redacted from every
 * logged URL. Thumbnail requests are left out unless `verbose`: one page of results loads
 * dozens of them.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/** The URL with the value of any `token` query parameter replaced. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
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
    // a 503 is the index or the server unavailable for now (its database away, busy, warming up);
    // the error middleware logs why, and as an error with its stack what needs a person (a corrupt index)
    customLogLevel: (_req, res, error) => (res.statusCode === 503 ? 'warn' : error || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: redactToken(req.url), remoteAddress: req.remoteAddress }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customSuccessMessage: (req, res, ms) => `${req.method} ${redactToken(req.url ?? '')} ${res.statusCode} ${Math.round(ms)} ms`,
    customErrorMessage: (req, res, error) => `${req.method} ${redactToken(req.url ?? '')} ${res.statusCode} failed: ${error.message}`,
  });
}
