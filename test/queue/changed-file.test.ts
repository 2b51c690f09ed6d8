/**
 * A file replaced after the coordinator hashed it and before a worker read it: its vector must not
 * be stored under the hash of the content it had, which reuse by content hash would hand on to
 * every later copy of that content. The worker checks what it read against the job's identity
 * (size and sha256), and the coordinator checks the file's size and times at commit, as the local
 * indexer does for the files it reads twice.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/queue/connection.js';
import { DEFAULT_QUEUE_NAME } from '../../src/queue/protocol.js';
import { QueueEmbedder, startEmbedWorker } from '../../src/queue/index.js';
import { CHANGED_FILE_ERROR, readFileWindows } from '../../src/queue/read-windows.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { dumpCatalog } from './catalog.js';
import { hasRedis, startRedis, type TestRedis } from './redis-server.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-queue-changed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a worker reading a file', () => {
  it('returns an error, not vectors, for a file whose size or content is not the one the coordinator hashed (a worker on another mount included)', async () => {
    const file = path.join(work, 'one.png');
    writeFileSync(file, makePng(7));
    const encoder = new FakeEncoder();
    const reads = [{ key: '', read: { whole: true as const } }];
    const { createHash } = await import('node:crypto');
    const bytes = makePng(7);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const same = await readFileWindows(file, reads, encoder, 1, { bytes: bytes.length, sha256 });
    expect(same[0]).toHaveProperty('pixels');
    // same size, other content: what a replacement by an image of the same size, or another copy behind a --path-map, gives
    const otherContent = await readFileWindows(file, reads, encoder, 1, { bytes: bytes.length, sha256: 'f'.repeat(64) });
    expect(otherContent).toEqual([{ key: '', error: expect.stringContaining(CHANGED_FILE_ERROR) as string }]);
    const otherSize = await readFileWindows(file, reads, encoder, 1, { bytes: bytes.length + 1, sha256 });
    expect(otherSize).toEqual([{ key: '', error: expect.stringContaining(CHANGED_FILE_ERROR) as string }]);
  });
});

describe.skipIf(!hasRedis)('a file replaced between enqueue and embed [needs redis-server]', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis(work, 47611);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('is recorded as changed, not stored under its old hash: a later copy of its original content gets the original\'s vector', { timeout: 120_000 }, async () => {
    const archive = path.join(work, 'archive');
    mkdirSync(archive);
    for (let i = 0; i < 4; i++) writeFileSync(path.join(archive, `p${i}.png`), makePng(100 + i));
    const originals = path.join(work, 'originals');
    mkdirSync(originals);
    copyFileSync(path.join(archive, 'p1.png'), path.join(originals, 'p1.png'));
    const encoder = new FakeEncoder();
    const index = path.join(work, 'index');
    const client = await connectRedis(redis.url);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: client, skipMetasUpdate: true });
    const workers = [];
    try {
      // no worker yet: the jobs wait, hashed and described by the coordinator
      const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 4 });
      const run = indexInto({ roots: [archive], index, model: encoder, embedder, batchSize: 1 }).finally(() => embedder.close());
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000, interval: 50 }).toBe(4);
      // replaced by another image of the same size
      writeFileSync(path.join(archive, 'p1.png'), makePng(999));
      workers.push(await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder() }));
      const first = await run;
      expect(first).toMatchObject({ added: 3, errors: 1 });

      // the original content comes back as a copy: it must not reuse a vector of the replacement
      copyFileSync(path.join(originals, 'p1.png'), path.join(archive, 'zz-original-p1.png'));
      const again = await QueueEmbedder.open({ url: redis.url, info: encoder.info });
      const second = await indexInto({ roots: [archive], index, model: encoder, embedder: again, batchSize: 1 }).finally(() => again.close());
      expect(second).toMatchObject({ reused: 0, errors: 0 });
      const catalog = await dumpCatalog(index);
      const reference = path.join(work, 'reference');
      await indexInto({ roots: [archive], index: reference, model: new FakeEncoder(), batchSize: 1 });
      const expected = await dumpCatalog(reference);
      expect(catalog.items['zz-original-p1.png#whole']!.vector).toEqual(expected.items['zz-original-p1.png#whole']!.vector);
      expect(catalog.items['p1.png#whole']!.vector).toEqual(expected.items['p1.png#whole']!.vector);
      expect(catalog.items['p1.png#whole']!.vector).not.toEqual(expected.items['zz-original-p1.png#whole']!.vector);
    } finally {
      for (const w of workers) await w.close();
      await queue.close();
      client.disconnect();
    }
  });
});
