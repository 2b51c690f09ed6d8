/**
 * Approximate nearest neighbours with hnswlib (cosine space, label = item id).
 * Build parameters (M, efConstruction, seed) are fixed at creation; `ef` is per search.
 * hnswlib-node takes plain arrays, so vectors are converted at this boundary.
 */
import hnswlib from 'hnswlib-node';
import { invalidParameter } from '../errors.js';
import { checkLength, checkVector, compareBestFirst, unitVector, type ScoredId } from '../vector-math.js';
import { DEFAULT_EF, GraphWriteError, graphFileCorrupt, syncFile, type GraphIndex, type HnswParams } from './graph-index.js';
import { checkHnswFile, HnswFileError, type HnswFileReport } from './hnsw-file-check.js';
import { checkSearchArgs } from './argument-checks.js';

const MIN_CAPACITY = 1024;

export function describeCheckFailure(cause: unknown): string {
  return cause instanceof HnswFileError ? cause.message : `cannot read it: ${(cause as Error).message}`;
}

/**
 * hnswlib labels (uint32 in hnswlib-node): an item's first vector has the item id as its label; a
 * changed vector gets the next of four labels (item id + version x 2^30) and the old point stays,
 * marked deleted, as a routing node. hnswlib's own in-place update (updatePoint) relinks the old
 * neighbours among themselves and can leave points, the updated one or its neighbours, with no
 * incoming link: never found again (1-3 in 10,000 after re-embedding 10 %). A fresh insertion
 * links the way the graph was built. Only an item whose vector changes a fourth time reuses its
 * oldest label, through hnswlib's update.
 */
const LABEL_STRIDE = 2 ** 30;
/** Item ids must stay below this (the catalog refuses to give out a larger one). */
export const MAX_ITEM_ID = LABEL_STRIDE - 1;
const LABEL_VERSIONS = 4;
const itemOf = (label: number): number => label % LABEL_STRIDE;
const nextLabel = (label: number): number => itemOf(label) + ((Math.floor(label / LABEL_STRIDE) + 1) % LABEL_VERSIONS) * LABEL_STRIDE;
/** Two stored (unit) vectors closer than this are the same vector. */
const SAME_VECTOR = 1e-5;

export class HnswIndex implements GraphIndex {
  readonly dim: number;
  readonly scorePrecision = 'f32';
  private readonly native: hnswlib.HierarchicalNSW;
  /** Items whose current point is live (hnswlib cannot list these itself). */
  private readonly live: Set<number>;
  /** Items whose current point is marked deleted. */
  private readonly deleted: Set<number>;
  /** Items whose current point's label is not the item id (their vector changed). */
  private readonly relabelled: Map<number, number>;

  private constructor(dim: number, native: hnswlib.HierarchicalNSW, live: Set<number>, deleted = new Set<number>(), relabelled = new Map<number, number>()) {
    this.dim = dim;
    this.native = native;
    this.live = live;
    this.deleted = deleted;
    this.relabelled = relabelled;
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
   * Loads a saved index, after checking that hnswlib can read it safely (its structure) and that
   * `accept` takes its size and sha256 (it returns why not, if not). Points the file marks
   * deleted stay deleted; an item's current point is its live one, else its newest.
   */
  static load(file: string, dim: number, expected: { M?: number; accept?: (digest: HnswFileReport) => string | undefined } = {}): HnswIndex {
    let report: HnswFileReport;
    try {
      report = checkHnswFile(file, { dim, ...(expected.M === undefined ? {} : { M: expected.M }) });
    } catch (cause) {
      throw graphFileCorrupt(file, describeCheckFailure(cause), cause);
    }
    const refusal = expected.accept?.(report);
    if (refusal !== undefined) throw graphFileCorrupt(file, refusal);
    const native = new hnswlib.HierarchicalNSW('cosine', dim);
    try {
      native.readIndexSync(file);
    } catch (cause) {
      throw graphFileCorrupt(file, (cause as Error).message, cause);
    }
    const deletedLabels = new Set(report.deletedLabels);
    // an item's current point: its live one, else any (a deleted item revived with another vector gets a new point anyway)
    const rank = (label: number): number => (deletedLabels.has(label) ? 0 : 1);
    const current = new Map<number, number>();
    const stale: number[] = [];
    for (const label of native.getIdsList()) {
      const item = itemOf(label);
      const other = current.get(item);
      if (other === undefined || rank(label) > rank(other)) current.set(item, label);
      if (other !== undefined) stale.push(rank(label) > rank(other) ? other : label);
    }
    // two live points of one item cannot come from rsclip; the newest stays
    for (const label of stale) if (!deletedLabels.has(label)) native.markDelete(label);
    const live = new Set<number>();
    const deleted = new Set<number>();
    const relabelled = new Map<number, number>();
    for (const [item, label] of current) {
      (deletedLabels.has(label) ? deleted : live).add(item);
      if (label !== item) relabelled.set(item, label);
    }
    return new HnswIndex(dim, native, live, deleted, relabelled);
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

  private labelOf(item: number): number {
    return this.relabelled.get(item) ?? item;
  }

  private insert(label: number, point: number[]): void {
    const stored = this.native.getCurrentCount();
    if (stored >= this.native.getMaxElements()) this.native.resizeIndex(Math.max(MIN_CAPACITY, Math.ceil(stored * 1.5)));
    this.native.addPoint(point, label);
  }

  /** Adds or replaces the vector of `id`: the same vector as its current point revives it, another one is a new point. */
  add(id: number, vector: Float32Array): void {
    checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ITEM_ID) throw invalidParameter('item id', `an integer from 0 to ${MAX_ITEM_ID}`, id);
    const point = Array.from(vector);
    if (!this.live.has(id) && !this.deleted.has(id)) {
      this.insert(id, point);
      this.live.add(id);
      return;
    }
    const label = this.labelOf(id);
    if (this.deleted.has(id)) this.native.unmarkDelete(label);
    const stored = this.native.getPoint(label);
    const unit = unitVector(vector);
    this.deleted.delete(id);
    this.live.add(id);
    if (unit.every((v, i) => Math.abs(v - stored[i]!) < SAME_VECTOR)) return;
    this.native.markDelete(label);
    const next = nextLabel(label);
    this.insert(next, point);
    if (next === id) this.relabelled.delete(id);
    else this.relabelled.set(id, next);
  }

  addMany(entries: Iterable<readonly [number, Float32Array]>): void {
    for (const [id, vector] of entries) this.add(id, vector);
  }

  markDeleted(id: number): void {
    if (!this.live.has(id)) return;
    this.native.markDelete(this.labelOf(id));
    this.live.delete(id);
    this.deleted.add(id);
  }

  has(id: number): boolean {
    return this.live.has(id);
  }

  ids(): number[] {
    return [...this.live].sort((a, b) => a - b);
  }

  /** Whether `id` is live with this vector (hnswlib keeps vectors normalised, in float32), within half precision: a graph built before the catalog kept half-precision vectors still matches it. */
  stores(id: number, vector: Float32Array): boolean {
    const stored = this.getPoint(id);
    return stored !== undefined && unitVector(vector).every((v, i) => Math.abs(v - stored[i]!) < 1e-3);
  }

  /** The stored vector (hnswlib keeps it normalised), or undefined if absent or deleted. */
  getPoint(id: number): Float32Array | undefined {
    if (!this.live.has(id)) return undefined;
    return Float32Array.from(this.native.getPoint(this.labelOf(id)));
  }

  searchBestFirst(query: Float32Array, k: number, options: { ef?: number; filter?: (id: number) => boolean } = {}): ScoredId[] {
    checkVector(query, this.dim, 'BAD_QUERY');
    checkSearchArgs(k, options.ef);
    const wanted = Math.min(k, this.live.size);
    if (wanted <= 0) return [];
    const filter = options.filter;
    const accept = filter ? (label: number) => filter(itemOf(label)) : undefined;
    const point = Array.from(query);
    // hnswlib keeps the first of neighbours at equal distance it meets: one more is asked for,
    // and more while the last ties with the k-th, so that the cut by id (compareBestFirst) sees
    // them all and a shorter k gives a prefix of a longer one
    for (let count = Math.min(wanted + 1, this.live.size); ; count = Math.min(count * 2, this.live.size)) {
      this.native.setEf(Math.max(options.ef ?? DEFAULT_EF, count));
      const result = this.native.searchKnn(point, count, accept);
      // hnswlib returns farthest first in some versions; order explicitly
      const found = result.neighbors.map((label, i) => ({ id: itemOf(label), score: 1 - result.distances[i]! })).sort(compareBestFirst);
      const tiesGoOn = found.length === count && found.length > wanted && found[found.length - 1]!.score === found[wanted - 1]!.score;
      if (!tiesGoOn || count >= this.live.size) return found.slice(0, wanted);
    }
  }

  /**
   * Writes the index to `file`, flushes it to the disk and reads it back: hnswlib reports no write
   * error (a full disk leaves a short file), so what is on the disk is checked before anyone
   * relies on it. Returns its size and sha256.
   */
  async save(file: string): Promise<HnswFileReport> {
    await this.native.writeIndex(file);
    await syncFile(file);
    let report: HnswFileReport;
    try {
      report = checkHnswFile(file, { dim: this.dim });
    } catch (cause) {
      throw new GraphWriteError(`the file written is incomplete or damaged: ${(cause as Error).message}`, { cause });
    }
    if (report.elements !== this.storedCount) throw new GraphWriteError(`the file written holds ${report.elements} elements, the index ${this.storedCount}`);
    return report;
  }
}
