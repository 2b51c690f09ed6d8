/**
 * Thumbnails by (id, size, content hash), kept in memory up to a byte budget and a number of
 * entries, with least-recently-used eviction. Concurrent requests for the same thumbnail share
 * one render.
 */
export interface CachedThumbnail {
  data: Buffer;
  contentType: string;
}

export interface ThumbnailCacheLimits {
  /** Bytes of thumbnail data kept. */
  maxBytes: number;
  /** Thumbnails kept, however small (each entry also costs its key and bookkeeping). */
  maxEntries: number;
}

export class ThumbnailCache {
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, CachedThumbnail>();
  readonly #inFlight = new Map<string, Promise<CachedThumbnail>>();
  #bytes = 0;

  constructor(limits: ThumbnailCacheLimits) {
    this.#maxBytes = limits.maxBytes;
    this.#maxEntries = limits.maxEntries;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  async get(key: string, render: () => Promise<CachedThumbnail>): Promise<CachedThumbnail> {
    const hit = this.#entries.get(key);
    if (hit) {
      // re-insert: Map iteration order is the LRU order
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = render().finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
      const thumbnail = await pending;
      this.#store(key, thumbnail);
      return thumbnail;
    }
    return pending;
  }

  #store(key: string, thumbnail: CachedThumbnail): void {
    if (thumbnail.data.length > this.#maxBytes || this.#maxEntries < 1 || this.#entries.has(key)) return;
    this.#entries.set(key, thumbnail);
    this.#bytes += thumbnail.data.length;
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes && this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldKey);
      this.#bytes -= old.data.length;
    }
  }
}
