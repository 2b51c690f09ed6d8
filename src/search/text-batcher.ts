/**
 * Micro-batching of text embeddings: texts asked for while the encoder is busy, or within
 * `windowMs` of each other, go to the text tower in one call, and each caller gets its own
 * vector back. One encoder call runs at a time, so concurrent queries share the encoder
 * instead of competing for its threads; a lone query waits at most `windowMs`.
 */
export interface TextBatcherOptions {
  /** How long the first text of a batch waits for company when the encoder is idle. Default 1 ms. */
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
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  /** Encoder calls made and texts sent (for tests and the stats route). */
  readonly counts = { calls: 0, texts: 0 };

  constructor(embed: EmbedTexts, options: TextBatcherOptions = {}) {
    this.#embed = embed;
    this.#windowMs = options.windowMs ?? 1;
    this.#maxBatch = options.maxBatch ?? 32;
  }

  embed(text: string): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ text, resolve, reject });
      if (this.#busy) return;
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#windowMs);
    });
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
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
