/**
 * Transient answers of the Hub (429, 500, 502, 503, 504) are tried again with a backoff, or after
 * the wait the server's Retry-After asks for (up to a minute), as huggingface_hub's http_backoff
 * does; any other 4xx fails at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, REQUEST_ATTEMPTS, retryWaitMs } from '../../../src/model/hub/hub-client.js';
import { fetchModel } from '../../../src/model/hub/index.js';
import { startHubServer, type HubServer } from '../../fixtures/hub-server.js';
import { buildTinyHubRepos } from './hub-repos.js';

describe('retryWaitMs', () => {
  it('doubles from one second up to eight, and follows Retry-After in seconds or as a date, up to a minute', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => retryWaitMs(null, attempt))).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(retryWaitMs('3', 1)).toBe(3000);
    expect(retryWaitMs('0', 4)).toBe(0);
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(retryWaitMs('Mon, 07 Dec 2026 10:00:05 GMT', 1, 1000, now)).toBe(5000);
    expect(retryWaitMs('Mon, 07 Dec 2026 09:59:00 GMT', 1, 1000, now)).toBe(0);
    expect(retryWaitMs(String(MAX_RETRY_AFTER_MS / 1000 + 1), 1)).toBeUndefined();
    expect(retryWaitMs('soon', 2)).toBe(2000);
  });
});

describe('fetchModel against a Hub answering transient errors', () => {
  let hub: HubServer;
  let work: string;
  let onnxFiles: Record<string, Uint8Array>;
  let cacheCount = 0;
  const fetchFrom = (repoId: string): ReturnType<typeof fetchModel> => fetchModel({ repoId, endpoint: hub.endpoint, cacheDir: path.join(work, `cache-${++cacheCount}`), token: '' });
  const downloadsOf = (repoId: string, file: string): number => hub.requests.filter((r) => r.path.includes(repoId) && r.path.endsWith(`/${file}`)).length;

  beforeAll(async () => {
    hub = await startHubServer();
    work = await mkdtemp(path.join(tmpdir(), 'rsclip-hub-retry-'));
    ({ onnxFiles } = await buildTinyHubRepos(work));
  });
  afterAll(async () => {
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  it('tries a download answered 503 again after the backoff, and 429 after its Retry-After, and succeeds', async () => {
    const repoId = 'tests/retry-503';
    hub.addRepo({ id: repoId, files: onnxFiles });
    hub.failNext(repoId, 'onnx/text_model.onnx', 503, 2);
    hub.failNext(repoId, 'config.json', 429, 1, { 'retry-after': '0' });
    await expect(fetchFrom(repoId)).resolves.toMatchObject({ fromCache: false });
    expect(downloadsOf(repoId, 'onnx/text_model.onnx')).toBe(3);
    expect(downloadsOf(repoId, 'config.json')).toBe(2);
  });

  it(`gives up on a 500 after ${REQUEST_ATTEMPTS} attempts, naming the status and the attempts`, async () => {
    const repoId = 'tests/retry-500';
    hub.addRepo({ id: repoId, files: onnxFiles });
    hub.failNext(repoId, 'onnx/vision_model.onnx', 500, 99, { 'retry-after': '0' });
    await expect(fetchFrom(repoId)).rejects.toMatchObject({
      code: 'MODEL_FETCH_FAILED',
      message: expect.stringMatching(new RegExp(`HTTP 500 .*onnx/vision_model\\.onnx.*\\(tried ${REQUEST_ATTEMPTS} times\\)`)),
    });
    expect(downloadsOf(repoId, 'onnx/vision_model.onnx')).toBe(REQUEST_ATTEMPTS);
  });

  it('stops at once on a 429 whose Retry-After asks for more than a minute, and on a 403', async () => {
    const repoId = 'tests/retry-long-wait';
    hub.addRepo({ id: repoId, files: onnxFiles });
    hub.failNext(repoId, 'config.json', 429, 99, { 'retry-after': '3600' });
    await expect(fetchFrom(repoId)).rejects.toMatchObject({ message: expect.stringMatching(/HTTP 429.*, asking to wait 3600 s \(Retry-After\)/), hint: expect.stringContaining('after that wait') });
    expect(downloadsOf(repoId, 'config.json')).toBe(1);

    const denied = 'tests/retry-403';
    hub.addRepo({ id: denied, files: onnxFiles });
    hub.failNext(denied, 'config.json', 403, 99);
    await expect(fetchFrom(denied)).rejects.toMatchObject({ message: expect.stringContaining('HTTP 403') });
    expect(downloadsOf(denied, 'config.json')).toBe(1);
  });
});
