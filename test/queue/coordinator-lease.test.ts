/**
 * One coordinator per queue, against a real Redis: a live coordinator holds a lease on its queue
 * (src/queue/coordinator-lease.ts). A second coordinator on the queue is refused at once, naming
 * the first, and drains none of its jobs (in this process, in another, and `rsclip index --queue`);
 * a coordinator killed with SIGKILL is taken over at once by a restart on this host, as is a lease
 * of a reused pid; the lease is released on a clean exit; another machine's lease is waited out
 * (said on one line) when nobody renews it, and refused as soon as it is renewed; a holder whose
 * lease another coordinator took stops its run and leaves the queue alone; a lease Redis lost is
 * set again at the next renewal. Workers take no lease.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError, type RsclipError } from '../../src/errors.js';
import { connectRedis } from '../../src/queue/connection.js';
import { coordinatorLeaseKey, type LeaseHolder } from '../../src/queue/coordinator-lease.js';
import { QueueEmbedder, startEmbedWorker, type EmbedWorkerEvent } from '../../src/queue/index.js';
import { DEFAULT_QUEUE_NAME } from '../../src/queue/protocol.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { writeQueueArchive } from './archive.js';
import { exited, startChild, until } from './children.js';
import { hasRedis, startRedis, type TestRedis } from './redis-server.js';

const COORDINATOR = path.join(import.meta.dirname, 'coordinator.child.ts');
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-queue-lease-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Slowed, so that a run still has jobs waiting when a second coordinator comes. */
class SlowEncoder extends FakeEncoder {
  constructor(private readonly delayMs: number) {
    super();
  }

  override async embedPixels(images: Float32Array[]): Promise<Float32Array[]> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return super.embedPixels(images);
  }
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What open() threw (fails the test if it opened). */
async function refusal(opening: Promise<QueueEmbedder>): Promise<RsclipError> {
  const outcome = await opening.then(
    async (embedder) => {
      await embedder.close();
      return new Error('the second coordinator opened the queue');
    },
    (error: unknown) => error as Error,
  );
  if (!isRsclipError(outcome, 'QUEUE_FAILED')) throw outcome;
  return outcome;
}

/** A lease value as a coordinator on another machine writes it. */
function foreignHolder(run: string): string {
  const holder: LeaseHolder = { run, host: 'other-host.example', pid: 4242, index: '/elsewhere/index', since: '2025-01-02T03:04:05.000Z', boot: 'another-boot' };
  return JSON.stringify(holder);
}

describe.skipIf(!hasRedis)('one coordinator per queue [needs redis-server]', () => {
  let redis: TestRedis;
  let client: Redis;
  const info = new FakeEncoder().info;
  const lease = async (queue: string): Promise<string | null> => client.get(coordinatorLeaseKey(queue));
  const holderOf = async (queue: string): Promise<LeaseHolder | undefined> => {
    const value = await lease(queue);
    return value === null ? undefined : (JSON.parse(value) as LeaseHolder);
  };
  beforeAll(async () => {
    redis = await startRedis(work);
    client = await connectRedis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('a second live coordinator in this process is refused at once, naming the first, and takes none of its waiting jobs', { timeout: 120_000 }, async () => {
    const archive = path.join(work, 'refused-archive');
    writeQueueArchive(archive, 8);
    const events: EmbedWorkerEvent[] = [];
    const worker = await startEmbedWorker({ url: redis.url, encoder: new SlowEncoder(150), concurrency: 1, lockSeconds: 5, queueName: 'q-refused', onJob: (e) => events.push(e) });
    // workers take no lease
    expect(await lease('q-refused')).toBeNull();
    const first = await QueueEmbedder.open({ url: redis.url, info, inFlight: 4, queueName: 'q-refused', index: '/data/first-index' });
    try {
      const run = indexInto({ roots: [archive], index: path.join(work, 'refused-index'), model: new FakeEncoder(), embedder: first, batchSize: 1 });
      // the first run has jobs waiting behind the one the worker embeds
      await until('the first job', () => (events.some((e) => e.phase === 'start') ? true : undefined));
      const started = performance.now();
      const error = await refusal(QueueEmbedder.open({ url: redis.url, info, queueName: 'q-refused', index: '/data/second-index' }));
      expect(performance.now() - started).toBeLessThan(2000);
      expect(error.message).toMatch(
        new RegExp(
          `^queue q-refused on Redis at 127\\.0\\.0\\.1:${redis.port}/0 already has a coordinator: process ${process.pid} on host ${escape(hostname())} \\(this host\\), indexing /data/first-index, since \\d{4}-\\d\\d-\\d\\dT\\S+ \\(it is running\\)$`,
        ),
      );
      expect(error.hint).toMatch(/^one coordinator per queue .*: wait for that run to finish, or stop it; to index another archive at the same time, give it and its workers another Redis database/);
      const summary = await run;
      expect(summary.embedded).toBeGreaterThan(0);
      // none of its jobs went missing (drained by the second, then sent again)
      expect(first.queueProgress().resent).toBe(0);
      expect((await holderOf('q-refused'))?.run).toBe(first.run);
    } finally {
      await first.close();
      await worker.close();
    }
  });

  it('`rsclip index --queue` beside a live coordinator process says who holds the queue; once that one is killed (SIGKILL), a restart here takes over at once', { timeout: 180_000 }, async () => {
    const archive = path.join(work, 'killed-archive');
    writeQueueArchive(archive, 2);
    const index = path.join(work, 'killed-index');
    // a coordinator that holds the default queue, paused once it has scanned a file
    const holder = startChild(COORDINATOR, [redis.url, archive, index, '2'], { RSCLIP_DEBUG_PAUSE_AT: 'scan' });
    try {
      await until('the coordinator to pause', () => (holder.output().stderr.includes('RSCLIP_PAUSED scan') ? true : undefined));
      expect(await holderOf(DEFAULT_QUEUE_NAME)).toMatchObject({ pid: holder.pid, host: hostname(), index });

      const cliArchive = path.join(work, 'cli-archive');
      mkdirSync(cliArchive, { recursive: true });
      writeFileSync(path.join(cliArchive, 'img.png'), makePng(800, 48, 40));
      const cliIndex = path.join(work, 'cli-index');
      const cli = await runCli(['index', cliArchive, '--index', cliIndex, '--model', await tinyModelDir(), '--threads', '1', '--queue', redis.url]);
      expect(cli.code).not.toBe(0);
      expect(cli.stderr).toMatch(
        new RegExp(`^rsclip: queue rsclip-embed on Redis at 127\\.0\\.0\\.1:${redis.port}/0 already has a coordinator: process ${holder.pid} on host ${escape(hostname())} \\(this host\\), indexing ${escape(index)}, since \\S+ \\(it is running\\).*one coordinator per queue`, 'm'),
      );
      expect((await holderOf(DEFAULT_QUEUE_NAME))?.pid).toBe(holder.pid);
    } finally {
      holder.kill('SIGKILL');
      await exited(holder);
    }
    // the killed coordinator's lease is still in Redis, for up to 30 s: a restart on this host does not wait for it
    expect((await holderOf(DEFAULT_QUEUE_NAME))?.pid).toBe(holder.pid);
    const notices: string[] = [];
    const started = performance.now();
    const restart = await QueueEmbedder.open({ url: redis.url, info, index, onNotice: (line) => notices.push(line) });
    try {
      expect(performance.now() - started).toBeLessThan(2000);
      expect(notices).toEqual([]);
      expect(await holderOf(DEFAULT_QUEUE_NAME)).toMatchObject({ pid: process.pid, run: restart.run, index });
    } finally {
      await restart.close();
    }
  });

  it.skipIf(!existsSync('/proc/self/stat'))('a lease of a pid of this host that another process now has (another start time) is taken over at once', async () => {
    const key = coordinatorLeaseKey('q-reused');
    const parent = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    expect(parent.length).toBeGreaterThan(0);
    // a live process (this one's parent), but not the one that took the lease
    const stale: LeaseHolder = { run: 'an-old-run', host: hostname(), pid: process.ppid, since: '2025-01-02T03:04:05.000Z', processStart: '1' };
    await client.set(key, JSON.stringify(stale), 'PX', 60_000);
    const started = performance.now();
    const embedder = await QueueEmbedder.open({ url: redis.url, info, queueName: 'q-reused' });
    try {
      expect(performance.now() - started).toBeLessThan(2000);
      expect((await holderOf('q-reused'))?.run).toBe(embedder.run);
    } finally {
      await embedder.close();
    }
    // a pid that runs nothing at all
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await client.set(key, JSON.stringify({ ...stale, pid: gone, processStart: undefined }), 'PX', 60_000);
    const again = await QueueEmbedder.open({ url: redis.url, info, queueName: 'q-reused' });
    expect((await holderOf('q-reused'))?.run).toBe(again.run);
    await again.close();
  });

  it('the lease is released on a clean exit: in this process and a coordinator process that finished', { timeout: 120_000 }, async () => {
    const embedder = await QueueEmbedder.open({ url: redis.url, info, queueName: 'q-released', index: '/data/released-index' });
    const holder = await holderOf('q-released');
    await embedder.close();
    expect(holder).toMatchObject({ run: embedder.run, pid: process.pid, host: hostname(), index: '/data/released-index' });
    expect(Date.parse(holder!.since)).toBeGreaterThan(Date.now() - 60_000);
    expect(await lease('q-released')).toBeNull();

    const archive = path.join(work, 'released-archive');
    writeQueueArchive(archive, 2);
    const worker = await startEmbedWorker({ url: redis.url, encoder: new FakeEncoder(), lockSeconds: 5 });
    try {
      const coordinator = startChild(COORDINATOR, [redis.url, archive, path.join(work, 'released-index'), '2']);
      const pid = await until('the coordinator to take its lease', async () => (await holderOf(DEFAULT_QUEUE_NAME))?.pid);
      expect(pid).toBe(coordinator.pid);
      expect(await exited(coordinator), coordinator.output().stderr).toEqual({ code: 0, signal: null });
      expect(await lease(DEFAULT_QUEUE_NAME)).toBeNull();
    } finally {
      await worker.close();
    }
  });

  it("another machine's lease that nobody renews is waited out, said on one line, then taken", { timeout: 60_000 }, async () => {
    await client.set(coordinatorLeaseKey('q-lapsed'), foreignHolder('a-run-elsewhere'), 'PX', 1500);
    const notices: string[] = [];
    const started = performance.now();
    const embedder = await QueueEmbedder.open({ url: redis.url, info, queueName: 'q-lapsed', onNotice: (line) => notices.push(line) });
    try {
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThan(1000);
      expect(waited).toBeLessThan(5000);
      expect(notices).toHaveLength(2);
      expect(notices[0]).toMatch(
        /^rsclip: queue q-lapsed on Redis at 127\.0\.0\.1:\d+\/0 is leased by the coordinator process 4242 on host other-host\.example, indexing \/elsewhere\/index, since 2025-01-02T03:04:05\.000Z, not renewed for 2\ds: waiting up to 2s for the lease to lapse \(a running coordinator renews it every 5s, and is refused as soon as it does\)$/,
      );
      expect(notices[1]).toBe('rsclip: the lease lapsed: this run coordinates queue q-lapsed now');
      expect((await holderOf('q-lapsed'))?.run).toBe(embedder.run);
    } finally {
      await embedder.close();
    }
  });

  it("another machine's lease that is renewed is refused as soon as a renewal is seen", { timeout: 60_000 }, async () => {
    const key = coordinatorLeaseKey('q-renewed');
    const value = foreignHolder('a-live-run-elsewhere');
    await client.set(key, value, 'PX', 3000);
    // a live coordinator there: renewed every 300 ms
    const renewer = setInterval(() => void client.pexpire(key, 3000), 300);
    try {
      const notices: string[] = [];
      const started = performance.now();
      const error = await refusal(QueueEmbedder.open({ url: redis.url, info, queueName: 'q-renewed', onNotice: (line) => notices.push(line) }));
      expect(performance.now() - started).toBeLessThan(2500);
      expect(error.message).toMatch(/^queue q-renewed on Redis at 127\.0\.0\.1:\d+\/0 already has a coordinator: process 4242 on host other-host\.example, indexing \/elsewhere\/index, since \S+ \(it renewed its lease while this one waited\)$/);
      expect(notices).toHaveLength(1);
      expect(await client.get(key)).toBe(value);
    } finally {
      clearInterval(renewer);
    }
  });

  it('a coordinator whose lease another coordinator took stops its run with the reason and leaves the queue alone', { timeout: 60_000 }, async () => {
    const archive = path.join(work, 'lost-archive');
    writeQueueArchive(archive, 3);
    // no worker: the run waits on its jobs
    const embedder = await QueueEmbedder.open({ url: redis.url, info, queueName: 'q-lost', inFlight: 2, leaseSeconds: 0.6 });
    let closed = false;
    try {
      const run = indexInto({ roots: [archive], index: path.join(work, 'lost-index'), model: new FakeEncoder(), embedder, batchSize: 1 });
      const outcome = run.then(
        () => new Error('the run went on'),
        (error: unknown) => error as Error,
      );
      const jobs = async (): Promise<number> => client.llen('bull:q-lost:wait');
      await until('jobs waiting', async () => ((await jobs()) > 0 ? true : undefined));
      const other = foreignHolder('the-run-that-took-it');
      await client.set(coordinatorLeaseKey('q-lost'), other, 'PX', 60_000);
      const error = await outcome;
      expect(isRsclipError(error, 'QUEUE_FAILED'), String(error)).toBe(true);
      expect(error.message).toMatch(/this coordinator lost queue q-lost on Redis at 127\.0\.0\.1:\d+\/0 to the coordinator process 4242 on host other-host\.example, indexing \/elsewhere\/index/);
      expect((error as RsclipError).hint).toMatch(/could not be renewed for 1s/);
      const waiting = await jobs();
      expect(waiting).toBeGreaterThan(0);
      closed = true;
      await embedder.close();
      // its waiting jobs and the other's lease are left as they were
      expect(await jobs()).toBe(waiting);
      expect(await client.get(coordinatorLeaseKey('q-lost'))).toBe(other);
    } finally {
      if (!closed) await embedder.close();
      await client.del(coordinatorLeaseKey('q-lost'));
    }
  });

  it('a lease Redis lost (a restart without persistence) is set again at the next renewal', { timeout: 30_000 }, async () => {
    const embedder = await QueueEmbedder.open({ url: redis.url, info, queueName: 'q-flushed', leaseSeconds: 0.6 });
    try {
      const value = await lease('q-flushed');
      expect(value).not.toBeNull();
      await client.del(coordinatorLeaseKey('q-flushed'));
      expect(await until('the lease set again', async () => (await lease('q-flushed')) ?? undefined, 5000)).toBe(value);
      expect(await client.pttl(coordinatorLeaseKey('q-flushed'))).toBeGreaterThan(0);
    } finally {
      await embedder.close();
    }
    expect(await lease('q-flushed')).toBeNull();
  });
});
