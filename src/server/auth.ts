/**
 * Optional token check (`rsclip serve --token T`): the API answers 401 unless the request
 * carries `Authorization: Bearer T` or `?token=T`. The query form exists for `<img src>`
 * URLs of the web page, which cannot send headers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './http-error.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

function presentedToken(authorization: string | undefined, query: unknown): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (bearer) return bearer[1]!.trim();
  const fromQuery = (query as Record<string, unknown> | undefined)?.token;
  return typeof fromQuery === 'string' ? fromQuery : undefined;
}

export function requireToken(token: string): RequestHandler {
  const expected = digest(token);
  return function checkToken(req, _res, next) {
    const given = presentedToken(req.headers.authorization, req.query);
    // compare digests, so that the comparison takes the same time whatever the length
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    const message = given === undefined ? 'this server needs a token: send `Authorization: Bearer <token>` or `?token=<token>`' : 'wrong token';
    next(new HttpError(401, 'UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer realm="rsclip"' }));
  };
}
