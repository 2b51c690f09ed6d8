/**
 * Micro-batching of text embeddings (MicroBatcher): texts asked for while the encoder is busy, or
 * in the same turn of the event loop (or within `windowMs` of each other, when given), go to the
 * text tower in one call, and each caller gets its own vector back. One encoder call runs at a
 * time, so concurrent queries share the encoder instead of competing for its threads.
 */
import { MicroBatcher } from '../micro-batcher.js';

export interface TextBatcherOptions {
  /** How long the first text of a batch waits for company when the encoder is idle. Default 0: until the event loop's current turn ends. */
  windowMs?: number;
  /** Most texts per encoder call. Default 32. */
  maxBatch?: number;
}

export type EmbedTexts = (texts: string[]) => Promise<Float32Array[]>;

export class TextEmbeddingBatcher {
  readonly #batcher: MicroBatcher<string, Float32Array>;

  constructor(embed: EmbedTexts, options: TextBatcherOptions = {}) {
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
