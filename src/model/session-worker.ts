/**
 * Runs in the encoder's model thread (session-thread.ts): opens one ONNX session and runs it.
 * onnxruntime-node runs a session synchronously on the thread that calls it, so on the main
 * thread a batch of a full-size model (seconds on two cores) would stop everything else: reading
 * scene windows, handing work to the decode pool, committing. Errors come back as values (an
 * RsclipError's code and hint would not survive the structured clone).
 */
import { RsclipError, type RsclipErrorCode } from '../errors.js';
import { movingBack, transferable } from '../worker-module.js';
import { OnnxSession, type OnnxFeed, type OnnxOutput, type OnnxSessionOptions, type OnnxValueInfo } from './onnx.js';

export type SessionTask =
  | { kind: 'open'; file: string; options: OnnxSessionOptions }
  | { kind: 'run'; feeds: Record<string, OnnxFeed>; output: string }
  | { kind: 'close' };

export type SessionAnswer =
  /** `spentRows`: a run's rows feed, given back once joined into the batch (moved, not copied). */
  | { ok: true; inputs?: OnnxValueInfo[]; outputs?: OnnxValueInfo[]; output?: OnnxOutput; spentRows?: Float32Array[] }
  | { ok: false; code: RsclipErrorCode | undefined; message: string; hint: string | undefined };

let session: OnnxSession | undefined;

async function handle(task: SessionTask): Promise<SessionAnswer> {
  if (task.kind === 'open') {
    session = await OnnxSession.open(task.file, task.options);
    return { ok: true, inputs: session.inputs, outputs: session.outputs };
  }
  if (task.kind === 'close') {
    await session?.close();
    session = undefined;
    return { ok: true };
  }
  if (!session) throw new Error('the model thread has no open session');
  const output = await session.run(task.feeds, task.output);
  const spent = transferable(Object.values(task.feeds).flatMap((feed) => ('rows' in feed ? feed.rows : [])));
  return movingBack({ ok: true, output, spentRows: spent.map((buffer) => new Float32Array(buffer)) }, spent);
}

export default async function sessionTask(task: SessionTask): Promise<SessionAnswer> {
  try {
    return await handle(task);
  } catch (error) {
    if (error instanceof RsclipError) return { ok: false, code: error.code, message: error.message, hint: error.hint };
    return { ok: false, code: undefined, message: error instanceof Error ? error.message : String(error), hint: undefined };
  }
}
