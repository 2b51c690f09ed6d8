/**
 * A worker started before Redis is up waits for it, saying so (once, then once a minute), as it
 * waits out a Redis lost later; a wrong password still fails at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisWaitReport } from '../../src/cli/worker.js';
import { isRsclipError } from '../../src/errors.js';
import { startEmbedWorker, type EmbedWorker } from '../../src/queue/index.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { hasRedis, startRedis, type TestRedis } from './redis-server.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-worker-start-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("rsclip worker's lines while Redis is not up", () => {
  it('says where it waits and why at the first attempt, then once a minute with how long', () => {
    const report = new RedisWaitReport();
    const reason = 'connect ECONNREFUSED 127.0.0.1:6379';
    expect(report.line('127.0.0.1:6379', reason, 1000)).toBe(`waiting for Redis at 127.0.0.1:6379 (${reason}); trying again every 2s until it answers (Ctrl-C to quit)`);
    expect(report.line('127.0.0.1:6379', reason, 3000)).toBeUndefined();
    expect(report.line('127.0.0.1:6379', reason, 59_000)).toBeUndefined();
    expect(report.line('127.0.0.1:6379', reason, 61_000)).toBe(`still waiting for Redis at 127.0.0.1:6379 after 60s (${reason})`);
    expect(report.line('127.0.0.1:6379', reason, 63_000)).toBeUndefined();
  });
});

describe.skipIf(!hasRedis)('a worker started before Redis [needs redis-server]', () => {
  it('waits for Redis to come up, then starts', { timeout: 60_000 }, async () => {
    const port = 47615;
    const waits: string[] = [];
    let redis: TestRedis | undefined;
    let worker: EmbedWorker | undefined;
    try {
      const starting = startEmbedWorker({ url: `redis://127.0.0.1:${port}/0`, encoder: new FakeEncoder(), onWaitingForRedis: (where, reason) => waits.push(`${where} ${reason}`) });
      starting.catch(() => undefined);
      await expect.poll(() => waits.length, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
      expect(waits[0]).toBe(`127.0.0.1:${port} connect ECONNREFUSED 127.0.0.1:${port}`);
      redis = await startRedis(work, port);
      worker = await starting;
      expect(worker.id).toContain(':');
    } finally {
      await worker?.close();
      await redis?.stop();
    }
  });

  it('fails at once on a wrong password, without waiting', { timeout: 60_000 }, async () => {
    const redis = await startRedis(work, 47616, { password: 'right' });
    const waits: string[] = [];
    try {
      const url = redis.url.replace(':right@', ':wrong@');
      await expect(startEmbedWorker({ url, encoder: new FakeEncoder(), onWaitingForRedis: (where) => waits.push(where) })).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && /WRONGPASS|invalid username-password/.test((e as Error).message));
      expect(waits).toEqual([]);
    } finally {
      await redis.stop();
    }
  });
});
