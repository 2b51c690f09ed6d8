/**
 * Where the indexer decodes and preprocesses pixels: a pool of worker threads (piscina), so that
 * the resize and normalisation, which run in JavaScript (3-55 ms for a large image), and the
 * reading and stretching of scene windows never hold up the main thread that feeds the model
 * and commits; or the main thread itself when the pool has no threads (below 4 cores, see
 * indexing-threads.ts) or the encoder's preprocessing cannot leave it (test encoders). Both give
 * the same pixels bit for bit: the workers run the model's own preprocessing with its config.
 */
import { Piscina } from 'piscina';
import { RsclipError } from '../errors.js';
import type { PlannedWindow } from '../geo/tiling.js';
import type { AlreadyRead, ClipEncoder, PixelRecipe, PreprocessedImage } from '../model/encoder-types.js';
import type { PixelArrayPool } from '../model/pixel-arrays.js';
import type { Raster8 } from '../model/resample.js';
import type { ReadOptions } from '../raster/types.js';
import { failingTogether, transferable, workerModule } from '../worker-module.js';
import type { DecodeResult, DecodeTask } from './decode-worker.js';
import type { SceneFile } from './scene-windows.js';

export interface PixelPreparer {
  /** Threads decoding (0: the main thread). */
  readonly threads: number;
  /** Thread-seconds spent decoding and preprocessing so far. */
  readonly busySeconds: number;
  /** CPU seconds of the pool's own threads so far (0 on the main thread, whose CPU is counted there; undefined where threads have no clock). */
  readonly cpuSeconds: number | undefined;
  /** Decodes a whole image file and preprocesses it, as the encoder's `preprocess` does (`alreadyRead`: its bytes read already). */
  file(path: string, alreadyRead?: AlreadyRead): Promise<PreprocessedImage>;
  /** Preprocesses a window rendered to 8-bit RGB, as the encoder's `preprocessRgb` does; takes ownership of `rgb.data`. */
  rgb(rgb: Raster8): Promise<Float32Array>;
  /**
   * Present when the preparer reads scene windows in its own threads: reads a window of the
   * scene at `size` (from readSize), renders it with the scene's stretch and preprocesses it;
   * undefined when the window is mostly nodata.
   */
  window?(scene: SceneFile, window: PlannedWindow, size: ReadOptions | undefined): Promise<Float32Array | undefined>;
  close(): Promise<void>;
}

/** Everything on the calling thread, through the encoder itself. */
class MainThreadPreparer implements PixelPreparer {
  readonly threads = 0;
  readonly cpuSeconds = 0;
  busySeconds = 0;

  constructor(private readonly encoder: ClipEncoder) {}

  async file(path: string, alreadyRead?: AlreadyRead): Promise<PreprocessedImage> {
    const started = performance.now();
    try {
      return await this.encoder.preprocess(path, alreadyRead);
    } finally {
      this.busySeconds += (performance.now() - started) / 1000;
    }
  }

  async rgb(rgb: Raster8): Promise<Float32Array> {
    const started = performance.now();
    const pixels = this.encoder.preprocessRgb(rgb);
    this.busySeconds += (performance.now() - started) / 1000;
    return pixels;
  }

  async close(): Promise<void> {}
}

/** Idle threads are kept for the whole run: the next file is never far away. */
const IDLE_THREAD_MS = 60_000;

/**
 * Threads that each keep the few scenes whose windows they read open (a window task names the
 * file, the options and the stretch; consecutive windows of a scene do not open it again).
 * With the encoder's `pixelArrays`, each task writes its pixels into an array taken there and
 * moved to the thread, which the model gives back after its run: new arrays every item (602 KB
 * each, allocated in the threads and moved here) made the main thread collect its garbage in
 * full every 20 or so items.
 */
export class DecodePool implements PixelPreparer {
  busySeconds = 0;
  /** Each thread's CPU as of its latest task (none: a thread without a clock answered). */
  #threadCpu: Map<number, number> | undefined = new Map();
  readonly #pool: Piscina<DecodeTask, DecodeResult>;
  readonly #runTask: (task: DecodeTask, options: { transferList: ArrayBuffer[] }) => Promise<DecodeResult>;

  constructor(
    private readonly recipe: PixelRecipe,
    readonly threads: number,
    private readonly arrays?: PixelArrayPool,
  ) {
    if (!Number.isInteger(threads) || threads < 1) throw new RsclipError('BAD_INPUT', `Expected a positive integer for decode threads but received ${threads}`);
    // workerData set: geotiff's web-worker dependency, imported in a thread, destructures it and throws when it is undefined
    this.#pool = new Piscina({ ...workerModule('decode-worker', import.meta.url), workerData: {}, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_THREAD_MS });
    this.#runTask = failingTogether(this.#pool);
  }

  get cpuSeconds(): number | undefined {
    return this.#threadCpu && [...this.#threadCpu.values()].reduce((sum, seconds) => sum + seconds, 0);
  }

  async file(path: string, alreadyRead?: AlreadyRead): Promise<PreprocessedImage> {
    // the bytes are copied to the thread, not transferred: a small Buffer may share its memory with others
    return (await this.#run({ kind: 'file', path, recipe: this.recipe, ...(alreadyRead ? { alreadyRead } : {}) }))!;
  }

  async window(scene: SceneFile, window: PlannedWindow, size: ReadOptions | undefined): Promise<Float32Array | undefined> {
    return (await this.#run({ kind: 'window', scene, window, size, recipe: this.recipe }))?.pixels;
  }

  async rgb(rgb: Raster8): Promise<Float32Array> {
    return (await this.#run({ kind: 'rgb', rgb, recipe: this.recipe }, transferable([rgb.data])))!.pixels;
  }

  async #run(task: DecodeTask, transferList: ArrayBuffer[] = []): Promise<PreprocessedImage | null> {
    const into = this.arrays?.take();
    const result = await this.#runTask(into ? { ...task, into } : task, { transferList: into ? [...transferList, ...transferable([into])] : transferList });
    if (result.unused) this.arrays?.give([result.unused]);
    this.busySeconds += result.seconds;
    if (result.threadCpuSeconds === undefined) this.#threadCpu = undefined;
    else this.#threadCpu?.set(result.threadId, result.threadCpuSeconds);
    if (result.ok) return result.image;
    if (result.code) throw new RsclipError(result.code, result.message, result.hint ? { hint: result.hint } : {});
    // a scene window fails its file with the text the main thread's read would give (describeError)
    if (task.kind === 'window') throw Object.assign(new Error(result.message), result.errno ? { code: result.errno } : {});
    throw new Error(`decoding in a worker thread failed: ${result.message}`);
  }

  /** The threads end, and the scenes they keep open with them (a thread's file descriptors are closed when it exits). */
  close(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** A pool of `threads` threads when the encoder's preprocessing can run in one, else the main thread. */
export function openPixelPreparer(encoder: ClipEncoder, threads: number): PixelPreparer {
  const recipe = encoder.pixelRecipe;
  return recipe && threads > 0 ? new DecodePool(recipe, threads, encoder.pixelArrays) : new MainThreadPreparer(encoder);
}
