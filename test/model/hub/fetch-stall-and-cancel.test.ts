/**
 * Downloads that go wrong without an error: a server that stops sending (a stall), a listing
 * that names more bytes than the file has, and Ctrl-C while a transfer hangs. A small Hub of
 * the test's own serves them, since the shared stand-in always answers in full.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel } from '../../../src/model/hub/index.js';
import { spawnCli } from '../../fixtures/cli.js';

const COMMIT = 'c'.repeat(40);
const FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx'];

/** How the small Hub serves config.json, the first file a fetch downloads. */
type ConfigServing = 'stall' | 'shorter-than-listed';

describe('downloads that stall, lists that lie, and Ctrl-C', () => {
  const servers: ReturnType<typeof createServer>[] = [];
  const hanging: ServerResponse[] = [];
  let work: string;

  async function smallHub(serving: ConfigServing): Promise<string> {
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url.includes('/revision/')) return res.end(JSON.stringify({ sha: COMMIT }));
      if (url.includes('/tree/')) return res.end(JSON.stringify(FILES.map((p) => ({ type: 'file', path: p, size: 100 }))));
      if (url.endsWith('/config.json') && serving === 'stall') {
        res.writeHead(200, { 'content-length': '100' });
        res.write(Buffer.alloc(10, 32));
        hanging.push(res);
        return;
      }
      return res.end(Buffer.alloc(50, 32));
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'rsclip-stall-'));
  });
  afterAll(async () => {
    for (const res of hanging) res.destroy();
    for (const server of servers) server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('breaks off a download that receives nothing for the stall timeout, resuming it as a dropped one', async () => {
    const endpoint = await smallHub('stall');
    const failure = await fetchModel({ repoId: 'tests/stall', endpoint, token: '', cacheDir: path.join(work, 'cache-stall'), stallTimeoutMs: 200, retries: 1 }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'MODEL_FETCH_FAILED', message: expect.stringContaining('no data received for 0.2 s') });
    // the second attempt resumed from the 10 bytes the first one wrote
    expect((failure as Error).message).toContain('after 10 of 100 bytes');
  });

  it('says a file served shorter than its listing cannot be fetched by running again', async () => {
    const endpoint = await smallHub('shorter-than-listed');
    const failure = await fetchModel({ repoId: 'tests/short', endpoint, token: '', cacheDir: path.join(work, 'cache-short') }).catch((e: unknown) => e);
    expect(failure).toMatchObject({
      code: 'MODEL_FETCH_FAILED',
      message: expect.stringContaining('config.json is listed as 100 bytes but served as 50 bytes'),
      hint: expect.not.stringContaining('resume'),
    });
  });

  it('stops `rsclip model fetch` on Ctrl-C and exits 130', async () => {
    const endpoint = await smallHub('stall');
    const child = spawnCli(['model', 'fetch', 'tests/cancel'], { env: { HF_ENDPOINT: endpoint, HF_TOKEN: '', RSCLIP_CACHE_DIR: path.join(work, 'cache-cancel') } });
    let stderr = '';
    const downloading = new Promise<void>((resolve) =>
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('downloading config.json')) resolve();
      }),
    );
    const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    await downloading;
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/^rsclip: (model fetch|download of config\.json) cancelled/m);
    expect(stderr).not.toContain('ready');
  });
});
