/**
 * A Redis at its maxmemory as a coordinator starts: the one-line error says what to
 * raise, that what is committed is kept, and to run again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { connectRedis } from '../../src/queue/connection.js';
import { QueueEmbedder } from '../../src/queue/index.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { hasRedis, startRedis } from './redis-server.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-redis-full-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!hasRedis)('a Redis at its maxmemory [needs redis-server]', () => {
  it('refuses a coordinator as it starts, with a hint that says what to raise and that the run resumes', { timeout: 60_000 }, async () => {
    const full = await startRedis(work, 47617);
    const client = await connectRedis(full.url);
    try {
      // below what Redis already uses: every write is refused
      await client.config('SET', 'maxmemory', '100kb');
      const hinted = (e: unknown): boolean => isRsclipError(e, 'QUEUE_FAILED') && /^cannot use the queue on Redis: OOM command not allowed/.test((e as Error).message) && /raise it .*maxmemory-policy noeviction.*What is committed is kept: run the same command again/.test(e.hint ?? '');
      await expect(QueueEmbedder.open({ url: full.url, info: new FakeEncoder().info })).rejects.toSatisfy(hinted);
    } finally {
      client.disconnect();
      await full.stop();
    }
  });
});
