/**
 * An ONNX session in a thread of its own, so that running it never blocks the event loop of the
 * thread that asked (see session-worker.ts). Same surface as OnnxSession where the encoder uses
 * it; inputs cross to the thread by transfer, outputs come back as copies.
 */
import { Piscina } from 'piscina';
import { RsclipError } from '../errors.js';
import { failingTogether, transferable, workerModule } from '../worker-module.js';
import type { OnnxFeed, OnnxOutput, OnnxSessionOptions, OnnxValueInfo } from './onnx.js';
import './onnx-telemetry.js';
import type { SessionAnswer, SessionTask } from './session-worker.js';

/** A run's output, and the arrays of a rows feed once the model thread has joined them (theirs alone now). */
export type SessionOutput = OnnxOutput & { spentRows?: Float32Array[] };

export interface ModelSession {
  readonly file: string;
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];
  run(feeds: Record<string, OnnxFeed>, outputName: string): Promise<SessionOutput>;
  close(): Promise<void>;
}

function answered(answer: SessionAnswer): Extract<SessionAnswer, { ok: true }> {
  if (answer.ok) return answer;
  if (answer.code) throw new RsclipError(answer.code, answer.message, answer.hint ? { hint: answer.hint } : {});
  throw new Error(`the model thread failed: ${answer.message}`);
}

type RunTask = (task: SessionTask, options?: { transferList: ArrayBuffer[] }) => Promise<SessionAnswer>;

export class ThreadedSession implements ModelSession {
  private constructor(
    readonly file: string,
    readonly inputs: OnnxValueInfo[],
    readonly outputs: OnnxValueInfo[],
    private readonly pool: Piscina<SessionTask, SessionAnswer>,
    private readonly runTask: RunTask,
  ) {}

  static async open(file: string, options: OnnxSessionOptions = {}): Promise<ThreadedSession> {
    // one thread, kept while the session is open: it holds the session
    const pool = new Piscina<SessionTask, SessionAnswer>({ ...workerModule('session-worker', import.meta.url), minThreads: 1, maxThreads: 1, idleTimeout: Number.POSITIVE_INFINITY });
    const runTask: RunTask = failingTogether(pool);
    try {
      const { inputs, outputs } = answered(await runTask({ kind: 'open', file, options }));
      return new ThreadedSession(file, inputs!, outputs!, pool, runTask);
    } catch (error) {
      await pool.destroy();
      throw error;
    }
  }

  async run(feeds: Record<string, OnnxFeed>, outputName: string): Promise<SessionOutput> {
    const transferList = transferable(Object.values(feeds).flatMap((feed) => ('data' in feed ? [feed.data] : feed.rows)));
    const { output, spentRows } = answered(await this.runTask({ kind: 'run', feeds, output: outputName }, { transferList }));
    return { ...output!, ...(spentRows ? { spentRows } : {}) };
  }

  async close(): Promise<void> {
    try {
      answered(await this.runTask({ kind: 'close' }));
    } finally {
      await this.pool.destroy();
    }
  }
}
