/**
 * Runs in a thread of the indexer's decode pool (decode-pool.ts): decodes and preprocesses one
 * whole image file, or preprocesses one window already rendered to RGB. It imports image.ts
 * alone, never the model module's index, so a decoding thread loads sharp but not onnxruntime.
 * Errors come back as values (an RsclipError's code and hint would not survive the structured
 * clone), with the thread-seconds the task took either way.
 */
import type { PixelRecipe, PreprocessedImage } from '../model/index.js';
import { preprocessImage, preprocessRgb } from '../model/image.js';
import type { Raster8 } from '../model/resample.js';
import { RsclipError, type RsclipErrorCode } from '../errors.js';

export type DecodeTask = { kind: 'file'; path: string; recipe: PixelRecipe } | { kind: 'rgb'; rgb: Raster8; recipe: PixelRecipe };

export type DecodeOutcome =
  | { ok: true; image: PreprocessedImage }
  /** `code` is set for an RsclipError (a bad image); anything else is an internal failure. */
  | { ok: false; code: RsclipErrorCode | undefined; message: string; hint: string | undefined };

export type DecodeResult = DecodeOutcome & { seconds: number };

async function run(task: DecodeTask): Promise<PreprocessedImage> {
  const { preprocess, maxInputPixels } = task.recipe;
  if (task.kind === 'file') return preprocessImage(task.path, preprocess, maxInputPixels === undefined ? {} : { maxInputPixels });
  const { rgb } = task;
  return { pixels: preprocessRgb(rgb, preprocess), width: rgb.width, height: rgb.height, format: 'raw' };
}

export default async function decode(task: DecodeTask): Promise<DecodeResult> {
  const started = performance.now();
  let outcome: DecodeOutcome;
  try {
    outcome = { ok: true, image: await run(task) };
  } catch (error) {
    outcome =
      error instanceof RsclipError
        ? { ok: false, code: error.code, message: error.message, hint: error.hint }
        : { ok: false, code: undefined, message: error instanceof Error ? error.message : String(error), hint: undefined };
  }
  return { ...outcome, seconds: (performance.now() - started) / 1000 };
}
