/**
 * A 503 that means "not now" (the model still loading, the index's database away, the server
 * busy) is logged as exactly one warning line with its reason, and no error or stack: the request
 * log (pino-http) would add an entry of its own with an error it makes up for any status >= 500.
 * Other 5xx stay errors with their stack.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-not-now-log-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
});
afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Entry {
  level: number;
  msg: string;
  err?: unknown;
  code?: string;
  method?: string;
  url?: string;
}

function collectingLogger() {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino(out), entries: () => lines.map((l) => JSON.parse(l) as Entry) };
}

/** The store, with `stats` failing as a PostgreSQL store's does while its database is away, or as a corrupt index's. */
function storeFailing(code: 'INDEX_UNAVAILABLE' | 'INDEX_CORRUPT'): IndexStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'stats') return async () => Promise.reject(new RsclipError(code, code === 'INDEX_UNAVAILABLE' ? 'cannot use PostgreSQL at <index database>: connection refused' : 'the graph file is damaged', { hint: 'run `rsclip doctor`' }));
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

it('logs a "not now" 503 as one warning line with its reason, and nothing else', async () => {
  for (const [route, app, reason, code] of [
    ['/readyz', (logger: pino.Logger) => createApp({ searcher: new Searcher(fixture.encoder, store), store, logger, isReady: () => false }), 'the model is still loading', 'NOT_READY'],
    ['/api/stats', (logger: pino.Logger) => createApp({ searcher: new Searcher(fixture.encoder, store), store: storeFailing('INDEX_UNAVAILABLE'), logger }), 'cannot use PostgreSQL at <index database>: connection refused', 'INDEX_UNAVAILABLE'],
  ] as const) {
    const { logger, entries } = collectingLogger();
    const res = await request(app(logger)).get(route);
    expect(res.status, res.text).toBe(503);
    expect(entries()).toEqual([expect.objectContaining({ level: 40, msg: `request refused for now: ${reason}`, code, method: 'GET', url: route })]);
    expect(entries()[0]!.err).toBeUndefined();
  }
});

it('still logs another 5xx as an error with its stack', async () => {
  const { logger, entries } = collectingLogger();
  const res = await request(createApp({ searcher: new Searcher(fixture.encoder, store), store: storeFailing('INDEX_CORRUPT'), logger })).get('/api/stats');
  expect(res.status, res.text).toBe(503);
  const errors = entries().filter((e) => e.level >= 50);
  expect(errors.length).toBeGreaterThanOrEqual(1);
  expect(errors.some((e) => JSON.stringify(e.err).includes('the graph file is damaged') && /"stack"/.test(JSON.stringify(e.err)))).toBe(true);
});
