/**
 * The only module that imports onnxruntime-node (when the first session opens): opens sessions,
 * describes their inputs and outputs, runs them, and turns runtime failures into RsclipErrors.
 */
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { RsclipError } from '../errors.js';
import { lazyPackage } from '../lazy-package.js';
import './onnx-telemetry.js';

const loadOrt = lazyPackage<typeof Ort>('onnxruntime-node');

export interface OnnxSessionOptions {
  /** Intra-op threads; defaults to the number of cores. */
  threads?: number;
  /** Graph optimisation level (default `all`: every fusion onnxruntime has for the CPU). */
  optimization?: 'basic' | 'extended' | 'all';
  /** Worker threads busy-wait between parallel sections (onnxruntime's default) or sleep. */
  spinning?: boolean;
  /** onnxruntime's CPU memory arena (default on). */
  memoryArena?: boolean;
  /** Writes the optimised graph here (to see what onnxruntime fused). */
  optimizedModelFile?: string;
  /** Profiles every run into `<prefix>_<date>.json` (per-node times). */
  profilePrefix?: string;
}

export interface OnnxValueInfo {
  name: string;
  type: string;
  /** Dimensions; a string is a symbolic (dynamic) axis. */
  shape: (number | string)[];
}

export type OnnxFeed =
  | { type: 'float32'; data: Float32Array; dims: number[] }
  /** Equal rows joined where the session runs (a model thread): the caller's thread allocates no batch. */
  | { type: 'float32'; rows: Float32Array[]; dims: number[] }
  | { type: 'int64'; data: BigInt64Array; dims: number[] };

/** Rows of `rowLength` values, one after the other in one array (`into`, when given, of that size). */
export function joinRows(rows: readonly Float32Array[], rowLength: number, into: Float32Array = new Float32Array(rows.length * rowLength)): Float32Array {
  rows.forEach((row, i) => into.set(row, i * rowLength));
  return into;
}

export interface OnnxOutput {
  data: Float32Array;
  dims: number[];
}

export function defaultThreadCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

function describe(meta: readonly Ort.InferenceSession.ValueMetadata[]): OnnxValueInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

export class OnnxSession {
  readonly file: string;
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];
  readonly #session: Ort.InferenceSession;
  /** The last batch joined from rows, kept for the next one of the same size (a stream of equal batches then allocates nothing). */
  #keptBatch: Float32Array | undefined;
  #keptBatchInUse = false;

  private constructor(file: string, session: Ort.InferenceSession) {
    this.file = file;
    this.#session = session;
    this.inputs = describe(session.inputMetadata);
    this.outputs = describe(session.outputMetadata);
  }

  static async open(file: string, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
    const threads = options.threads ?? defaultThreadCount();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RsclipError('BAD_INPUT', `Expected a positive integer for threads but received ${threads}`);
    }
    const { InferenceSession } = loadOrt();
    try {
      const session = await InferenceSession.create(file, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: options.optimization ?? 'all',
        ...(options.memoryArena === undefined ? {} : { enableCpuMemArena: options.memoryArena }),
        ...(options.optimizedModelFile ? { optimizedModelFilePath: options.optimizedModelFile } : {}),
        ...(options.profilePrefix ? { enableProfiling: true, profileFilePrefix: options.profilePrefix } : {}),
        ...(options.spinning === undefined ? {} : { extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } } }),
      });
      return new OnnxSession(file, session);
    } catch (cause) {
      throw new RsclipError('MODEL_INVALID', `cannot load ONNX model ${file}: ${(cause as Error).message.split('\n')[0]}`, {
        hint: 'fetch or export the model again',
        cause,
      });
    }
  }

  /** The rows in one array: the kept batch when it is free and fits, else a new one (kept when free). */
  #joinRows(rows: readonly Float32Array[]): Float32Array {
    const rowLength = rows[0]?.length ?? 0;
    if (this.#keptBatchInUse) return joinRows(rows, rowLength);
    if (this.#keptBatch?.length !== rows.length * rowLength) this.#keptBatch = new Float32Array(rows.length * rowLength);
    this.#keptBatchInUse = true;
    return joinRows(rows, rowLength, this.#keptBatch);
  }

  hasInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  /** Runs the graph and returns one float32 output. */
  async run(feeds: Record<string, OnnxFeed>, outputName: string): Promise<OnnxOutput> {
    return (await this.runOutputs(feeds, [outputName]))[outputName]!;
  }

  /** Runs the graph once and returns these float32 outputs. */
  async runOutputs(feeds: Record<string, OnnxFeed>, outputNames: readonly string[]): Promise<Record<string, OnnxOutput>> {
    const { Tensor } = loadOrt();
    const tensors: Record<string, Ort.Tensor> = {};
    let holdsKeptBatch = false;
    for (const [name, feed] of Object.entries(feeds)) {
      const data = 'data' in feed ? feed.data : this.#joinRows(feed.rows);
      holdsKeptBatch ||= data === this.#keptBatch;
      tensors[name] = feed.type === 'int64' ? new Tensor('int64', data as BigInt64Array, feed.dims) : new Tensor('float32', data as Float32Array, feed.dims);
    }
    let results: Ort.InferenceSession.OnnxValueMapType;
    try {
      results = await this.#session.run(tensors, [...outputNames]);
    } catch (cause) {
      throw new RsclipError('MODEL_INVALID', `running ${this.file} failed: ${(cause as Error).message.split('\n')[0]}`, { cause });
    } finally {
      if (holdsKeptBatch) this.#keptBatchInUse = false;
    }
    const outputs: Record<string, OnnxOutput> = {};
    for (const name of outputNames) {
      const out = results[name] as Ort.Tensor | undefined;
      if (!out || out.type !== 'float32') throw new RsclipError('MODEL_INVALID', `${this.file} did not produce a float32 output "${name}"`);
      outputs[name] = { data: out.data as Float32Array, dims: [...out.dims] };
    }
    return outputs;
  }

  async close(): Promise<void> {
    await this.#session.release();
  }
}
