/**
 * A least-recently-used cache of decoded TIFF blocks (tiles or strips), bounded in bytes.
 * Neighbouring windows overlap and share blocks; with the cache each block of a scene read in
 * window order is decoded about once instead of once per window that touches it.
 */
export class BlockCache<T extends { data: { readonly byteLength: number } }> {
  private readonly entries = new Map<string, Promise<T>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** The cached block for `key`, or the one `load` decodes (kept while the budget allows). */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    if (this.maxBytes <= 0) return load();
    const promise = load();
    this.entries.set(key, promise);
    promise.then(
      (block) => {
        if (this.entries.get(key) !== promise) return;
        this.sizes.set(key, block.data.byteLength);
        this.bytes += block.data.byteLength;
        this.evict();
      },
      () => this.entries.delete(key),
    );
    return promise;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) return;
      const size = this.sizes.get(key);
      if (size === undefined) continue;
      this.entries.delete(key);
      this.sizes.delete(key);
      this.bytes -= size;
    }
  }
}
