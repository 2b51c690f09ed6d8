/**
 * Logs a person can read and that keep secrets (issue 10, items 13 and 23): one entry per
 * request with method, URL, status and time; no headers (the token travels in them), no value of
 * `?token=` or of any other parameter named as a credential, no user part of a URL; thumbnails left out unless verbose; one readable line per entry on a terminal.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Application } from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp, type Thumbnailer } from '../../src/server/index.js';
import { createServerLogger, formatLogLine } from '../../src/server/log-output.js';
import type { IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

const TOKEN = 'tok-7f3a9c21d4e5';
let root: string;
let fixture: TestIndex;
let store: IndexStore;

/** Collects what a logger writes. */
class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  get lines(): string[] {
    return this.text.split('\n').filter((l) => l.length > 0);
  }
}

const failingThumbnailer: Thumbnailer = async () => {
  throw new Error('renderer crashed');
};
const tinyThumbnailer: Thumbnailer = async () => ({ data: Buffer.from('webp'), contentType: 'image/webp' });

function appWithLog(options: { verbose?: boolean; format?: 'json' | 'pretty'; thumbnailer?: Thumbnailer } = {}): { app: Application; out: Collect } {
  const out = new Collect();
  const logger = options.format ? createServerLogger(options.format, out) : pino(out);
  const app = createApp({ searcher: new Searcher(fixture.encoder, store), store, logger, token: TOKEN, verboseLogs: options.verbose === true, thumbnailer: options.thumbnailer ?? tinyThumbnailer });
  return { app, out };
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-request-log-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe('request logs', () => {
  it('never contain the token, from the Authorization header or from ?token=, even for a failed request', async () => {
    const { app, out } = appWithLog({ verbose: true, thumbnailer: failingThumbnailer });
    await request(app).get('/api/search').query({ q: 'river' }).set('Authorization', `Bearer ${TOKEN}`).set('Cookie', `session=${TOKEN}`);
    await request(app).get(`/api/search?q=river&token=${TOKEN}&k=2`);
    await request(app).get('/api/search?q=river').set('Authorization', 'Bearer wrong-guess-123');
    // the query parser decodes names: these are the token to the server, and so to the log
    expect((await request(app).get(`/api/stats?tok%65n=${TOKEN}`)).status).toBe(200);
    await request(app).get(`/api/search?q=river&%74oken=${TOKEN}&token[]=${TOKEN}&token%5B%5D=${TOKEN}`);
    // `;` separates nothing for the server (it refuses this token) but must not show it either
    expect((await request(app).get(`/api/stats?x=1;token=${TOKEN}`)).status).toBe(401);
    const failed = await request(app).get(`/api/images/${fixture.ids.get('green/park.png')}/thumbnail?token=${TOKEN}`);
    expect(failed.status).toBe(500);
    expect(out.lines.length).toBeGreaterThanOrEqual(4);
    expect(out.text).not.toContain(TOKEN);
    expect(out.text).not.toContain('wrong-guess-123');
    expect(out.text).not.toMatch(/authorization|cookie/i);
    expect(out.text).toContain('token=[redacted]');
  });

  it('never contain a credential given as any query parameter named as one, after & or ;, nor the user part of a URL', async () => {
    const { app, out } = appWithLog();
    const secrets = ['hunter2', 'p4ssw0rd', 'sk-live-51', 'AKIAEXAMPLE', 'deadbeefsig', 'c0ffee', 'eyJhbGc', 'S3cr%40t'];
    await request(app).get('/api/search?q=river;password=hunter2').set('Authorization', `Bearer ${TOKEN}`);
    await request(app).get('/api/search?q=river&password=hunter2&Passwd=hunter2&pwd=hunter2').set('Authorization', `Bearer ${TOKEN}`);
    await request(app).get('/api/search?q=river&apikey=sk-live-51&api_key=sk-live-51&Api-Key=sk-live-51&key=sk-live-51').set('Authorization', `Bearer ${TOKEN}`);
    await request(app).get('/api/search?q=river&client_secret=AKIAEXAMPLE&X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=deadbeefsig&sig=deadbeefsig').set('Authorization', `Bearer ${TOKEN}`);
    await request(app).get('/api/search?q=river&auth=c0ffee&session_id=c0ffee&next=http%3A%2F%2Fx&url=http://bob:p4ssw0rd@example.org/').set('Authorization', `Bearer ${TOKEN}`);
    // a URL percent-encoded in a value (as curl --data-urlencode and browsers send it), a JWT, a bearer token, a one-time password
    await request(app).get('/api/search?q=http%3A%2F%2Fbob%3AS3cr%40t%40example.org%2Fa.jpg&jwt=eyJhbGc&bearer=eyJhbGc&otp=c0ffee').set('Authorization', `Bearer ${TOKEN}`);
    // an absolute-form request target (RFC 9112 3.2.2) with a user part, which supertest cannot send
    const server = app.listen(0, '127.0.0.1');
    try {
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const answered = new Promise<void>((resolve) => {
        const client = httpRequest({ host: '127.0.0.1', port, path: `http://bob:p4ssw0rd@127.0.0.1:${port}/api/search?q=x`, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => res.resume().on('end', resolve));
        client.end();
      });
      await answered;
    } finally {
      server.close();
    }
    await vi.waitFor(() => expect(out.lines).toHaveLength(7));
    for (const secret of secrets) expect(out.text).not.toContain(secret);
    expect(out.text).not.toContain('bob');
    expect(out.text).toContain('/api/search?q=river;password=[redacted] ');
    expect(out.text).toContain('url=http://[redacted]@example.org/');
    expect(out.text).toContain('?q=http%3A%2F%2F[redacted]%40example.org%2Fa.jpg&jwt=[redacted]&bearer=[redacted]&otp=[redacted]');
    expect(out.text).toContain('GET http://[redacted]@127.0.0.1:');
    // what names no credential is kept
    expect(out.text).toContain('?q=river&apikey=[redacted]');
    expect(out.text).toContain('&next=http%3A%2F%2Fx&');
  });

  it('give one short entry per request, and leave thumbnails out unless verbose', async () => {
    const { app, out } = appWithLog();
    const thumbnail = `/api/images/${fixture.ids.get('green/park.png')}/thumbnail?token=${TOKEN}`;
    await request(app).get(`/api/search?q=forest&token=${TOKEN}`);
    await request(app).get(thumbnail);
    await request(app).get('/healthz');
    expect(out.lines).toHaveLength(2);
    const entry = JSON.parse(out.lines[0]!) as { msg: string; req: Record<string, unknown>; res: Record<string, unknown> };
    expect(entry.msg).toMatch(/^GET \/api\/search\?q=forest&token=\[redacted\] 200 \d+ ms$/);
    expect(Object.keys(entry.req).sort()).toEqual(['id', 'method', 'remoteAddress', 'url']);
    expect(entry.res).toEqual({ statusCode: 200 });
    expect(out.lines[0]!.length).toBeLessThan(400);

    const verbose = appWithLog({ verbose: true });
    await request(verbose.app).get(thumbnail);
    expect(verbose.out.text).toMatch(/GET \/api\/images\/\d+\/thumbnail\?token=\[redacted\] 200/);
  });

  it('say that a request was aborted by its client rather than give it a status it never had', async () => {
    const slowThumbnailer: Thumbnailer = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return { data: Buffer.from('webp'), contentType: 'image/webp' };
    };
    const { app, out } = appWithLog({ verbose: true, thumbnailer: slowThumbnailer });
    const server = app.listen(0, '127.0.0.1');
    try {
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const client = httpRequest({ host: '127.0.0.1', port, path: `/api/images/${fixture.ids.get('green/park.png')}/thumbnail`, headers: { Authorization: `Bearer ${TOKEN}` } });
      client.on('error', () => {});
      client.end();
      await new Promise((resolve) => setTimeout(resolve, 200));
      client.destroy();
      await vi.waitFor(() => expect(out.lines).toHaveLength(1));
      const entry = JSON.parse(out.lines[0]!);
      expect(entry.msg).toMatch(/^GET \/api\/images\/\d+\/thumbnail aborted by the client after \d+ ms$/);
      expect(entry.res).toEqual({ aborted: true });
    } finally {
      server.close();
    }
  });

  it('read as one line per request on a terminal', async () => {
    const { app, out } = appWithLog({ format: 'pretty' });
    await request(app).get('/healthz');
    await request(app).get('/api/search?q=river');
    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d GET \/healthz 200 \d+ ms$/);
    expect(out.lines[1]).toMatch(/^\d\d:\d\d:\d\d GET \/api\/search\?q=river 401 \d+ ms$/);
    expect(formatLogLine({ level: 50, time: Date.UTC(2026, 0, 1), msg: 'request failed', err: { message: 'renderer crashed' } })).toMatch(/^\d\d:\d\d:\d\d error request failed: renderer crashed\n$/);
  });
});
