import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { RsclipError, type RsclipErrorCode } from '../../src/errors.js';
import { errorMiddleware } from '../../src/server/http-error.js';

function answer(error: unknown): request.Test {
  const app = express();
  app.get('/', () => {
    throw error;
  });
  app.use(errorMiddleware(undefined));
  return request(app).get('/');
}

describe('the error middleware', () => {
  it.each<[RsclipErrorCode, number]>([
    ['BAD_QUERY', 400],
    ['NOT_FOUND', 404],
    ['INDEX_NOT_FOUND', 404],
    ['INDEX_INCOMPATIBLE', 409],
    ['INDEX_CORRUPT', 503],
    ['INDEX_CLOSED', 503],
    ['INDEX_LOCKED', 503],
    ['INDEX_UNAVAILABLE', 503],
    ['INDEX_READ_ONLY', 500],
  ])('answers %s with %i and the code, message and hint', async (code, status) => {
    const res = await answer(new RsclipError(code, `a ${code}`, { hint: 'do this' }));
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: `a ${code}`, hint: 'do this' } });
  });

  it('answers anything else with 500 and nothing of its message', async () => {
    const res = await answer(new Error('secret detail'));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'INTERNAL', message: 'internal server error' } });
  });
});
