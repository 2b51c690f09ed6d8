/**
 * Micro-batching of text embeddings: texts asked for while the encoder is busy, or in the same
 * turn of the event loop (or within `windowMs` of each other, when given), go to the text tower in
 * one call, and each caller gets its own vector back. One encoder call runs at a time, so
 * concurrent queries share the encoder instead of competing for its threads; a lone query does not
 * wait (under load, texts gather while the encoder is busy).
 */
export interface TextBatcherOptions {
  /** How long the first text of a batch waits for company when the encoder is idle. Default 0: until the event loop's current turn ends. */
  windowMs?: number;
  /** Most texts per encoder call. Default 32. */
  maxBatch?: number;
}

interface Pending {
  text: string;
  resolve: (vector: Float32Array) => void;
  reject: (error: unknown) => void;
}

export type EmbedTexts = (texts: string[]) => Promise<Float32Array[]>;

export class TextEmbeddingBatcher {
  readonly #embed: EmbedTexts;
  readonly #windowMs: number;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  /** Cancels the pending flush of a waiting batch. */
  #cancelWait: (() => void) | undefined;
  #busy = false;
  /** Encoder calls made and texts sent (for tests and the stats route). */
  readonly counts = { calls: 0, texts: 0 };

  constructor(embed: EmbedTexts, options: TextBatcherOptions = {}) {
    this.#embed = embed;
    this.#windowMs = options.windowMs ?? 0;
    this.#maxBatch = options.maxBatch ?? 32;
  }

  embed(text: string): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ text, resolve, reject });
      if (this.#busy) return;
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else this.#cancelWait ??= this.#wait(() => this.#flush());
    });
  }

  #wait(then: () => void): () => void {
    if (this.#windowMs > 0) {
      const timer = setTimeout(then, this.#windowMs);
      return () => clearTimeout(timer);
    }
    const immediate = setImmediate(then);
    return () => clearImmediate(immediate);
  }

  #flush(): void {
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    if (this.#busy || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#busy = true;
    this.counts.calls++;
    this.counts.texts += batch.length;
    this.#embed(batch.map((p) => p.text))
      .then(
        (vectors) => batch.forEach((p, i) => p.resolve(vectors[i]!)),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.#busy = false;
        // texts that arrived meanwhile have waited long enough: send them at once
        if (this.#queue.length > 0) this.#flush();
      });
  }
}
