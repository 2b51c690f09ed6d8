/**
 * Embedding on a queue against a real Redis (Debian's redis-server on a loopback port): a
 * coordinator and workers in this process give the catalog an index made without the queue
 * gives, and leaves no results in Redis; a worker refuses a job of another model, or of an archive
 * folder it cannot see (failed once, not retried, no file recorded as failed); a coordinator that
 * stops with jobs waiting takes them back; a Redis restarted empty: lost jobs sent again, and told
 * apart from connection trouble by the workers; a Redis that stays away, or stays connected but
 * silent: said on the progress line, then the run stops; a Redis that does not answer is a
 * one-line error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import type { EmbedUnit, IndexProgress } from '../../src/indexer/index.js';
import { connectRedis } from '../../src/queue/connection.js';
import { DEFAULT_QUEUE_NAME } from '../../src/queue/protocol.js';
import { mapPath, parsePathMapping, QueueEmbedder, startEmbedWorker, type EmbedWorker, type EmbedWorkerEvent } from '../../src/queue/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { PGLITE_BACKEND } from '../store/backends.js';
import { writeQueueArchive } from './archive.js';
import { dumpCatalog } from './catalog.js';
import { hasRedis, startRedis, type TestRedis } from './redis-server.js';

/** Slowed, so that jobs are still running when Redis goes. */
class SlowEncoder extends FakeEncoder {
  constructor(
    private readonly delayMs: number,
    /** Called as each embedding starts. */
    private readonly onEmbed?: () => void,
  ) {
    super();
  }

  override async embedPixels(images: Float32Array[]): Promise<Float32Array[]> {
    this.onEmbed?.();
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return super.embedPixels(images);
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-queue-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('--path-map', () => {
  it('maps the coordinator\'s paths under FROM to TO, whole folder names only', () => {
    const map = [parsePathMapping('/mnt/archive=/data/a')];
    expect(mapPath('/mnt/archive/x/y.png', map)).toBe('/data/a/x/y.png');
    expect(mapPath('/mnt/archive2/y.png', map)).toBe('/mnt/archive2/y.png');
    expect(() => parsePathMapping('/mnt/archive')).toThrow(/FROM=TO/);
  });
});

describe.skipIf(!hasRedis)('embedding on a queue [needs redis-server]', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis(work);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a coordinator and two workers make the catalog an index made without the queue makes', { timeout: 120_000 }, async () => {
    const archive = path.join(work, 'archive');
    writeQueueArchive(archive);
    const reference = await indexInto({ roots: [archive], index: path.join(work, 'reference'), model: new FakeEncoder(), batchSize: 4 });
    expect(reference).toMatchObject({ errors: 1, reused: 1, scenes: 1 });
    expect(reference.nodataWindows).toBeGreaterThan(0);
    const planes = (await dumpCatalog(path.join(work, 'reference'))).files['planes.tif']!;
    expect(planes).toMatchObject({ status: 'ok', plan: 'whole', stretch: { kind: 'passthrough' } });

    const workers: EmbedWorker[] = [];
    const events: EmbedWorkerEvent[] = [];
    for (let i = 0; i < 2; i++) workers.push(await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder(), lockSeconds: 5, onJob: (e) => events.push(e) }));
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 3 });
    const progress: IndexProgress[] = [];
    try {
      const summary = await indexInto({ roots: [archive], index: path.join(work, 'queued'), model: encoder, embedder, batchSize: 4, onProgress: (p) => progress.push(p) });
      const counts = ({ added, errors, reused, embedded, scenes, nodataWindows }: typeof summary) => ({ added, errors, reused, embedded, scenes, nodataWindows });
      expect(counts(summary)).toEqual(counts(reference));
      expect(summary.queue!.resent).toBe(0);
      expect(summary.queue!.workers.reduce((n, w) => n + w.items, 0)).toBe(reference.embedded);
      // the workers' model seconds are theirs: this process's encoder did not run
      expect(summary.timing.modelSeconds).toBeGreaterThan(0);
      expect(summary.timing.encoderBusyShare).toBeUndefined();
    } finally {
      await embedder.close();
      await Promise.all(workers.map((w) => w.close()));
    }
    // the coordinator decoded nothing; every window went through a worker
    expect(encoder.embeddedImages).toBe(0);
    expect(events.filter((e) => e.phase === 'done').reduce((n, e) => n + e.embedded, 0)).toBe(reference.embedded);
    expect(await dumpCatalog(path.join(work, 'queued'))).toEqual(await dumpCatalog(path.join(work, 'reference')));
    const last = progress.at(-1)!;
    expect(last.queue!.workers.reduce((n, w) => n + w.items, 0)).toBe(reference.embedded);
    expect(last.queue!.unreachableSeconds).toBeUndefined();
  });

  it('a worker takes two jobs at a time by default, so that one is read while the other is embedded', { timeout: 120_000 }, async () => {
    const archive = path.join(work, 'two-at-once');
    writeQueueArchive(archive, 12);
    const events: EmbedWorkerEvent[] = [];
    const worker = await startEmbedWorker({ url: redis.url, encoder: new SlowEncoder(150), onJob: (e) => events.push(e) });
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 4 });
    try {
      await indexInto({ roots: [archive], index: path.join(work, 'two-at-once-index'), model: encoder, embedder, batchSize: 2 });
    } finally {
      await embedder.close();
      await worker.close();
    }
    let running = 0;
    let mostRunning = 0;
    for (const { phase } of events) {
      if (phase === 'start') mostRunning = Math.max(mostRunning, ++running);
      if (phase === 'done') running--;
    }
    expect(mostRunning).toBe(2);
  });

  it('a run leaves no results in Redis: each job goes once its result is taken, and the event stream is bounded by the jobs in flight', { timeout: 120_000 }, async () => {
    const archive = path.join(work, 'many');
    writeQueueArchive(archive, 120);
    const worker = await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder() });
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 2 });
    const client = await connectRedis(redis.url);
    // a Queue of its own would set the stream's bound back to BullMQ's default
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: client, skipMetasUpdate: true });
    try {
      const summary = await indexInto({ roots: [archive], index: path.join(work, 'many-index'), model: encoder, embedder, batchSize: 1 });
      expect(summary.embedded).toBeGreaterThan(120);
      expect(await queue.getJobCounts('completed', 'waiting', 'active')).toEqual({ completed: 0, waiting: 0, active: 0 });
      // a job makes about four events: 120 jobs would leave about 500; the bound (256 for 2 in flight) is kept to within the stream's trimming step of 100
      expect(await client.xlen(`bull:${DEFAULT_QUEUE_NAME}:events`)).toBeLessThanOrEqual(356);
    } finally {
      await queue.close();
      client.disconnect();
      await embedder.close();
      await worker.close();
    }
  });

  it('a coordinator writing into a PostgreSQL index (the scaled-out set-up): the catalog equals the one indexing into PostgreSQL without the queue makes', { timeout: 180_000 }, async () => {
    const archive = path.join(work, 'to-postgres');
    writeQueueArchive(archive);
    await PGLITE_BACKEND.start!();
    const reference = PGLITE_BACKEND.newLocation();
    const queued = PGLITE_BACKEND.newLocation();
    const worker = await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder() });
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 3 });
    try {
      const made = await indexInto({ roots: [archive], index: reference.location, model: new FakeEncoder(), batchSize: 4 });
      const summary = await indexInto({ roots: [archive], index: queued.location, model: encoder, embedder, batchSize: 4 });
      expect(summary).toMatchObject({ added: made.added, embedded: made.embedded, errors: made.errors, scenes: 1 });
      expect(encoder.embeddedImages).toBe(0);
      expect(await dumpCatalog(queued.location)).toEqual(await dumpCatalog(reference.location));
    } finally {
      await embedder.close();
      await worker.close();
      await reference.dispose();
      await queued.dispose();
      await PGLITE_BACKEND.stop!();
    }
  });

  it('a Redis at its maxmemory refuses the jobs: the run stops saying so and what to raise', { timeout: 60_000 }, async () => {
    const full = await startRedis(work);
    const client = await connectRedis(full.url);
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: full.url, info: encoder.info, inFlight: 1 });
    try {
      // below what Redis already uses: every write is refused
      await client.config('SET', 'maxmemory', '100kb');
      const archive = path.join(work, 'redis-full');
      writeQueueArchive(archive, 2);
      const run = indexInto({ roots: [archive], index: path.join(work, 'redis-full-index'), model: encoder, embedder, batchSize: 2 });
      await expect(run).rejects.toSatisfy(
        (e) => isRsclipError(e, 'QUEUE_FAILED') && /^cannot send embedding job \S+ to Redis at 127\.0\.0\.1:\d+: OOM command not allowed/.test((e as Error).message) && /Redis is at its maxmemory: raise it/.test(e.hint ?? ''),
      );
    } finally {
      client.disconnect();
      await embedder.close();
      await full.stop();
    }
  });

  it('a worker refuses a job of another model: the coordinator stops with the reason, and the job is not retried', { timeout: 60_000 }, async () => {
    const archive = path.join(work, 'other-model');
    writeQueueArchive(archive, 2);
    const events: EmbedWorkerEvent[] = [];
    const worker = await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder({ fingerprint: 'e'.repeat(64) }), onJob: (e) => events.push(e) });
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 1 });
    try {
      const run = indexInto({ roots: [archive], index: path.join(work, 'other-model-index'), model: encoder, embedder, batchSize: 2 });
      await expect(run).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && /this worker runs fake-clip \(eeeeeeeeeeee\)/.test((e as Error).message));
    } finally {
      await embedder.close();
      await worker.close();
    }
    expect(events.map((e) => e.phase)).toEqual(['refused']);
  });

  it('a worker that cannot see the archive folder (a wrong --path-map) refuses its job: the run stops with the reason, and no file is recorded as failed', { timeout: 60_000 }, async () => {
    const archive = path.join(work, 'unseen');
    writeQueueArchive(archive, 2);
    const events: EmbedWorkerEvent[] = [];
    const elsewhere = path.join(work, 'not-mounted');
    const worker = await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder(), pathMap: [parsePathMapping(`${archive}=${elsewhere}`)], onJob: (e) => events.push(e) });
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 1 });
    const index = path.join(work, 'unseen-index');
    try {
      const run = indexInto({ roots: [archive], index, model: encoder, embedder, batchSize: 2 });
      const reason = `cannot see the archive folder ${elsewhere} \\(${archive} on the coordinator, mapped by --path-map\\): no such folder`;
      await expect(run).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && new RegExp(reason).test((e as Error).message));
    } finally {
      await embedder.close();
      await worker.close();
    }
    expect(events.map((e) => e.phase)).toEqual(['refused']);
    const catalog = await dumpCatalog(index);
    expect(Object.values(catalog.files).filter((f) => f.status === 'error')).toEqual([]);
  });

  it('a coordinator that stops with jobs unanswered takes back those still waiting, so no worker embeds or refuses them for nobody', { timeout: 60_000 }, async () => {
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 3 });
    const client = await connectRedis(redis.url);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: client, skipMetasUpdate: true });
    try {
      // no worker runs: the three jobs wait, as the rest of a run's jobs do when one of them failed
      for (const name of ['a.png', 'b.png', 'c.png']) {
        const unit = { kind: 'embed', key: '', read: { whole: true }, job: { work: { file: { root: work, path: name } }, row: { contentHash: 'a'.repeat(64), bytes: 1 } } } as unknown as EmbedUnit;
        embedder.embed([unit]).catch(() => undefined);
      }
      await expect.poll(() => queue.getWaitingCount(), { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(3);
      await embedder.close();
      expect(await queue.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 0, delayed: 0, active: 0 });
    } finally {
      await queue.close();
      client.disconnect();
    }
  });

  it('a Redis restarted without persistence in the middle of a run: the coordinator sends the lost jobs again, and the catalog equals an index made without the queue', { timeout: 180_000 }, async () => {
    const archive = path.join(work, 'restart');
    // 12 jobs of 2, at most 3 in flight: some start after the first commit
    writeQueueArchive(archive, 24);
    const reference = await indexInto({ roots: [archive], index: path.join(work, 'restart-reference'), model: new FakeEncoder(), batchSize: 2 });
    let restarting = await startRedis(work);
    let committed = false;
    let restart: Promise<void> | undefined;
    // after the first commit, as a worker starts a job: Redis goes and comes back empty while the
    // job is in the worker's hands (on the commit alone, the workers had sometimes finished theirs)
    const restartOnce = (): void => {
      if (committed && !restart) restart = restarting.stop().then(async () => void (restarting = await startRedis(work, restarting.port)));
    };
    const workers: EmbedWorker[] = [];
    const lost: string[] = [];
    const connectionErrors: Error[] = [];
    for (let i = 0; i < 2; i++) {
      workers.push(await startEmbedWorker({ url: restarting.url, encoder: new SlowEncoder(150, restartOnce), lockSeconds: 5, onLostJob: (_job, reason) => lost.push(reason), onError: (e) => connectionErrors.push(e) }));
    }
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: restarting.url, info: encoder.info, inFlight: 3, checkSeconds: 0.5 });
    const onProgress = (p: IndexProgress): void => {
      if (p.embedded > 0) committed = true;
    };
    try {
      const summary = await indexInto({ roots: [archive], index: path.join(work, 'restart-queued'), model: encoder, embedder, batchSize: 2, onProgress });
      await restart;
      expect({ added: summary.added, embedded: summary.embedded, errors: summary.errors }).toEqual({ added: reference.added, embedded: reference.embedded, errors: reference.errors });
      expect(summary.queue!.resent).toBeGreaterThan(0);
      // the jobs in the workers' hands when Redis went are told apart from the connection's trouble
      expect(lost.length).toBeGreaterThan(0);
      expect(lost.every((reason) => /^(Missing key|Missing lock|Lock mismatch) for job /.test(reason)), lost.join('\n')).toBe(true);
      expect(connectionErrors.every((e) => !/for job/.test(e.message)), connectionErrors.map((e) => e.message).join('\n')).toBe(true);
    } finally {
      await embedder.close();
      await Promise.all(workers.map((w) => w.close()));
      await restarting.stop();
    }
    expect(await dumpCatalog(path.join(work, 'restart-queued'))).toEqual(await dumpCatalog(path.join(work, 'restart-reference')));
  });

  /**
   * Indexes an archive through a queue whose Redis `goes` after the first commit (a 3 s timeout):
   * the run must stop with QUEUE_FAILED after the timeout, with what was committed kept. Returns
   * the seconds without Redis that progress reported meanwhile.
   */
  async function runWhileRedisGoes(name: string, goes: (redis: TestRedis) => void | Promise<void>): Promise<number[]> {
    const archive = path.join(work, name);
    writeQueueArchive(archive, 8);
    const redis = await startRedis(work);
    const worker = await startEmbedWorker({ url: redis.url, encoder: new SlowEncoder(150), lockSeconds: 5 });
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: redis.url, info: encoder.info, inFlight: 2, checkSeconds: 0.2, redisTimeoutSeconds: 3 });
    let going: Promise<void> | undefined;
    const away: number[] = [];
    const onProgress = (p: IndexProgress): void => {
      if (p.embedded > 0) going ??= Promise.resolve(goes(redis));
      // progress goes on without commits: it says how long Redis has been away
      if (p.queue?.unreachableSeconds !== undefined) away.push(p.queue.unreachableSeconds);
    };
    try {
      const run = indexInto({ roots: [archive], index: path.join(work, `${name}-index`), model: encoder, embedder, batchSize: 2, onProgress });
      await expect(run).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && new RegExp(`Redis at 127\\.0\\.0\\.1:${redis.port} has not answered for [3-6]s`).test((e as Error).message));
      await going;
    } finally {
      await embedder.close();
      // a stopped (frozen) Redis would hold the worker's close
      redis.thaw();
      await worker.close();
      await redis.stop();
    }
    expect((await dumpCatalog(path.join(work, `${name}-index`))).itemCount).toBeGreaterThan(0);
    return away;
  }

  it('a Redis that stays away fails the run after the timeout, with what was committed kept', { timeout: 120_000 }, async () => {
    const away = await runWhileRedisGoes('redis-gone', (redis) => redis.stop());
    expect(away.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...away)).toBeGreaterThanOrEqual(1);
  });

  it('a Redis that stops answering with its connections open (a network cut) counts as away: said on the progress line, and the run stops after the timeout', { timeout: 120_000 }, async () => {
    const away = await runWhileRedisGoes('redis-silent', (redis) => redis.freeze());
    expect(away.length).toBeGreaterThanOrEqual(1);
  });

  it('a Redis that stops answering while the only jobs in flight are on their way to it counts as away too', { timeout: 60_000 }, async () => {
    const archive = path.join(work, 'redis-silent-sending');
    writeQueueArchive(archive, 4);
    const silent = await startRedis(work);
    const encoder = new FakeEncoder();
    const embedder = await QueueEmbedder.open({ url: silent.url, info: encoder.info, inFlight: 2, checkSeconds: 0.2, redisTimeoutSeconds: 2 });
    // no job has reached Redis: the adds wait on its open connection, and no job state can be asked
    silent.freeze();
    try {
      const run = indexInto({ roots: [archive], index: path.join(work, 'redis-silent-sending-index'), model: encoder, embedder, batchSize: 2 });
      await expect(run).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && /has not answered for [2-5]s/.test((e as Error).message));
    } finally {
      await embedder.close();
      await silent.stop();
    }
  });

  it('a Redis that does not answer is a one-line error', { timeout: 30_000 }, async () => {
    const stopped = await startRedis(work);
    await stopped.stop();
    await expect(QueueEmbedder.open({ url: stopped.url, info: new FakeEncoder().info })).rejects.toSatisfy((e) => isRsclipError(e, 'QUEUE_FAILED') && /cannot reach Redis at 127\.0\.0\.1/.test((e as Error).message));
  });
});
