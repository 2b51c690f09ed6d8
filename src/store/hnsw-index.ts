/**
 * Approximate nearest neighbours with hnswlib (cosine space, label = item id).
 * Build parameters (M, efConstruction, seed) are fixed at creation; `ef` is per search.
 * hnswlib-node takes plain arrays, so vectors are converted at this boundary.
 */
import hnswlib from 'hnswlib-node';
import { RsclipError } from '../errors.js';
import { checkLength, compareBestFirst, unitVector, type ScoredId } from '../vector-math.js';
import { DEFAULT_EF, type GraphIndex, type HnswParams } from './graph-index.js';

const MIN_CAPACITY = 1024;

export class HnswIndex implements GraphIndex {
  readonly dim: number;
  readonly exactScores = true;
  private readonly native: hnswlib.HierarchicalNSW;
  /** Labels present and not marked deleted (hnswlib cannot list these itself). */
  private readonly live: Set<number>;

  private constructor(dim: number, native: hnswlib.HierarchicalNSW, live: Set<number>) {
    this.dim = dim;
    this.native = native;
    this.live = live;
  }

  static create(dim: number, params: HnswParams, capacity = MIN_CAPACITY): HnswIndex {
    const native = new hnswlib.HierarchicalNSW('cosine', dim);
    native.initIndex({
      maxElements: Math.max(MIN_CAPACITY, capacity),
      m: params.M,
      efConstruction: params.efConstruction,
      randomSeed: params.seed,
    });
    return new HnswIndex(dim, native, new Set());
  }

  /**
   * Loads a saved index. Every label in the file counts as live until the caller marks the
   * ones it knows are gone (the file does not say which labels are deleted in a way we can read).
   */
  static load(file: string, dim: number): HnswIndex {
    const native = new hnswlib.HierarchicalNSW('cosine', dim);
    try {
      native.readIndexSync(file);
    } catch (cause) {
      throw new RsclipError('INDEX_CORRUPT', `cannot read HNSW file ${file}: ${(cause as Error).message}`, {
        hint: 'it is rebuilt from catalog.sqlite: run `rsclip doctor --index <dir>`',
        cause,
      });
    }
    return new HnswIndex(dim, native, new Set(native.getIdsList()));
  }

  get size(): number {
    return this.live.size;
  }

  /** Points stored in the graph, deleted ones included. */
  get storedCount(): number {
    return this.native.getCurrentCount();
  }

  details(): Record<string, number> {
    return { size: this.live.size, deleted: this.storedCount - this.live.size, capacity: this.native.getMaxElements() };
  }

  add(id: number, vector: Float32Array): void {
    checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    const stored = this.native.getCurrentCount();
    if (!this.live.has(id) && stored >= this.native.getMaxElements()) {
      this.native.resizeIndex(Math.max(MIN_CAPACITY, Math.ceil(stored * 1.5)));
    }
    this.native.addPoint(Array.from(vector), id);
    this.live.add(id);
  }

  addMany(entries: Iterable<readonly [number, Float32Array]>): void {
    for (const [id, vector] of entries) this.add(id, vector);
  }

  markDeleted(id: number): void {
    try {
      this.native.markDelete(id);
    } catch {
      // unknown or already deleted: the desired state holds
    }
    this.live.delete(id);
  }

  has(id: number): boolean {
    return this.live.has(id);
  }

  ids(): number[] {
    return [...this.live].sort((a, b) => a - b);
  }

  /** Whether `id` is live with this vector (hnswlib keeps vectors normalised, in float32). */
  stores(id: number, vector: Float32Array): boolean {
    if (!this.live.has(id)) return false;
    const stored = this.native.getPoint(id);
    return unitVector(vector).every((v, i) => Math.abs(v - stored[i]!) < 1e-4);
  }

  searchBestFirst(query: Float32Array, k: number, options: { ef?: number; filter?: (id: number) => boolean } = {}): ScoredId[] {
    checkLength(query, this.dim, 'BAD_QUERY');
    const wanted = Math.min(Math.floor(k), this.live.size);
    if (wanted <= 0) return [];
    this.native.setEf(Math.max(options.ef ?? DEFAULT_EF, wanted));
    const result = this.native.searchKnn(Array.from(query), wanted, options.filter);
    // hnswlib returns farthest first in some versions; order explicitly
    return result.neighbors.map((id, i) => ({ id, score: 1 - result.distances[i]! })).sort(compareBestFirst);
  }

  async save(file: string): Promise<void> {
    await this.native.writeIndex(file);
  }
}
