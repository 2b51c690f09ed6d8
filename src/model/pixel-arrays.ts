/**
 * Preprocessed images' arrays that the vision tower has finished with, for the next images'
 * preprocessing. Each image is 602 KB of float32 at 224 x 224; allocated anew per image, they made
 * most of the memory an indexer turned over, and with it most of its garbage collection (52 full
 * collections in the 1,454 items of `bench/indexer-pool.ts`, 23-26 with the arrays reused).
 *
 * Only arrays nobody else holds come here: those handed over to `embedPixels`, which moved to the
 * model thread and come back from it once joined into the batch (the caller's views of them are
 * detached), and those a decode thread was lent and did not write into. The indexer's decode
 * threads preprocess into arrays taken here (src/indexer/decode-pool.ts). The pool keeps at most
 * as many as it handed out and has not had back, so a process whose pixels come from elsewhere
 * (a server's query-image thread) keeps none.
 */
export class PixelArrayPool {
  readonly #free: Float32Array[] = [];
  #outstanding = 0;

  constructor(
    /** Values per array (a preprocessed image's). */
    readonly length: number,
    /** Most arrays kept. */
    readonly capacity: number,
  ) {}

  /** An array of `length` values whose content is to be overwritten whole. */
  take(): Float32Array {
    this.#outstanding++;
    return this.#free.pop() ?? new Float32Array(this.length);
  }

  /** Arrays no one else holds any more; each buffer is kept once at most. */
  give(arrays: readonly Float32Array[]): void {
    for (const array of arrays) {
      if (this.#outstanding === 0 || this.#free.length >= this.capacity) return;
      const whole = array.length === this.length && array.byteOffset === 0 && array.buffer.byteLength === array.byteLength;
      if (!whole || this.#free.some((kept) => kept.buffer === array.buffer)) continue;
      this.#outstanding--;
      this.#free.push(array);
    }
  }

  /** Arrays kept now. */
  get size(): number {
    return this.#free.length;
  }
}
