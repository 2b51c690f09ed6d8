/**
 * Query images uploaded to the server: decoded and preprocessed in a small pool of worker
 * threads, so that a large upload never stalls the event loop that answers every other request
 * (preprocessing runs in JavaScript: on the main thread a 13,000-pixel square blocked it for
 * seconds). At most `threads` images are decoded at once and at most `maxQueued` wait; more
 * are answered 503. Requests take turns at the threads (a FairQueue), so one request's sixteen
 * large images delay another's small one by one decode, not sixteen. The header check that comes
 * first (checkQueryImage: raster formats only, at most `maxPixels`) is the route's, before an
 * upload is queued at all.
 *
 * Decoded images then share runs of the vision tower: those decoded while it runs go to its next
 * run together, whose cost per image is lower (full-size int8 tower on 2 cores: 15.5-17.3 ms for
 * one image, 11.5-12.6 ms each for four), and none waits behind the others one run at a time.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { RsclipError } from '../errors.js';
import { FairQueue, QueueFullError } from '../fair-queue.js';
import { MicroBatcher } from '../micro-batcher.js';
import { workerModule } from '../worker-module.js';
import type { ClipEncoder, ImageSource, PreprocessedImage, QueryRendering } from '../model/encoder-types.js';
import type { PreprocessConfig } from '../model/model-dir.js';
import { HttpError } from './http-error.js';
import type { QueryImageResult, QueryImageTask } from './query-image-worker.js';

export interface QueryDecodeOptions {
  /** Largest query image in pixels (width x height). */
  maxPixels: number;
  /** Images decoded at once (worker threads). */
  threads: number;
  /** Images waiting for a thread; past this the server answers 503. */
  maxQueued: number;
  /** Threads kept however long they idle (default 0): an upload after a pause then waits for no thread to start. */
  keptThreads?: number;
}

export const DEFAULT_QUERY_DECODE_THREADS = Math.max(1, Math.min(2, availableParallelism()));
export const DEFAULT_QUERY_DECODE_QUEUE = 16;
/** Most query images in one run of the vision tower (images decoded while it runs wait for the next one, together). */
const QUERY_IMAGE_BATCH = 8;
/** Idle decoding threads (past the kept ones) end after this long; the next upload starts one again. */
const IDLE_THREAD_MS = 60_000;

export class QueryImageDecoder {
  /** Made at the first upload: kept threads start then, not while the server starts (where they slowed its first answer). */
  #pool: Piscina<QueryImageTask, QueryImageResult> | undefined;
  #closed = false;
  readonly #preprocess: PreprocessConfig;
  readonly #options: QueryDecodeOptions;
  /** What the threads work on next: at most `threads` tasks are in the pool at once, the rest wait here, taking turns by request. */
  readonly #queue: FairQueue;

  constructor(preprocess: PreprocessConfig, options: QueryDecodeOptions) {
    this.#preprocess = preprocess;
    this.#options = options;
    this.#queue = new FairQueue(options.threads, options.maxQueued);
  }

  #threads(): Piscina<QueryImageTask, QueryImageResult> {
    if (this.#closed) throw new Error('the query image decoder is closed');
    const { keptThreads = 0, threads } = this.#options;
    // workerData set: geotiff's web-worker dependency (query TIFFs), imported in a thread, destructures it and throws when it is undefined
    this.#pool ??= new Piscina({ ...workerModule('query-image-worker', import.meta.url), workerData: {}, minThreads: Math.min(keptThreads, threads), maxThreads: threads, idleTimeout: IDLE_THREAD_MS });
    return this.#pool;
  }

  /** `image`: encoded bytes or a path; `owner`: what the image belongs to (one request's images share it); owners take turns at the threads; `rendering`: the index's band choice and stretch. */
  async preprocess(image: ImageSource, owner: object = {}, rendering: QueryRendering = {}): Promise<PreprocessedImage> {
    let result: QueryImageResult;
    try {
      result = await this.#queue.run(owner, () => this.#threads().run({ image, preprocess: this.#preprocess, maxPixels: this.#options.maxPixels, rendering }));
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpError(503, 'SERVER_BUSY', 'too many image queries are being decoded; try again in a moment', { 'Retry-After': '1' });
      }
      throw error;
    }
    if (result.ok) return { pixels: result.pixels, width: result.width, height: result.height, format: result.format };
    if (result.code) throw new RsclipError(result.code, result.message, result.hint ? { hint: result.hint } : {});
    throw new Error(`decoding a query image failed: ${result.message}`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.destroy();
  }
}

/**
 * The encoder as the server's searcher uses it: query images (uploaded bytes, or paths) go through
 * the decoder's threads, then to the vision tower; everything else goes to `encoder` unchanged.
 */
export function withQueryImageDecoder(encoder: ClipEncoder, decoder: QueryImageDecoder): ClipEncoder {
  const preprocess = (image: ImageSource, owner?: object, rendering?: QueryRendering): Promise<PreprocessedImage> => decoder.preprocess(image, owner, rendering);
  const tower = new MicroBatcher<Float32Array, Float32Array>((pixels) => encoder.embedPixels(pixels, { handOver: true }), {
    maxBatch: QUERY_IMAGE_BATCH,
    concurrency: encoder.visionSessions ?? 1,
  });
  return {
    get info() {
      return encoder.info;
    },
    get runCount() {
      return encoder.runCount;
    },
    get pixelRecipe() {
      return encoder.pixelRecipe;
    },
    embedTexts: (texts) => encoder.embedTexts(texts),
    textTokens: (text) => encoder.textTokens(text),
    preprocess: (image) => preprocess(image),
    preprocessRgb: (rgb) => encoder.preprocessRgb(rgb),
    embedPixels: (pixels, options) => encoder.embedPixels(pixels, options),
    async embedImages(images, rendering) {
      if (!Array.isArray(images) || images.length === 0) return encoder.embedImages(images, rendering);
      const request = {};
      return Promise.all(images.map(async (image) => tower.add((await preprocess(image, request, rendering)).pixels)));
    },
    async close() {
      await decoder.close();
      await encoder.close();
    },
  };
}
