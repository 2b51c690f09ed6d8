import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followServe, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';

let root: string;
let indexDir: string;
let modelDir: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-cli-serve-'));
  const archive = path.join(root, 'archive');
  indexDir = path.join(root, 'index');
  mkdirSync(archive, { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(path.join(archive, `tile-${i}.png`), makePng(200 + i, 40, 40));
  modelDir = await tinyModelDir();
  await indexInto({ roots: [archive], index: indexDir, model: modelDir, threads: 1 });
}, 180_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The status of GET /api/stats from the server at `url`, its Host header `host`. */
async function statusAddressedTo(url: string, host: string): Promise<number | undefined> {
  const req = httpRequest(new URL('api/stats', url), { headers: { Host: host } }).end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.resume();
  return res.statusCode;
}

describe('rsclip serve', () => {
  it('listens on loopback, logs its URL, becomes ready, answers (for the names --allowed-host adds too), and exits cleanly on SIGTERM', async () => {
    const child = spawnCli(['serve', '--index', indexDir, '--model', modelDir, '--port', '0', '--threads', '1', '--allowed-host', 'search.lab']);
    const { url: listening, stderr } = followServe(child);
    const url = await listening;
    await expect.poll(async () => (await fetch(`${url}readyz`)).status, { timeout: 30_000, interval: 200 }).toBe(200);
    const res = await fetch(`${url}api/search?q=tiles&k=2`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { hits: unknown[] }).hits).toHaveLength(2);
    expect(await statusAddressedTo(url, 'search.lab:8080')).toBe(200);
    expect(await statusAddressedTo(url, 'rebound.example')).toBe(403);
    // once ready, the image tower is opened and run, so that the first image query need not wait for it
    await expect.poll(() => stderr(), { timeout: 30_000, interval: 100 }).toMatch(/"msg":"image tower warmed up"/);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toMatch(/shutting down/);
  });

  it('leaves the image tower to the first image query with --no-image-warm-up', async () => {
    const child = spawnCli(['serve', '--index', indexDir, '--model', modelDir, '--port', '0', '--threads', '1', '--no-image-warm-up']);
    const { url: listening, stderr } = followServe(child);
    const url = await listening;
    await expect.poll(async () => (await fetch(`${url}readyz`)).status, { timeout: 30_000, interval: 200 }).toBe(200);
    expect((await fetch(`${url}api/search?q=tiles&k=2`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr()).toMatch(/"msg":"model warmed up: ready"/);
    expect(stderr()).not.toMatch(/image tower/);
  });

  it('writes one readable line per request with --log-format pretty, thumbnails only with --verbose, and no token', async () => {
    const serve = (extra: string[]) => {
      const child = spawnCli(['serve', '--index', indexDir, '--model', modelDir, '--port', '0', '--threads', '1', '--token', 'tok-secret-42', '--log-format', 'pretty', ...extra]);
      const { url, stderr } = followServe(child, /^\d\d:\d\d:\d\d rsclip serving on (http:\/\/127\.0\.0\.1:\d+\/)$/m);
      const stop = async (): Promise<string> => {
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
        return stderr();
      };
      return { url, stop };
    };
    for (const verbose of [false, true]) {
      const server = serve(verbose ? ['--verbose'] : []);
      const url = await server.url;
      const auth = { headers: { Authorization: 'Bearer tok-secret-42' } };
      await expect.poll(async () => (await fetch(`${url}readyz`, auth)).status, { timeout: 30_000, interval: 200 }).toBe(200);
      expect((await fetch(`${url}api/search?q=tiles&k=2&token=tok-secret-42`)).status).toBe(200);
      expect((await fetch(`${url}api/images/1/thumbnail`, auth)).status).toBe(200);
      const log = await server.stop();
      expect(log).toMatch(/^\d\d:\d\d:\d\d GET \/api\/search\?q=tiles&k=2&token=\[redacted\] 200 \d+ ms$/m);
      expect(log).not.toContain('tok-secret-42');
      expect(log).not.toMatch(/^\{/m);
      if (verbose) expect(log).toMatch(/^\d\d:\d\d:\d\d GET \/api\/images\/1\/thumbnail 200 \d+ ms$/m);
      else expect(log).not.toContain('thumbnail');
    }
  });
});
