/**
 * The vector maths of rsclip, in one place: the encoder normalises its outputs here, the
 * store's engines and planner score with it, the searcher combines and collapses with it.
 * Vectors are stored as Float32Array; sums run in float64 (and may be kept in a Float64Array).
 */
import { RsclipError, type RsclipErrorCode } from './errors.js';

/** An item id with its cosine similarity to a query, in [-1, 1]. */
export interface ScoredId {
  id: number;
  score: number;
}

type Vector = Float32Array | Float64Array;

export function dot(a: Vector, b: Vector): number {
  return dotAt(a, b, 0);
}

/** The dot product of `a` with the `a.length` values of `data` from `offset` (a row of a matrix, without a subarray). */
export function dotAt(a: Vector, data: Vector, offset: number): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * data[offset + i]!;
  return sum;
}

export function norm(vector: Vector): number {
  return Math.sqrt(dot(vector, vector));
}

/** Divides `vector` by its L2 norm in place (a zero vector stays zero), as the Python reference does. */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  const length = norm(vector);
  if (length > 0) for (let i = 0; i < vector.length; i++) vector[i]! /= length;
  return vector;
}

/** A copy of `vector` with length 1 (a zero vector stays zero). */
export function unitVector(vector: Float32Array): Float32Array {
  return normalizeInPlace(Float32Array.from(vector));
}

/** Each row of a [rows, dim] matrix as its own unit Float32Array. */
export function normalizeRows(data: Float32Array, rows: number, dim: number): Float32Array[] {
  return Array.from({ length: rows }, (_, r) => normalizeInPlace(data.slice(r * dim, (r + 1) * dim)));
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosine(a: Float32Array, b: Float32Array): number {
  const lengths = norm(a) * norm(b);
  return lengths > 0 ? dot(a, b) / lengths : 0;
}

/**
 * Throws unless `vector` has `dim` components. The code says whose fault it is: a query
 * (`BAD_QUERY`) or vectors from another model than the index's (`INDEX_INCOMPATIBLE`).
 */
export function checkLength(vector: Float32Array, dim: number, code: Extract<RsclipErrorCode, 'BAD_QUERY' | 'INDEX_INCOMPATIBLE'>): void {
  if (vector.length === dim) return;
  throw new RsclipError(code, `Expected a vector of length ${dim} but received one of length ${vector.length}`, {
    hint: 'vectors must come from the model the index was built with',
  });
}

/** The largest magnitude half precision holds, and its smallest normal one. */
const HALF_MAX = 65_504;
const HALF_MIN_NORMAL = 2 ** -14;

/**
 * What makes `vector` useless to a cosine as the stores keep and score vectors (at half
 * precision, in float32 kernels): a component that is not finite or beyond half precision's
 * range, or no direction half precision keeps (every component zero, or all of them below its
 * smallest normal number); undefined when there is nothing. A model's embeddings are far inside
 * (unit vectors, or norms of about 10).
 */
export function vectorProblem(vector: Float32Array): string | undefined {
  let largest = 0;
  for (let i = 0; i < vector.length; i++) {
    const magnitude = Math.abs(vector[i]!);
    // NaN fails both comparisons
    if (!(magnitude <= HALF_MAX)) return Number.isFinite(vector[i]) ? `${vector[i]} at position ${i}, beyond the ±${HALF_MAX} of half precision` : `${vector[i]} at position ${i}`;
    largest = Math.max(largest, magnitude);
  }
  if (largest === 0) return 'every component zero';
  return largest < HALF_MIN_NORMAL ? `every component smaller than ${HALF_MIN_NORMAL.toExponential(2)} in magnitude (half precision keeps no direction of it)` : undefined;
}

/** What makes a vector read back from a store unusable: a length other than the index's `dim`, or what vectorProblem finds; undefined when nothing. */
export function storedVectorProblem(vector: Float32Array, dim: number): string | undefined {
  return vector.length === dim ? vectorProblem(vector) : `${vector.length} components (the index has ${dim})`;
}

/**
 * checkLength, and a vector a cosine can use (vectorProblem): what a query and what the store
 * takes in. Engines check lengths only as they add, so that vectors a catalog holds from before
 * this check still load.
 */
export function checkVector(vector: Float32Array, dim: number, code: Extract<RsclipErrorCode, 'BAD_QUERY' | 'INDEX_INCOMPATIBLE'>): void {
  checkLength(vector, dim, code);
  const problem = vectorProblem(vector);
  if (problem === undefined) return;
  throw new RsclipError(code, `Expected a vector of finite numbers, not all zero, but received one with ${problem}`, {
    hint: code === 'BAD_QUERY' ? 'a query vector needs a direction: finite numbers, not all zero' : 'a model that gives such vectors is damaged or was exported wrongly: download or export it again',
  });
}

export function compareBestFirst(a: ScoredId, b: ScoredId): number {
  return b.score - a.score || a.id - b.id;
}

/** `hits` sorted best first (in place), the first `k` of them. */
export function bestFirst(hits: ScoredId[], k = hits.length): ScoredId[] {
  return hits.sort(compareBestFirst).slice(0, k);
}

/**
 * Keeps the k highest scores seen; ties break toward the smaller id so results are deterministic.
 * A binary heap whose root is the worst kept: an offer that does not beat it costs one comparison
 * (an ivf search offers every row it scans, thousands, for 20 kept).
 */
export class TopK {
  private readonly k: number;
  private readonly ids: number[] = [];
  private readonly scores: number[] = [];

  constructor(k: number) {
    this.k = Math.max(0, Math.floor(k));
  }

  /** A score that is not a number (a vector stored before vectors were checked, scored) is left out: it cannot be ranked. */
  offer(id: number, score: number): void {
    if (this.k === 0 || Number.isNaN(score)) return;
    const { ids, scores } = this;
    if (ids.length < this.k) {
      ids.push(id);
      scores.push(score);
      this.siftUp(ids.length - 1);
    } else if (score > scores[0]! || (score === scores[0] && id < ids[0]!)) {
      ids[0] = id;
      scores[0] = score;
      this.siftDown(0);
    }
  }

  bestFirst(): ScoredId[] {
    return this.ids.map((id, i) => ({ id, score: this.scores[i]! })).sort(compareBestFirst);
  }

  /** Whether the entry at `a` ranks below the one at `b`. */
  private worse(a: number, b: number): boolean {
    const { ids, scores } = this;
    return scores[a]! < scores[b]! || (scores[a] === scores[b] && ids[a]! > ids[b]!);
  }

  private swap(a: number, b: number): void {
    const { ids, scores } = this;
    const id = ids[a]!;
    const score = scores[a]!;
    ids[a] = ids[b]!;
    scores[a] = scores[b]!;
    ids[b] = id;
    scores[b] = score;
  }

  private siftUp(at: number): void {
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.worse(at, parent)) return;
      this.swap(at, parent);
      at = parent;
    }
  }

  private siftDown(at: number): void {
    const size = this.ids.length;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && this.worse(right, left) ? right : left;
      if (!this.worse(child, at)) return;
      this.swap(at, child);
      at = child;
    }
  }
}
