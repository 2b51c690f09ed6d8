/**
 * `rsclip worker`'s engine: a BullMQ worker that reads the files a job names from a shared file
 * system (`pathMap` for another mount point), embeds their windows with its encoder and returns
 * the vectors. A job for another model, or of an archive folder this machine cannot see, is
 * refused (failed at once, never retried: the run stops with the reason instead of recording
 * every file as unreadable). A worker killed at any moment loses nothing: BullMQ sees its job's
 * lock lapse (stalled) and hands the job to another worker.
 */
import { constants, promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { encodeRgb } from '../raster/libvips.js';
import { connectRedisWhenUp, queueFailureHint } from './connection.js';
import { DEFAULT_QUEUE_NAME, encodeVector, type EmbedJobData, type EmbedJobResult, type WireResult } from './protocol.js';
import { readFileWindows, type WindowInput } from './read-windows.js';

export interface PathMapping {
  from: string;
  to: string;
}

export interface EmbedWorkerEvent {
  phase: 'start' | 'done' | 'refused';
  job: string;
  run: string;
  /** `root/path#key` of every window of the job. */
  windows: string[];
  /** Windows embedded (done). */
  embedded: number;
  error?: string;
}

export interface EmbedWorkerOptions {
  url: string;
  encoder: ClipEncoder;
  /** Jobs processed at once. Default: two per vision session of the encoder (a job is read and decoded, then embedded: two keep the model busy). */
  concurrency?: number;
  pathMap?: PathMapping[];
  /** Seconds without a lock renewal after which a job counts as stalled and goes to another worker. Default 30. */
  lockSeconds?: number;
  queueName?: string;
  /** Windows read ahead of the model within a scene. Default 4. */
  readAhead?: number;
  onJob?: (event: EmbedWorkerEvent) => void;
  /** Connection trouble while running (Redis restarting...); BullMQ reconnects by itself. */
  onError?: (error: Error) => void;
  /**
   * A job this worker ran was no longer its own when it finished: Redis lost it (a restart
   * without persistence) or its lock lapsed and another worker took it. Its result is dropped;
   * the coordinator has the job run again.
   */
  onLostJob?: (jobId: string, reason: string) => void;
  /** The connection to Redis is back after it was lost. */
  onReconnect?: () => void;
  /**
   * Redis is not reachable yet as the worker starts (`where`: host:port): it is tried again every
   * 2 s until it answers; called at each failed attempt. A wrong URL, password or certificate
   * fails the start instead.
   */
  onWaitingForRedis?: (where: string, reason: string) => void;
}

export interface EmbedWorker {
  readonly id: string;
  /** Finishes the jobs it is running, then stops (at once while Redis is unreachable). */
  close(): Promise<void>;
}

/** How many times a job may stall (its worker died) before it fails. */
const MAX_STALLED = 5;

export function parsePathMapping(text: string): PathMapping {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1) throw new RsclipError('BAD_INPUT', `expected --path-map FROM=TO, got "${text}"`, { hint: 'e.g. --path-map /mnt/archive=/data/archive' });
  return { from: path.resolve(text.slice(0, at)), to: path.resolve(text.slice(at + 1)) };
}

/** The coordinator's path as this machine sees it: the first mapping whose FROM is a folder above it. */
export function mapPath(file: string, pathMap: readonly PathMapping[]): string {
  for (const { from, to } of pathMap) {
    if (file === from) return to;
    if (file.startsWith(from.endsWith(path.sep) ? from : from + path.sep)) return path.join(to, file.slice(from.length));
  }
  return file;
}

/**
 * Decodes and embeds a small image made here, as a job's windows are: a worker that cannot (a
 * package that cannot load, a model file that onnxruntime refuses) fails before it takes a job,
 * instead of failing each job it takes three times in the place of healthy workers, which stops
 * the coordinator.
 */
export async function checkCanEmbed(encoder: ClipEncoder): Promise<void> {
  const side = 32;
  const rgb = Uint8Array.from({ length: side * side * 3 }, (_, i) => (i * 37) % 256);
  const { pixels } = await encoder.preprocess(await encodeRgb(rgb, side, side, 'png'));
  await encoder.embedPixels([pixels]);
}

export async function startEmbedWorker(options: EmbedWorkerOptions): Promise<EmbedWorker> {
  const { encoder } = options;
  const concurrency = options.concurrency ?? 2 * (encoder.visionSessions ?? 1);
  const lockSeconds = options.lockSeconds ?? 30;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RsclipError('BAD_INPUT', `concurrency must be a positive integer, got ${concurrency}`);
  if (!(lockSeconds > 0)) throw new RsclipError('BAD_INPUT', `the lock timeout must be a positive number of seconds, got ${lockSeconds}`);
  const id = `${hostname()}:${process.pid}`;
  const pathMap = options.pathMap ?? [];
  const readAhead = options.readAhead ?? 4;
  const { UnrecoverableError, Worker } = await import('bullmq');

  const processJob = async (job: Job<EmbedJobData, EmbedJobResult>): Promise<EmbedJobResult> => {
    const { data } = job;
    const windows = data.files.flatMap((f) => f.reads.map((r) => `${path.join(f.root, f.path)}#${r.key}`));
    const event = { job: job.id ?? '', run: data.run, windows };
    if (data.fingerprint !== encoder.info.fingerprint) {
      const error = `job for model ${data.fingerprint.slice(0, 12)}, this worker runs ${encoder.info.id} (${encoder.info.fingerprint.slice(0, 12)}): start workers with the index's model`;
      options.onJob?.({ ...event, phase: 'refused', embedded: 0, error });
      throw new UnrecoverableError(error);
    }
    const unseen = await unseenRoot(data.files, pathMap);
    if (unseen) {
      // every file of the archive would be recorded as failed: the worker's mount is wrong, not the files
      const mapped = unseen.mapped === unseen.root ? '' : ` (${unseen.root} on the coordinator, mapped by --path-map)`;
      const error = `worker ${id} cannot see the archive folder ${unseen.mapped}${mapped}: ${unseen.reason}; mount the archive there, or start the worker with --path-map ${unseen.root}=<the archive's folder on this machine>`;
      options.onJob?.({ ...event, phase: 'refused', embedded: 0, error });
      throw new UnrecoverableError(error);
    }
    options.onJob?.({ ...event, phase: 'start', embedded: 0 });
    const inputs: { root: string; path: string; input: WindowInput }[] = [];
    for (const file of data.files) {
      const read = await readFileWindows(mapPath(path.join(file.root, file.path), pathMap), file.reads, encoder, readAhead, file.identity);
      for (const input of read) inputs.push({ root: file.root, path: file.path, input });
    }
    const toEmbed = inputs.filter((i) => 'pixels' in i.input);
    const t0 = performance.now();
    const vectors = toEmbed.length > 0 ? await encoder.embedPixels(toEmbed.map((i) => (i.input as { pixels: Float32Array }).pixels), { handOver: true }) : [];
    const modelSeconds = (performance.now() - t0) / 1000;
    const vectorOf = new Map(toEmbed.map((i, n) => [i.input, vectors[n]!]));
    const result: EmbedJobResult = {
      worker: id,
      modelSeconds,
      windows: inputs.map(({ root, path: file, input }) => ({ root, path: file, key: input.key, ...toWire(input, vectorOf.get(input)) })),
    };
    options.onJob?.({ ...event, phase: 'done', embedded: toEmbed.length });
    return result;
  };

  let closing = false;
  // started before Redis (a machine booting, Redis restarting): waited out, as a Redis lost later is
  const connection = await connectRedisWhenUp(options.url, (where, reason) => options.onWaitingForRedis?.(where, reason), () => !closing);
  const worker = new Worker<EmbedJobData, EmbedJobResult>(options.queueName ?? DEFAULT_QUEUE_NAME, processJob, {
    connection,
    concurrency,
    lockDuration: lockSeconds * 1000,
    stalledInterval: lockSeconds * 1000,
    maxStalledCount: MAX_STALLED,
  });
  worker.on('error', (error) => {
    const lost = lostJob(error);
    if (lost) options.onLostJob?.(lost, error.message);
    else options.onError?.(error);
  });
  // connected already: a later 'ready' is a reconnection
  connection.on('ready', () => options.onReconnect?.());
  try {
    await worker.waitUntilReady();
  } catch (error) {
    await worker.close(true).catch(() => undefined);
    connection.disconnect();
    const hint = queueFailureHint(error as Error);
    throw new RsclipError('QUEUE_FAILED', `cannot use the queue on Redis: ${(error as Error).message}`, { cause: error, ...(hint ? { hint } : {}) });
  }
  return {
    id,
    async close() {
      closing = true;
      // with Redis away, the jobs in hand cannot be finished (they go back through stalled-job detection),
      // and BullMQ's close would wait for an 'end' that a client which lost Redis never emits
      if (connection.status !== 'ready') {
        worker.close(true).catch(() => undefined);
        connection.disconnect();
        return;
      }
      await worker.close();
      connection.disconnect();
    },
  };
}

/** The first root of a job's files that is not a readable folder on this machine (its mount or --path-map is wrong), with why. */
async function unseenRoot(files: EmbedJobData['files'], pathMap: readonly PathMapping[]): Promise<{ root: string; mapped: string; reason: string } | undefined> {
  for (const root of new Set(files.map((f) => f.root))) {
    const mapped = mapPath(root, pathMap);
    try {
      if (!(await fs.stat(mapped)).isDirectory()) return { root, mapped, reason: 'not a folder' };
      await fs.access(mapped, constants.R_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return { root, mapped, reason: code === 'ENOENT' || code === 'ENOTDIR' ? 'no such folder' : code === 'EACCES' ? 'permission denied' : (error as Error).message };
    }
  }
  return undefined;
}

/**
 * The job of an error BullMQ raises when a job's state in Redis is not what its worker holds
 * (a missing job or lock, a lock of another worker: its scripts' numeric codes); undefined for
 * any other error, such as a lost connection.
 */
function lostJob(error: Error): string | undefined {
  if (typeof (error as { code?: unknown }).code !== 'number') return undefined;
  return /\b[Jj]ob (\S+?)\.?\s/.exec(error.message)?.[1] ?? '';
}

function toWire(input: WindowInput, vector: Float32Array | undefined): WireResult {
  const fallback = 'fallback' in input && input.fallback ? { fallback: true as const } : {};
  if ('pixels' in input) return { vector: encodeVector(vector!), ...(input.decoded ? { decoded: input.decoded } : {}), ...fallback };
  if ('nodata' in input) return { nodata: true, ...fallback };
  return { error: input.error };
}
