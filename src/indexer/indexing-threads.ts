/**
 * How an indexing run shares the machine: onnxruntime's intra-op threads, the decode pool's
 * threads and the images per model run, chosen from the number of cores unless given.
 *
 * The model is the bottleneck: on a ViT-B/32 it costs 20-40 core-milliseconds an image where
 * decoding and resizing an RSICD-sized image costs 1-3, so on few cores onnxruntime gets every
 * core and the main thread decodes: a pool thread there has no core of its own, and handing
 * work to it cost more than it saved (measured on 2 cores, README "Indexing performance").
 * From 4 cores on, a quarter of them decode (large scenes' windows cost more), which also
 * leaves onnxruntime in the range where its intra-op threads still scale.
 */
import { availableParallelism } from 'node:os';
import type { OpenClipOptions } from '../model/encoder.js';

export interface IndexingThreads {
  /** onnxruntime intra-op threads of the vision tower. */
  onnxThreads: number;
  /** Threads of the decode pool (0: decode on the main thread). */
  decodeThreads: number;
  /** Images per model run. */
  batchSize: number;
  /** Whether onnxruntime's threads busy-wait between parallel sections (its default) or sleep (onnxSpinningFor). */
  onnxSpinning: boolean;
  /** Vision-tower sessions running batches side by side, sharing `onnxThreads` between them. */
  modelSessions: number;
}

/** More decoding threads than this never pay: a few keep the model fed on any machine. */
const MAX_DECODE_THREADS = 8;

/**
 * The most decode threads a run may be given on `cores` cores: each is a worker with a V8 heap and
 * image buffers of its own, and decoding is CPU work, so threads past the cores only compete for
 * them; twice the cores leaves room for windows read from slow storage (a million threads, asked
 * for by mistake, took 13 GB and never started).
 */
export function maxDecodeThreads(cores = availableParallelism()): number {
  return Math.max(MAX_DECODE_THREADS, 2 * cores);
}

export function chooseIndexingThreads(given: Partial<IndexingThreads> = {}, cores = availableParallelism()): IndexingThreads {
  const onnxThreads = given.onnxThreads ?? (cores < 4 ? cores : cores - Math.floor(cores / 4));
  const decodeThreads = given.decodeThreads ?? Math.min(MAX_DECODE_THREADS, Math.max(0, cores - onnxThreads));
  // a batch of at least 4 images per onnxruntime thread keeps its parallel loops full
  const batchSize = given.batchSize ?? Math.max(32, Math.min(128, 4 * onnxThreads));
  const onnxSpinning = given.onnxSpinning ?? onnxSpinningFor(onnxThreads, cores);
  // one session: a second one indexed 5-9 % faster with the int8 model on 2 cores but not with
  // fp32, for 0.4 or 0.8 GB more memory (README "Indexing performance")
  const modelSessions = given.modelSessions ?? 1;
  return { onnxThreads, decodeThreads, batchSize, onnxSpinning, modelSessions };
}

/**
 * How an indexing run opens its encoder: its sessions and their share of the threads, their
 * spinning, and each batch in one model run (the encoder's default of 32 images a run split the
 * batches of 9 cores and more in two).
 */
export function indexingEncoderOptions(machine: IndexingThreads): Required<Pick<OpenClipOptions, 'threads' | 'visionSessions' | 'spinning' | 'maxImageBatch'>> {
  const threads = threadsPerSession(machine.onnxThreads, machine.modelSessions);
  return { threads, visionSessions: machine.modelSessions, spinning: machine.onnxSpinning, maxImageBatch: machine.batchSize };
}

/** Each of `sessions` sessions' share of `threads` onnxruntime threads (at least one). */
export function threadsPerSession(threads: number, sessions: number): number {
  return Math.max(1, Math.floor(threads / sessions));
}

/**
 * Whether `onnxThreads` onnxruntime threads (undefined: onnxruntime's default, one per core) should
 * busy-wait between parallel sections: only when they leave cores to the rest of the work. On 2
 * cores, indexing with them asleep used about 2 ms less CPU per image and ran about 3 % faster
 * (README "Indexing performance").
 */
export function onnxSpinningFor(onnxThreads: number | undefined, cores = availableParallelism()): boolean {
  return onnxThreads !== undefined && onnxThreads < cores;
}
