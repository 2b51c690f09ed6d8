/**
 * Runs in a thread of the indexer's decode pool (decode-pool.ts): decodes and preprocesses one
 * whole image file, preprocesses one window already rendered to RGB, or reads one window of a
 * scene, renders it with the scene's stretch, checks it for nodata and preprocesses it. It
 * imports image.ts alone, never the model module's index, so a decoding thread loads sharp but
 * not onnxruntime. Errors come back as values (an RsclipError's code and hint would not survive
 * the structured clone), with the thread-seconds the task took either way.
 */
import { threadId } from 'node:worker_threads';
import type { PlannedWindow } from '../geo/tiling.js';
import type { AlreadyRead, PixelRecipe, PreprocessedImage } from '../model/encoder-types.js';
import { preprocessImage, preprocessRgb } from '../model/image.js';
import type { Raster8 } from '../model/resample.js';
import { openRaster } from '../raster/open-raster.js';
import { Scene } from '../raster/scene.js';
import type { RasterSource, ReadOptions } from '../raster/types.js';
import { RsclipError, type RsclipErrorCode } from '../errors.js';
import { renderWindow, type SceneFile } from './scene-windows.js';
import { movingBack, transferable } from '../worker-module.js';
import { threadCpuSeconds } from './thread-cpu.js';

/** The thread's CPU once its modules are loaded: loading them is not decoding. */
const cpuAtLoad = threadCpuSeconds();

/** `into`: an array, moved here, that the pixels are written into (else a new one). */
export type DecodeTask = (
  | { kind: 'file'; path: string; recipe: PixelRecipe; alreadyRead?: AlreadyRead }
  | { kind: 'rgb'; rgb: Raster8; recipe: PixelRecipe }
  /** `size`: from readSize, as the main thread would read it. */
  | { kind: 'window'; scene: SceneFile; window: PlannedWindow; size: ReadOptions | undefined; recipe: PixelRecipe }
) & { into?: Float32Array };

export type DecodeOutcome =
  /** `image` is null for a scene window that is mostly nodata. */
  | { ok: true; image: PreprocessedImage | null }
  /** `code` is set for an RsclipError (a bad image); `errno` for a system error (ENOENT...); anything else is an internal failure. */
  | { ok: false; code: RsclipErrorCode | undefined; message: string; hint: string | undefined; errno: string | undefined };

/**
 * `threadCpuSeconds`: this thread's CPU since it loaded this module, after the task (undefined
 * where threads have no clock, see thread-cpu.ts); one clock read per task, summed by thread.
 * `unused`: the task's `into` when no pixels were written into it (a failure, a nodata window).
 */
export type DecodeResult = DecodeOutcome & { seconds: number; threadId: number; threadCpuSeconds: number | undefined; unused?: Float32Array };

/** Scenes open at once in one thread: the few files whose windows are being read, not every file of the run. */
const KEPT_SCENES = 2;

/**
 * The sources this thread has open, least recently used first; a thread runs one task at a time.
 * Those still open when the pool ends close with the thread (Node closes the file descriptors a
 * worker opened, trackUnmanagedFds).
 */
const sources = new Map<string, Promise<RasterSource>>();

async function openSource(scene: SceneFile): Promise<RasterSource> {
  const key = `${scene.path}\0${JSON.stringify(scene.options)}`;
  const kept = sources.get(key);
  sources.delete(key);
  const source = kept ?? openRaster(scene.path, scene.options);
  sources.set(key, source);
  // a file that cannot be opened is tried again by its next window, as the main thread would
  if (!kept) source.catch(() => sources.get(key) === source && sources.delete(key));
  while (sources.size > KEPT_SCENES) {
    const [oldest, evicted] = sources.entries().next().value!;
    sources.delete(oldest);
    await (await evicted.catch(() => undefined))?.close();
  }
  return source;
}

async function run(task: DecodeTask): Promise<PreprocessedImage | null> {
  const { preprocess, maxInputPixels } = task.recipe;
  if (task.kind === 'file') return preprocessImage(task.path, preprocess, { ...(maxInputPixels === undefined ? {} : { maxInputPixels }), ...(task.alreadyRead ? { alreadyRead: task.alreadyRead } : {}) }, task.into);
  const rgb = task.kind === 'rgb' ? task.rgb : await renderWindow(Scene.fromSource(await openSource(task.scene), task.scene.stretch), task.window, task.size);
  return rgb ? { pixels: preprocessRgb(rgb, preprocess, 'torchvision', task.into), width: rgb.width, height: rgb.height, format: 'raw' } : null;
}

export default async function decode(task: DecodeTask): Promise<DecodeResult> {
  const started = performance.now();
  let outcome: DecodeOutcome;
  try {
    outcome = { ok: true, image: await run(task) };
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException | undefined)?.code;
    outcome =
      error instanceof RsclipError
        ? { ok: false, code: error.code, message: error.message, hint: error.hint, errno: undefined }
        : { ok: false, code: undefined, message: error instanceof Error ? error.message : String(error), hint: undefined, errno: typeof errno === 'string' ? errno : undefined };
  }
  const cpu = threadCpuSeconds();
  const pixels = outcome.ok ? outcome.image?.pixels : undefined;
  const unused = pixels ? undefined : task.into;
  const result: DecodeResult = { ...outcome, seconds: (performance.now() - started) / 1000, threadId, threadCpuSeconds: cpu === undefined || cpuAtLoad === undefined ? undefined : cpu - cpuAtLoad, ...(unused ? { unused } : {}) };
  // the pixels (or the array that was not needed) move to the main thread rather than being copied there
  const moving = pixels ?? unused;
  return movingBack(result, moving ? transferable([moving]) : []);
}
