/**
 * Runs in a worker thread of the query-image pool (query-images.ts): decodes and preprocesses one
 * uploaded image. It imports image.ts alone, not the model module's index, so that a decoding
 * thread loads sharp but never onnxruntime. Errors come back as values: an RsclipError's code
 * and hint would not survive the structured clone between threads.
 */
import type { PreprocessConfig } from '../model/model-dir.js';
import { preprocessImage } from '../model/image.js';
import { RsclipError, type RsclipErrorCode } from '../errors.js';

export interface QueryImageTask {
  bytes: Uint8Array;
  preprocess: PreprocessConfig;
  maxPixels: number;
}

export type QueryImageResult =
  | { ok: true; pixels: Float32Array; width: number; height: number; format: string }
  /** `code` is set for an RsclipError (a bad image); anything else is an internal failure. */
  | { ok: false; code: RsclipErrorCode | undefined; message: string; hint: string | undefined };

export default async function decodeQueryImage(task: QueryImageTask): Promise<QueryImageResult> {
  try {
    const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    const image = await preprocessImage(bytes, task.preprocess, { maxInputPixels: task.maxPixels, rasterOnly: true });
    return { ok: true, ...image };
  } catch (error) {
    if (error instanceof RsclipError) return { ok: false, code: error.code, message: error.message, hint: error.hint };
    return { ok: false, code: undefined, message: error instanceof Error ? error.message : String(error), hint: undefined };
  }
}
