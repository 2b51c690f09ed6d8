/** What every evaluation run does around its work: take its options, open (or borrow) the encoder, time its phases, record itself. */
import { RsclipError } from '../errors.js';
import type { ClipEncoder, ModelInfo } from '../model/encoder-types.js';
import { openClip } from '../model/encoder.js';
import type { ModelVariant } from '../model/model-dir.js';
import { version } from '../version.js';
import type { BootstrapOptions } from './bootstrap.js';
import type { EvalProgress } from './image-vectors.js';

export const DEFAULT_BATCH = 32;

/** Options of every evaluation that runs a model over images. */
export interface ModelRunOptions {
  /** Model directory (opened and closed here) or an open encoder (left open). */
  model: string | ClipEncoder;
  /** Images per model run. Default 32. */
  batchSize?: number;
  threads?: number;
  variant?: ModelVariant;
  bootstrap?: BootstrapOptions;
  /** The command line to record in the report. */
  commandLine?: string;
  onProgress?: (progress: EvalProgress) => void;
}

export type EncoderChoice = Pick<ModelRunOptions, 'model' | 'threads' | 'variant'>;

export function batchSizeOf(options: Pick<ModelRunOptions, 'batchSize'>): number {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RsclipError('BAD_INPUT', `Expected positive integer for batch but received ${batchSize}`);
  return batchSize;
}

/** What every report records about its run. */
export interface RunRecord {
  rsclipVersion: string;
  /** ISO time the run started. */
  date: string;
  commandLine: string | null;
  wallSeconds: number;
}

/** Starts a run's clock; the function returned gives its record, wall time so far included. */
export function startRun(commandLine: string | undefined): () => RunRecord {
  const started = performance.now();
  const date = new Date().toISOString();
  return () => ({ rsclipVersion: version, date, commandLine: commandLine ?? null, wallSeconds: (performance.now() - started) / 1000 });
}

export async function withEncoder<T>(choice: EncoderChoice, run: (encoder: ClipEncoder) => Promise<T>): Promise<T> {
  if (typeof choice.model !== 'string') return run(choice.model);
  const encoder = await openClip(choice.model, { ...(choice.threads ? { threads: choice.threads } : {}), ...(choice.variant ? { variant: choice.variant } : {}) });
  try {
    return await run(encoder);
  } finally {
    await encoder.close();
  }
}

/** Seconds since the previous lap (or since the clock started). */
export function phaseClock(): () => number {
  let at = performance.now();
  return () => {
    const now = performance.now();
    const seconds = (now - at) / 1000;
    at = now;
    return seconds;
  };
}

export interface ReportModel {
  id: string;
  fingerprint: string;
  variant: string;
}

export function reportModel(info: ModelInfo): ReportModel {
  return { id: info.id, fingerprint: info.fingerprint, variant: info.variant };
}
