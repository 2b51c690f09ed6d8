/**
 * The coordinator's Embedder: each batch of windows becomes one BullMQ job (files and how to read
 * each window, never pixels); its result is matched back to the batch by file and window key.
 * The indexer keeps `inFlight` jobs sent, which bounds the queue's length and the coordinator's
 * memory; it stays the only writer of the index. One coordinator per queue: a coordinator holds
 * a lease on its queue in Redis while it runs (coordinator-lease.ts), so a second one is refused
 * instead of taking the first's waiting jobs; a new coordinator drains the jobs a killed one left
 * waiting.
 *
 * Redis may restart under a run: the clients reconnect by themselves, and every few seconds the
 * coordinator asks Redis where each job it waits for stands. A job Redis no longer knows (a
 * restart without persistence lost it) is sent again: the coordinator knows every job it waits
 * for, and nothing it committed is in one. A Redis that stays unreachable (or connected but
 * silent) for `redisTimeoutSeconds` fails the run with what is committed kept.
 */
import { randomUUID } from 'node:crypto';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { RsclipError } from '../errors.js';
import type { EmbedResult, EmbedUnit, Embedder, QueueProgress } from '../indexer/types.js';
import type { ModelInfo } from '../model/encoder-types.js';
import { connectRedis, queueFailureHint } from './connection.js';
import { CoordinatorLease } from './coordinator-lease.js';
import { DEFAULT_QUEUE_NAME, decodeVector, windowId, type EmbedJobData, type EmbedJobResult, type WireResult } from './protocol.js';
import { WorkerRates } from './worker-rates.js';

export interface QueueEmbedderOptions {
  /** redis://host:port/db */
  url: string;
  /** The index's model: jobs carry its fingerprint. */
  info: ModelInfo;
  /** Jobs (batches) waiting or running at once. Default 16. */
  inFlight?: number;
  /** Default `rsclip-embed`. */
  queueName?: string;
  /** Seconds Redis may stay unreachable during a run before the run fails (from the moment its connection is lost; a Redis silent on an open connection is seen within five check intervals). Default 300. */
  redisTimeoutSeconds?: number;
  /** Seconds between checks of the jobs waited for (lost ones are sent again). Default 2. */
  checkSeconds?: number;
  /** The index this coordinator writes, as another coordinator refused on this queue is told. */
  index?: string;
  /** Seconds the queue's coordinator lease lives without a renewal (renewed six times as often). Default 30. */
  leaseSeconds?: number;
  /** A line for the user while this coordinator waits for another machine's lease on the queue to lapse. */
  onNotice?: (line: string) => void;
}

const DEFAULT_IN_FLIGHT = 16;
const DEFAULT_REDIS_TIMEOUT_SECONDS = 300;
const DEFAULT_CHECK_SECONDS = 2;
/** A check of the jobs waited for that Redis has not answered for this many check intervals: Redis counts as unreachable. */
const UNANSWERED_CHECKS = 5;
/** A job whose processor threw (not a refusal) is tried this many times in all. */
const JOB_ATTEMPTS = 3;
/**
 * A job whose result was taken is removed at once (results are 2.7 KB per window: kept, they would
 * fill Redis at the fleet's rate); one nobody took (its coordinator was killed) goes after this
 * long, and a failed one after a day.
 */
const KEEP_FINISHED_SECONDS = 3600;
/**
 * Events the queue's stream keeps per job in flight. Completed events carry results, so the
 * stream is bounded by the jobs in flight, not BullMQ's 10,000 events; a job makes about four
 * (added, waiting, active, completed) and a retried one a few more per attempt, so a completed
 * event is never trimmed before the coordinator reads it (at most `inFlight` jobs are unread).
 */
const EVENTS_KEPT_PER_JOB = 32;
const MIN_EVENTS_KEPT = 256;
/** How long one read of the event stream blocks in Redis (BullMQ's default: 10 s). */
const EVENTS_BLOCK_MS = 2000;

/** A job sent and not answered yet. */
interface PendingJob {
  data: EmbedJobData;
  resolve: (result: EmbedJobResult) => void;
  reject: (error: Error) => void;
  /** Its add is on its way to Redis (not to be checked until it arrived). */
  sending: boolean;
  /** Its last add, settled (either way) once Redis answered it. */
  added?: Promise<unknown>;
}

export class QueueEmbedder implements Embedder {
  readonly decodesHere = false;
  readonly localModelRuns = undefined;
  readonly inFlight: number;
  /** This run's id, in the ids of its jobs. */
  readonly run = randomUUID();
  /** Jobs sent again because Redis had lost them (a restart without persistence). */
  private resent = 0;
  private sent = 0;
  private readonly rates = new WorkerRates();
  private readonly pending = new Map<string, PendingJob>();
  private readonly timer: NodeJS.Timeout;
  /** performance.now() when the check in progress started (its commands wait on Redis). */
  private checkingSince: number | undefined;
  /** performance.now() when Redis was first seen unreachable (its connection closed), while it is. */
  private downSince: number | undefined;
  /** Fires when Redis has been away for the timeout, whatever the check interval. */
  private deadline: NodeJS.Timeout | undefined;
  /** This coordinator's lease on the queue (set once taken, in open). */
  private lease: CoordinatorLease | undefined;
  /** Why this run cannot go on (its lease went to another coordinator): every embed fails with it. */
  private failure: RsclipError | undefined;
  /** Set once the run stops (withdrawWaiting): the jobs taken back and every later batch fail with it. */
  private withdrawn: RsclipError | undefined;

  private constructor(
    readonly info: ModelInfo,
    private readonly queue: Queue<EmbedJobData, EmbedJobResult>,
    private readonly events: QueueEvents,
    private readonly clients: Redis[],
    /** Set on close: the clients stop reconnecting. */
    private readonly link: { closing: boolean },
    private readonly where: string,
    inFlight: number,
    private readonly redisTimeoutMs: number,
    private readonly checkMs: number,
  ) {
    this.inFlight = inFlight;
    // one listener for every job: results are dispatched by job id
    events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, { returnvalue: returnvalue as unknown as EmbedJobResult }));
    events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, { failedReason }));
    // connection trouble is what the check below handles; an unheard 'error' event would end the process
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    this.timer = setInterval(() => {
      if (this.watchConnection()) void this.check();
    }, checkMs);
    this.timer.unref();
    // the timeout counts from the moment the connection is lost, not from the next check, and ends
    // when it runs out, not at the check after (a check interval late each time)
    clients[0]!.on('close', () => {
      if (this.downSince !== undefined || link.closing) return;
      this.downSince = performance.now();
      clearTimeout(this.deadline);
      // a few ms over: a timer may fire a fraction of a millisecond ahead of performance.now()
      this.deadline = setTimeout(() => this.watchConnection(), redisTimeoutMs + 5);
      this.deadline.unref();
    });
    clients[0]!.on('ready', () => {
      this.downSince = undefined;
      clearTimeout(this.deadline);
    });
  }

  static async open(options: QueueEmbedderOptions): Promise<QueueEmbedder> {
    const inFlight = options.inFlight ?? DEFAULT_IN_FLIGHT;
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new RsclipError('BAD_INPUT', `queue depth must be a positive integer, got ${inFlight}`);
    const redisTimeoutSeconds = options.redisTimeoutSeconds ?? DEFAULT_REDIS_TIMEOUT_SECONDS;
    if (!(redisTimeoutSeconds > 0)) throw new RsclipError('BAD_INPUT', `the Redis timeout must be a positive number of seconds, got ${redisTimeoutSeconds}`);
    if (options.leaseSeconds !== undefined && !(options.leaseSeconds > 0)) throw new RsclipError('BAD_INPUT', `the coordinator lease must be a positive number of seconds, got ${options.leaseSeconds}`);
    const link = { closing: false };
    const client = await connectRedis(options.url, () => !link.closing);
    const { host, port, db } = client.options;
    const { Queue, QueueEvents } = await import('bullmq');
    // QueueEvents blocks on its connection: it gets its own
    const eventsClient = client.duplicate();
    eventsClient.on('error', () => undefined);
    const name = options.queueName ?? DEFAULT_QUEUE_NAME;
    const queue = new Queue<EmbedJobData, EmbedJobResult>(name, { connection: client, streams: { events: { maxLen: Math.max(MIN_EVENTS_KEPT, EVENTS_KEPT_PER_JOB * inFlight) } } });
    // BullMQ arms a timer of the blocking read + 1 s for each read of the event stream, which a lost
    // Redis never clears: with its default 10 s read, a run that stopped for Redis lingered 11 s more
    const events = new QueueEvents(name, { connection: eventsClient, blockingTimeout: EVENTS_BLOCK_MS });
    const where = `${host}:${port}`;
    const embedder = new QueueEmbedder(options.info, queue, events, [client, eventsClient], link, where, inFlight, redisTimeoutSeconds * 1000, (options.checkSeconds ?? DEFAULT_CHECK_SECONDS) * 1000);
    try {
      // before anything touches the queue: a second coordinator must not drain the first's jobs
      embedder.lease = await CoordinatorLease.acquire(client, {
        queue: name,
        where: `${where}/${db ?? 0}`,
        run: embedder.run,
        ...(options.index === undefined ? {} : { index: options.index }),
        ...(options.leaseSeconds === undefined ? {} : { leaseMs: options.leaseSeconds * 1000 }),
        ...(options.onNotice ? { onNotice: options.onNotice } : {}),
        onLost: (error) => embedder.fail(error),
      });
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      // jobs a killed coordinator left waiting would be embedded for nobody
      await queue.drain(true);
    } catch (error) {
      await embedder.close().catch(() => undefined);
      if (error instanceof RsclipError) throw error;
      throw new RsclipError('QUEUE_FAILED', `cannot use the queue on Redis: ${(error as Error).message}`, { cause: error, hint: queueFailureHint(error as Error) });
    }
    return embedder;
  }

  /** The run cannot go on (another coordinator took the queue): the jobs waited for and every later batch fail with `error`. */
  private fail(error: RsclipError): void {
    this.failure ??= error;
    for (const [jobId, job] of [...this.pending]) {
      this.pending.delete(jobId);
      job.reject(error);
    }
  }

  /**
   * The run stops (a first Ctrl-C or SIGTERM): the jobs no worker has taken are taken back from
   * Redis at once and fail with INTERRUPTED, as does every later batch; those a worker is running
   * are still waited for (their results are committed). With no worker running, nothing is waited
   * for. With Redis away, nothing can come back from it: every job waited for fails (the next
   * coordinator drains what is left).
   */
  async withdrawWaiting(): Promise<void> {
    const withdrawn = (this.withdrawn ??= new RsclipError('INTERRUPTED', 'stopped: the jobs no worker had taken were taken back from the queue', { hint: 'what is committed is kept; the same command goes on from there' }));
    const give = (jobId: string, job: PendingJob): void => {
      if (this.pending.get(jobId) !== job) return;
      this.pending.delete(jobId);
      job.reject(withdrawn);
    };
    if (!this.connected) {
      for (const [jobId, job] of [...this.pending]) give(jobId, job);
      return;
    }
    await Promise.all(
      [...this.pending].map(async ([jobId, job]) => {
        try {
          await job.added;
          // 0: locked by the worker running it, whose result is waited for
          if ((await this.queue.remove(jobId)) === 0) return;
        } catch {
          // not in Redis (lost in a restart) or Redis went away: nothing comes back for it
        }
        give(jobId, job);
      }),
    );
  }

  async embed(batch: EmbedUnit[]): Promise<{ results: EmbedResult[]; modelSeconds: number }> {
    if (this.failure) throw this.failure;
    if (this.withdrawn) throw this.withdrawn;
    const files = new Map<string, EmbedJobData['files'][number]>();
    for (const unit of batch) {
      if (!('read' in unit)) throw new RsclipError('BAD_INPUT', `window ${unit.key} of ${unit.job.work.file.path} came with pixels: a queue sends descriptions of windows (a preparer that does not decode)`);
      const { root, path } = unit.job.work.file;
      const fileKey = windowId(root, path, '');
      const { contentHash, bytes } = unit.job.row;
      const entry = files.get(fileKey) ?? { root, path, identity: { bytes, sha256: contentHash }, reads: [] };
      entry.reads.push({ key: unit.key, read: unit.read });
      files.set(fileKey, entry);
    }
    const jobId = `${this.run}-${this.sent++}`;
    const data: EmbedJobData = { run: this.run, fingerprint: this.info.fingerprint, files: [...files.values()] };
    let result: EmbedJobResult;
    try {
      result = await new Promise<EmbedJobResult>((resolve, reject) => {
        const job: PendingJob = { data, resolve, reject, sending: true };
        this.pending.set(jobId, job);
        this.send(jobId, job);
      });
    } catch (cause) {
      if (cause instanceof RsclipError) throw cause;
      throw new RsclipError('QUEUE_FAILED', `embedding job ${jobId} failed on the workers: ${(cause as Error).message}`, { cause, hint: 'what is committed is kept; fix the cause and run the same command again' });
    }
    const byId = new Map<string, WireResult>();
    for (const w of result.windows) byId.set(windowId(w.root, w.path, w.key), w);
    const results = batch.map((unit) => {
      const { root, path } = unit.job.work.file;
      const wire = byId.get(windowId(root, path, unit.key));
      if (!wire) throw new RsclipError('QUEUE_FAILED', `job ${jobId}: worker ${result.worker} returned no result for window ${unit.key} of ${path}`);
      return fromWire(wire);
    });
    this.rates.record(result.worker, results.filter((r) => 'vector' in r).length);
    return { results, modelSeconds: result.modelSeconds };
  }

  /** Adds the job (again, after a loss: a job id Redis still knows is left as it is). */
  private send(jobId: string, job: PendingJob): void {
    job.sending = true;
    job.added = this.queue
      .add('embed', job.data, { jobId, attempts: JOB_ATTEMPTS, removeOnComplete: { age: KEEP_FINISHED_SECONDS }, removeOnFail: { age: 24 * KEEP_FINISHED_SECONDS } })
      .then(
        () => (job.sending = false),
        (error: unknown) => this.settle(jobId, { error: this.sendError(jobId, error as Error) }),
      );
  }

  private sendError(jobId: string, cause: Error): RsclipError {
    return new RsclipError('QUEUE_FAILED', `cannot send embedding job ${jobId} to Redis at ${this.where}: ${cause.message}`, { cause, hint: queueFailureHint(cause) ?? 'what is committed is kept; fix the cause and run the same command again' });
  }

  private settle(jobId: string, outcome: { returnvalue: EmbedJobResult } | { failedReason: string } | { error: RsclipError }): void {
    const job = this.pending.get(jobId);
    if (!job) return;
    this.pending.delete(jobId);
    if ('returnvalue' in outcome) {
      job.resolve(outcome.returnvalue);
      // a removal that fails (Redis away) leaves the job to its age limit
      this.queue.remove(jobId).catch(() => undefined);
    } else job.reject('error' in outcome ? outcome.error : new Error(outcome.failedReason));
  }

  /** The queue's client (the one commands go through) is connected. */
  private get connected(): boolean {
    return this.clients[0]!.status === 'ready';
  }

  /**
   * Since when Redis has not answered (undefined while it does): its connection is lost, or a
   * check has waited on it for UNANSWERED_CHECKS intervals (a Redis that stopped answering may
   * keep its connection open: a network cut, a stopped process).
   */
  private silentSince(now: number): number | undefined {
    if (!this.connected) return this.downSince ?? now;
    if (this.checkingSince !== undefined && now - this.checkingSince >= UNANSWERED_CHECKS * this.checkMs) return this.checkingSince;
    return undefined;
  }

  /**
   * Whether Redis answers; a Redis silent for longer than the timeout fails every job waited for
   * (synchronous: a command sent now would wait for the reconnection).
   */
  private watchConnection(): boolean {
    const now = performance.now();
    const since = this.silentSince(now);
    if (since === undefined) {
      this.downSince = undefined;
      return true;
    }
    this.downSince ??= since;
    const seconds = (now - this.downSince) / 1000;
    if (seconds * 1000 >= this.redisTimeoutMs && this.pending.size > 0) {
      const error = new RsclipError('QUEUE_FAILED', `Redis at ${this.where} has not answered for ${Math.round(seconds)}s`, {
        hint: 'what is committed is kept: start Redis (or raise --queue-timeout) and run the same command again',
      });
      for (const [jobId, job] of [...this.pending]) {
        this.pending.delete(jobId);
        job.reject(error);
      }
    }
    return false;
  }

  /** Where each job waited for stands: one that finished while its event was missed is settled, one Redis lost is sent again. */
  private async check(): Promise<void> {
    if (this.checkingSince !== undefined || this.pending.size === 0) return;
    this.checkingSince = performance.now();
    try {
      // asked first, so that a silent Redis is seen even while every job is still on its way to it
      // (an add waits on an open connection as long as a job state would)
      await this.clients[0]!.ping();
      for (const [jobId, job] of [...this.pending]) {
        if (job.sending) continue;
        const state = await this.queue.getJobState(jobId);
        if (this.pending.get(jobId) !== job) continue;
        if (state === 'unknown' && this.withdrawn) {
          // the run stops: a job Redis lost is not sent again
          this.pending.delete(jobId);
          job.reject(this.withdrawn);
        } else if (state === 'unknown') {
          this.resent++;
          this.send(jobId, job);
        } else if (state === 'completed' || state === 'failed') {
          const finished = await this.queue.getJob(jobId);
          if (finished) this.settle(jobId, state === 'completed' ? { returnvalue: finished.returnvalue } : { failedReason: finished.failedReason });
        }
      }
    } catch {
      // Redis went away during the check: the connection watch sees it
    } finally {
      this.checkingSince = undefined;
    }
  }

  queueProgress(): QueueProgress {
    const now = performance.now();
    const since = this.silentSince(now);
    const unreachableSeconds = since === undefined ? undefined : (now - since) / 1000;
    return { workers: this.rates.rates(), resent: this.resent, redisTimeoutSeconds: this.redisTimeoutMs / 1000, ...(unreachableSeconds === undefined ? {} : { unreachableSeconds }) };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.deadline);
    const answering = this.silentSince(performance.now()) === undefined;
    // a run that stopped with jobs unanswered (a job refused, a commit failed) takes back those
    // still waiting: workers would embed (or refuse, one line each) them for nobody until the next run;
    // a run that lost the queue leaves it alone: the jobs waiting are the new coordinator's
    if (answering && this.pending.size > 0 && !this.failure) await this.queue.drain(true).catch(() => undefined);
    // the next coordinator starts at once; with Redis away the lease lapses by itself
    if (answering) await this.lease?.release().catch(() => undefined);
    else this.lease?.abandon();
    // with Redis away, closing ends at the clients' next reconnection attempt instead of waiting for Redis
    this.link.closing = true;
    const closing = Promise.all([this.queue.close(), this.events.close()]);
    // BullMQ's close waits for an 'end' that a client which lost Redis never emits (and a silent Redis
    // never answers); it stops reconnecting all the same
    if (answering) await closing;
    else closing.catch(() => undefined);
    for (const client of this.clients) client.disconnect();
  }
}

function fromWire(wire: WireResult): EmbedResult {
  if (!('vector' in wire)) return wire;
  const result: EmbedResult = { vector: decodeVector(wire.vector) };
  if (wire.decoded) result.decoded = wire.decoded;
  if (wire.fallback) result.fallback = true;
  return result;
}
