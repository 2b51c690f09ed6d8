/**
 * Micro-batching of text embeddings (MicroBatcher): texts asked for while the encoder is busy, or
 * in the same turn of the event loop (or within `windowMs` of each other, when given), go to the
 * text tower in one call, and each caller gets its own vector back. One encoder call runs at a
 * time, so concurrent queries share the encoder instead of competing for its threads.
 */
import { invalidParameter } from '../errors.js';
import { MicroBatcher } from '../micro-batcher.js';

export interface TextBatcherOptions {
  /** How long the first text of a batch waits for company when the encoder is idle, at most MAX_BATCH_WINDOW_MS. Default 0: until the event loop's current turn ends. */
  windowMs?: number;
  /** Most texts per encoder call, 1 or more. Default 32. */
  maxBatch?: number;
}

/** The longest batching window: every lone text waits that long, past the patience of a search's client. */
export const MAX_BATCH_WINDOW_MS = 60_000;

/**
 * Throws BAD_INPUT unless `options` (a Searcher's or server's `batching`) is an object whose fields
 * are in range: a batch of fewer than one text never empties the queue, and the batcher would spin
 * on empty batches, holding the event loop, instead of answering.
 */
function checkBatchingOptions(options: unknown): asserts options is TextBatcherOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidParameter('batching', 'an object of windowMs and maxBatch', options);
  const { windowMs, maxBatch } = options as Record<string, unknown>;
  if (windowMs !== undefined && (typeof windowMs !== 'number' || !(windowMs >= 0 && windowMs <= MAX_BATCH_WINDOW_MS))) {
    throw invalidParameter('batching.windowMs', `a number of milliseconds from 0 to ${MAX_BATCH_WINDOW_MS}`, windowMs);
  }
  if (maxBatch !== undefined && (typeof maxBatch !== 'number' || !Number.isSafeInteger(maxBatch) || maxBatch < 1)) {
    throw invalidParameter('batching.maxBatch', 'a positive integer (texts per encoder call)', maxBatch);
  }
}

export type EmbedTexts = (texts: string[]) => Promise<Float32Array[]>;

export class TextEmbeddingBatcher {
  readonly #batcher: MicroBatcher<string, Float32Array>;

  constructor(embed: EmbedTexts, options: TextBatcherOptions = {}) {
    checkBatchingOptions(options);
    this.#batcher = new MicroBatcher(embed, { windowMs: options.windowMs, maxBatch: options.maxBatch ?? 32 });
  }

  embed(text: string): Promise<Float32Array> {
    return this.#batcher.add(text);
  }

  /** Encoder calls made and texts sent (for tests and the stats route). */
  get counts(): { calls: number; texts: number } {
    return { calls: this.#batcher.counts.calls, texts: this.#batcher.counts.requests };
  }
}
