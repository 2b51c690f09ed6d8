/**
 * A coordinator stopped (its first Ctrl-C or SIGTERM) takes back the jobs no worker has taken and
 * waits only for the ones a worker is running, whose results it commits.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { connectRedis } from '../../src/queue/connection.js';
import { DEFAULT_QUEUE_NAME } from '../../src/queue/protocol.js';
import { QueueEmbedder, startEmbedWorker } from '../../src/queue/index.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { dumpCatalog } from './catalog.js';
import { hasRedis, startRedis, type TestRedis } from './redis-server.js';

/** Holds each embedding until released, so that a job stays active while the run is stopped. */
class HeldEncoder extends FakeEncoder {
  started = 0;
  private release: (() => void) | undefined;
  private readonly released = new Promise<void>((resolve) => (this.release = resolve));

  override async embedPixels(images: Float32Array[]): Promise<Float32Array[]> {
    this.started++;
    await this.released;
    return super.embedPixels(images);
  }

  go(): void {
    this.release!();
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-queue-stop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!hasRedis)('a coordinator stopped [needs redis-server]', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis(work, 47614);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('takes back the jobs no worker has taken at once, waits for the one a worker runs and commits it', { timeout: 60_000 }, async () => {
    const archive = path.join(work, 'archive');
    mkdirSync(archive);
    for (let i = 0; i < 4; i++) writeFileSync(path.join(archive, `p${i}.png`), makePng(300 + i));
    const encoder = new FakeEncoder();
    const held = new HeldEncoder();
    const worker = await startEmbedWorker({ url: redis.url, encoder: held, concurrency: 1 });
    const client = await connectRedis(redis.url);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: client, skipMetasUpdate: true });
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 4 });
    const stop = new AbortController();
    const index = path.join(work, 'index');
    try {
      const run = indexInto({ roots: [archive], index, model: encoder, embedder, batchSize: 1, signal: stop.signal });
      // one job on the worker, three waiting
      await expect.poll(async () => held.started === 1 && (await queue.getWaitingCount()) === 3, { timeout: 10_000, interval: 50 }).toBe(true);
      stop.abort();
      await embedder.withdrawWaiting();
      expect(await queue.getWaitingCount()).toBe(0);
      // the worker's job is still waited for
      held.go();
      const summary = await run;
      expect(summary).toMatchObject({ interrupted: true, added: 1, errors: 0 });
      expect((await dumpCatalog(index)).itemCount).toBe(1);
    } finally {
      held.go();
      await embedder.close();
      await worker.close();
      await queue.close();
      client.disconnect();
    }
  });
});

describe.skipIf(!hasRedis)('--queue-timeout [needs redis-server]', () => {
  it('counts from the moment the connection is lost and stops the run when it runs out, not at a later check of the jobs', { timeout: 60_000 }, async () => {
    const own = await startRedis(work, 47618);
    const archive = path.join(work, 'timeout-archive');
    mkdirSync(archive);
    for (let i = 0; i < 2; i++) writeFileSync(path.join(archive, `p${i}.png`), makePng(400 + i));
    const encoder = new FakeEncoder();
    // checks far apart: only the timeout itself can end the wait
    const embedder = await QueueEmbedder.open({ url: own.url, info: encoder.info, inFlight: 2, checkSeconds: 3600, redisTimeoutSeconds: 1 });
    const client = await connectRedis(own.url);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: client, skipMetasUpdate: true });
    try {
      const run = indexInto({ roots: [archive], index: path.join(work, 'timeout-index'), model: encoder, embedder, batchSize: 1 });
      run.catch(() => undefined);
      // no worker: the jobs wait until Redis goes
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000, interval: 50 }).toBe(2);
      await queue.close();
      client.disconnect();
      await own.stop();
      await expect(run).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && /has not answered for \d+s/.test((e as Error).message));
    } finally {
      await embedder.close();
      await own.stop();
    }
  });
});
