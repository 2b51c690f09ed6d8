/**
 * Exact nearest neighbours by scanning every vector: the recall oracle for the graph and the
 * search used for exact requests and very selective filters. Cosine similarity on unit
 * vectors (normalised on add). In memory only: it is rebuilt from the catalog when needed.
 * usearch's SIMD kernels scan (see usearch-native.ts); a filter that allows few of their best
 * candidates is applied to every vector in a loop of our own.
 */
import { checkLength, dotAt, TopK, unitVector, type ScoredId } from '../vector-math.js';
import type { VectorIndex } from './types.js';
import { exactInnerProductRows } from './usearch-native.js';

/** Candidates beyond k (at least this many, or k) taken from the SIMD scan, so that near-ties at the k-th place are scored here. */
const CANDIDATES_EXTRA_MIN = 16;
/** With a filter, the scan takes this many times k (plus the margin); a filter that allows too few of them is applied to every vector. */
const FILTERED_WIDENING = 4;

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
    checkLength(query, this.dim, 'BAD_QUERY');
    const q = unitVector(query);
    const { dim, data, slotIds } = this;
    const filter = options.filter;
    const margin = Math.max(Math.floor(k), CANDIDATES_EXTRA_MIN);
    // usearch's scan finds the candidates; scored here, so that scores and the order of ties are this loop's
    const rows = data.subarray(0, slotIds.length * dim);
    const candidates = exactInnerProductRows(rows, q, dim, (filter ? FILTERED_WIDENING : 1) * Math.floor(k) + margin);
    const top = new TopK(k);
    let allowed = 0;
    for (const slot of candidates) {
      const id = slotIds[slot]!;
      if (filter && !filter(id)) continue;
      allowed++;
      top.offer(id, dotAt(q, data, slot * dim));
    }
    // every allowed item outside the candidates scores below all of them: enough when k are allowed, past the margin
    if (!filter || allowed >= k + margin || candidates.length === slotIds.length) return top.bestFirst();
    const all = new TopK(k);
    for (let slot = 0; slot < slotIds.length; slot++) {
      const id = slotIds[slot]!;
      if (filter(id)) all.offer(id, dotAt(q, data, slot * dim));
    }
    return all.bestFirst();
  }
}
