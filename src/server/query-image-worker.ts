/**
 * Runs in a worker thread of the query-image pool (query-images.ts): decodes and preprocesses one
 * query image (an upload, or a path a library caller gave) as the indexer renders the same file. It imports image.ts alone, not the model module's index, so that a decoding
 * thread loads sharp but never onnxruntime. Errors come back as values: an RsclipError's code
 * and hint would not survive the structured clone between threads.
 */
import type { QueryRendering } from '../model/encoder-types.js';
import type { PreprocessConfig } from '../model/model-dir.js';
import { preprocessQueryImage } from '../model/image.js';
import { RsclipError, type RsclipErrorCode } from '../errors.js';

export interface QueryImageTask {
  /** The encoded file, or its path. */
  image: Uint8Array | string;
  preprocess: PreprocessConfig;
  maxPixels: number;
  /** The index's band choice and stretch. */
  rendering: QueryRendering;
}

export type QueryImageResult =
  | { ok: true; pixels: Float32Array; width: number; height: number; format: string }
  /** `code` is set for an RsclipError (a bad image); anything else is an internal failure. */
  | { ok: false; code: RsclipErrorCode | undefined; message: string; hint: string | undefined };

export default async function decodeQueryImage(task: QueryImageTask): Promise<QueryImageResult> {
  try {
    const { image: given } = task;
    const source = typeof given === 'string' ? given : Buffer.from(given.buffer, given.byteOffset, given.byteLength);
    const image = await preprocessQueryImage(source, task.preprocess, { ...task.rendering, maxInputPixels: task.maxPixels });
    return { ok: true, ...image };
  } catch (error) {
    if (error instanceof RsclipError) return { ok: false, code: error.code, message: error.message, hint: error.hint };
    return { ok: false, code: undefined, message: error instanceof Error ? error.message : String(error), hint: undefined };
  }
}
