/**
 * Exact nearest neighbours by scanning every vector: the recall oracle for the graph and the
 * search used for exact requests and very selective filters. Cosine similarity on unit
 * vectors (normalised on add). In memory only: it is rebuilt from the catalog when needed.
 * usearch's SIMD kernels scan (see usearch-native.ts); a filter that allows few vectors, or few
 * of the scan's best candidates, is applied to every vector in a loop of our own, which scores
 * only the vectors it allows.
 */
import { checkLength, checkVector, dotAt, TopK, unitVector, type ScoredId } from '../vector-math.js';
import type { VectorIndex } from './types.js';
import { exactInnerProductRows } from './usearch-native.js';

/** Candidates beyond k (at least this many, or k) taken from the SIMD scan, so that near-ties at the k-th place are scored here. */
const CANDIDATES_EXTRA_MIN = 16;
/**
 * The share of the vectors a filter must allow for the SIMD scan to be worth it: our loop scores
 * only the allowed ones, and scoring all of them costs it about 7 times the scan (1M 512-d
 * vectors: 635 against 87 ms), so below 1/8 the loop alone is faster.
 */
const SCAN_MIN_SHARE = 1 / 8;
/** Vectors the filter is asked about to estimate the share it allows. */
const SHARE_SAMPLE = 1024;

export class BruteForceIndex implements VectorIndex {
  readonly dim: number;
  private slots = new Map<number, number>();
  private slotIds: number[] = [];
  private data: Float32Array;

  constructor(dim: number, initialCapacity = 1024) {
    this.dim = dim;
    this.data = new Float32Array(dim * Math.max(1, initialCapacity));
  }

  get size(): number {
    return this.slots.size;
  }

  /** Memory held, about: the vectors' array and, per vector, its entries in the slot map and list. */
  get bytes(): number {
    return this.data.byteLength + 48 * this.slotIds.length;
  }

  add(id: number, vector: Float32Array): void {
    checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.slotIds.length;
      if ((slot + 1) * this.dim > this.data.length) {
        const grown = new Float32Array(this.data.length * 2);
        grown.set(this.data);
        this.data = grown;
      }
      this.slots.set(id, slot);
      this.slotIds.push(id);
    }
    this.data.set(unitVector(vector), slot * this.dim);
  }

  markDeleted(id: number): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    // move the last vector into the freed slot so that a scan touches live vectors only
    const lastSlot = this.slotIds.length - 1;
    const lastId = this.slotIds[lastSlot]!;
    if (slot !== lastSlot) {
      this.data.copyWithin(slot * this.dim, lastSlot * this.dim, (lastSlot + 1) * this.dim);
      this.slotIds[slot] = lastId;
      this.slots.set(lastId, slot);
    }
    this.slotIds.pop();
    this.slots.delete(id);
  }

  has(id: number): boolean {
    return this.slots.has(id);
  }

  ids(): number[] {
    return [...this.slotIds].sort((a, b) => a - b);
  }

  searchBestFirst(query: Float32Array, k: number, options: { filter?: (id: number) => boolean } = {}): ScoredId[] {
    checkVector(query, this.dim, 'BAD_QUERY');
    const q = unitVector(query);
    const filter = options.filter;
    const wanted = Math.floor(k) + Math.max(Math.floor(k), CANDIDATES_EXTRA_MIN);
    if (!filter) return this.scoreCandidates(q, k, wanted).top;
    const share = this.allowedShare(filter);
    if (share >= SCAN_MIN_SHARE) {
      // twice the candidates the filter's share needs to leave `wanted` allowed
      const { top, allowed, all } = this.scoreCandidates(q, k, Math.ceil((2 * wanted) / share), filter);
      // every allowed item outside the candidates scores below all of them: enough when k are allowed, past the margin
      if (allowed >= wanted || all) return top;
    }
    const { dim, data, slotIds } = this;
    const top = new TopK(k);
    for (let slot = 0; slot < slotIds.length; slot++) {
      const id = slotIds[slot]!;
      if (filter(id)) top.offer(id, dotAt(q, data, slot * dim));
    }
    return top.bestFirst();
  }

  /**
   * The best `count` vectors by usearch's scan, scored here (so that scores and the order of ties
   * are this loop's): the best k that `filter` allows, how many of the candidates it allows, and
   * whether the candidates were every vector.
   */
  private scoreCandidates(q: Float32Array, k: number, count: number, filter?: (id: number) => boolean): { top: ScoredId[]; allowed: number; all: boolean } {
    const { dim, data, slotIds } = this;
    const candidates = exactInnerProductRows(data.subarray(0, slotIds.length * dim), q, dim, count);
    const top = new TopK(k);
    let allowed = 0;
    for (const slot of candidates) {
      const id = slotIds[slot]!;
      if (filter && !filter(id)) continue;
      allowed++;
      top.offer(id, dotAt(q, data, slot * dim));
    }
    return { top: top.bestFirst(), allowed, all: candidates.length === slotIds.length };
  }

  /** The share of the vectors `filter` allows, estimated on up to SHARE_SAMPLE of them spread over the slots. */
  private allowedShare(filter: (id: number) => boolean): number {
    const n = this.slotIds.length;
    if (n === 0) return 0;
    const step = Math.max(1, n / SHARE_SAMPLE);
    let asked = 0;
    let allowed = 0;
    for (let at = 0; at < n; at += step) {
      asked++;
      if (filter(this.slotIds[Math.floor(at)]!)) allowed++;
    }
    return allowed / asked;
  }
}
