/**
 * The coordinator's Embedder: each batch of windows becomes one BullMQ job (files and how to read
 * each window, never pixels); its result is matched back to the batch by file and window key.
 * The indexer keeps `inFlight` jobs sent, which bounds the queue's length and the coordinator's
 * memory; it stays the only writer of the index. A new coordinator drains the jobs a killed one
 * left waiting (one coordinator per queue).
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { RsclipError } from '../errors.js';
import type { EmbedResult, EmbedUnit, Embedder, WorkerRate } from '../indexer/index.js';
import type { ModelInfo } from '../model/index.js';
import { connectRedis } from './connection.js';
import { DEFAULT_QUEUE_NAME, decodeVector, windowId, type EmbedJobData, type EmbedJobResult, type WireResult } from './protocol.js';

export interface QueueEmbedderOptions {
  /** redis://host:port/db */
  url: string;
  /** The index's model: jobs carry its fingerprint. */
  info: ModelInfo;
  /** Jobs (batches) waiting or running at once. Default 16. */
  inFlight?: number;
  /** Default `rsclip-embed`. */
  queueName?: string;
}

const DEFAULT_IN_FLIGHT = 16;
/** A job whose processor threw (not a refusal) is tried this many times in all. */
const JOB_ATTEMPTS = 3;
/** Finished jobs stay this long, so that a result is found even when it came before the coordinator listened. */
const KEEP_FINISHED_SECONDS = 3600;

export class QueueEmbedder implements Embedder {
  readonly decodesHere = false;
  readonly inFlight: number;
  /** This run's id, in the ids of its jobs. */
  readonly run = randomUUID();
  private sent = 0;
  private readonly started = performance.now();
  private readonly rates = new Map<string, number>();

  private constructor(
    readonly info: ModelInfo,
    private readonly queue: Queue<EmbedJobData, EmbedJobResult>,
    private readonly events: QueueEvents,
    private readonly clients: Redis[],
    inFlight: number,
  ) {
    this.inFlight = inFlight;
  }

  static async open(options: QueueEmbedderOptions): Promise<QueueEmbedder> {
    const inFlight = options.inFlight ?? DEFAULT_IN_FLIGHT;
    if (!Number.isInteger(inFlight) || inFlight < 1) throw new RsclipError('BAD_INPUT', `queue depth must be a positive integer, got ${inFlight}`);
    const client = await connectRedis(options.url);
    // QueueEvents blocks on its connection: it gets its own
    const eventsClient = client.duplicate();
    const name = options.queueName ?? DEFAULT_QUEUE_NAME;
    const queue = new Queue<EmbedJobData, EmbedJobResult>(name, { connection: client });
    const events = new QueueEvents(name, { connection: eventsClient });
    // every job waiting for its result listens on both
    queue.setMaxListeners(inFlight + 10);
    events.setMaxListeners(2 * inFlight + 10);
    const embedder = new QueueEmbedder(options.info, queue, events, [client, eventsClient], inFlight);
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      // jobs a killed coordinator left waiting would be embedded for nobody
      await queue.drain(true);
    } catch (error) {
      await embedder.close().catch(() => undefined);
      throw new RsclipError('QUEUE_FAILED', `cannot use the queue on Redis: ${(error as Error).message}`, { cause: error });
    }
    return embedder;
  }

  async embed(batch: EmbedUnit[]): Promise<{ results: EmbedResult[]; modelSeconds: number }> {
    const files = new Map<string, EmbedJobData['files'][number]>();
    for (const unit of batch) {
      if (!('read' in unit)) throw new RsclipError('BAD_INPUT', `window ${unit.key} of ${unit.job.work.file.path} came with pixels: a queue sends descriptions of windows (a preparer that does not decode)`);
      const { root, path } = unit.job.work.file;
      const fileKey = JSON.stringify([root, path]);
      const entry = files.get(fileKey) ?? { root, path, reads: [] };
      entry.reads.push({ key: unit.key, read: unit.read });
      files.set(fileKey, entry);
    }
    const data: EmbedJobData = { run: this.run, fingerprint: this.info.fingerprint, files: [...files.values()] };
    const job = await this.queue.add('embed', data, {
      jobId: `${this.run}-${this.sent++}`,
      attempts: JOB_ATTEMPTS,
      removeOnComplete: { age: KEEP_FINISHED_SECONDS },
      removeOnFail: { age: 24 * KEEP_FINISHED_SECONDS },
    });
    let result: EmbedJobResult;
    try {
      result = (await job.waitUntilFinished(this.events)) as EmbedJobResult;
    } catch (cause) {
      throw new RsclipError('QUEUE_FAILED', `embedding job ${job.id} failed on the workers: ${(cause as Error).message}`, { cause, hint: 'what is committed is kept; fix the cause and run the same command again' });
    }
    const byId = new Map(result.windows.map((w) => [windowId(w.root, w.path, w.key), w as WireResult]));
    const results = batch.map((unit) => {
      const { root, path } = unit.job.work.file;
      const wire = byId.get(windowId(root, path, unit.key));
      if (!wire) throw new RsclipError('QUEUE_FAILED', `job ${job.id}: worker ${result.worker} returned no result for window ${unit.key} of ${path}`);
      return fromWire(wire);
    });
    this.rates.set(result.worker, (this.rates.get(result.worker) ?? 0) + results.filter((r) => 'vector' in r).length);
    return { results, modelSeconds: result.modelSeconds };
  }

  workers(): WorkerRate[] {
    const seconds = (performance.now() - this.started) / 1000;
    return [...this.rates].map(([worker, items]) => ({ worker, items, itemsPerSecond: seconds > 0 ? items / seconds : 0 }));
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.events.close()]);
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
