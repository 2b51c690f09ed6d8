/**
 * A server answering from a PostgreSQL index whose database goes away (a restart, a failover)
 * and comes back: meanwhile it answers 503 INDEX_UNAVAILABLE, /readyz included, without the
 * database's URL, and logs each refusal as one warning line with the reason (no error, no
 * stack); afterwards it answers as before, with no restart of its own. The same while it shuts
 * down or starts up, when it still accepts connections only to refuse them with a SQLSTATE.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Application } from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { copyIndex, openIndex, type IndexStore } from '../../src/store/index.js';
import { buildTestIndex } from '../search/fixture.js';
import { startPgliteServer, type PgliteServer } from '../store/pglite-server.js';

let root: string;
let server: PgliteServer;
let store: IndexStore;
let app: Application;
let log = '';

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-db-outage-'));
  const fixture = await buildTestIndex(root);
  server = await startPgliteServer(path.join(root, 'pgdata'));
  await copyIndex(fixture.indexDir, server.url);
  store = await openIndex(server.url, { readonly: true });
  const logOutput = new PassThrough().on('data', (chunk: Buffer) => (log += chunk.toString()));
  app = createApp({ searcher: new Searcher(fixture.encoder, store), store, logger: pino(logOutput), limits: { maxUploadBytes: 64 * 1024, maxJsonBytes: 128 * 1024 } });
}, 120_000);
afterAll(async () => {
  await store?.close();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

it('answers 503 INDEX_UNAVAILABLE while the database is away, and as before once it is back', async () => {
  const before = await request(app).get('/api/search?q=river&k=3');
  expect(before.status, before.text).toBe(200);
  const port = Number(new URL(server.url).port);

  await server.stop();
  for (const route of ['/api/search?q=river&k=3', '/readyz', '/api/stats']) {
    const away = await request(app).get(route);
    expect(away.status, `${route}: ${away.text}`).toBe(503);
    expect(away.body.error.code).toBe('INDEX_UNAVAILABLE');
    expect(away.body.error.message).toMatch(/^cannot use PostgreSQL at <index database>: /);
    expect(away.text).not.toContain(server.url);
  }
  expect((await request(app).get('/healthz')).status).toBe(200);
  const entries = log.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; err?: unknown });
  const refusals = entries.filter((entry) => entry.msg.startsWith('request refused for now: cannot use PostgreSQL at '));
  expect(refusals.length).toBeGreaterThanOrEqual(3);
  expect(refusals.every((entry) => entry.level === 40 && entry.err === undefined)).toBe(true);
  expect(entries.filter((entry) => entry.level >= 50)).toEqual([]);

  server = await startPgliteServer(path.join(root, 'pgdata'), port);
  const after = await request(app).get('/api/search?q=river&k=3');
  expect(after.status, after.text).toBe(200);
  expect(after.body.hits).toEqual(before.body.hits);
  expect((await request(app).get('/readyz')).status).toBe(200);
}, 120_000);

/** PostgreSQL's ErrorResponse message: FATAL, with this SQLSTATE and message. */
function fatalError(sqlstate: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlstate}\0M${message}\0\0`);
  const header = Buffer.alloc(5);
  header.write('E');
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

/** A server on `port` that refuses every connection's startup as a PostgreSQL server does while it shuts down (or starts up). */
async function refusingServer(port: number, sqlstate: string, message: string): Promise<{ stop(): Promise<void> }> {
  const server = createServer((socket) => socket.once('data', () => socket.end(fatalError(sqlstate, message))).on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

it.each([
  ['57P03', 'the database system is shutting down'],
  ['57P03', 'the database system is starting up'],
  ['57P02', 'terminating connection because of crash of another server process'],
])('answers 503 INDEX_UNAVAILABLE, logged as one warning line, while the database refuses connections with %s (%s)', async (sqlstate, message) => {
  const port = Number(new URL(server.url).port);
  await server.stop();
  const refusing = await refusingServer(port, sqlstate, message);
  log = '';
  try {
    for (const route of ['/api/search?q=river&k=3', '/readyz', '/api/stats']) {
      const away = await request(app).get(route);
      expect(away.status, `${route}: ${away.text}`).toBe(503);
      expect(away.body.error.code).toBe('INDEX_UNAVAILABLE');
      expect(away.body.error.message).toContain(message);
    }
    const entries = log.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(entries.filter((entry) => entry.level >= 50)).toEqual([]);
    expect(entries.filter((entry) => entry.msg.startsWith('request refused for now: ')).length).toBeGreaterThanOrEqual(3);
  } finally {
    await refusing.stop();
    server = await startPgliteServer(path.join(root, 'pgdata'), port);
  }
  expect((await request(app).get('/api/search?q=river&k=3')).status).toBe(200);
}, 120_000);
