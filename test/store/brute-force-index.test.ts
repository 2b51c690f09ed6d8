/** BruteForceIndex's unfiltered search (usearch's SIMD scan, scored here) against a plain sort of every cosine. */
import { describe, expect, it } from 'vitest';
import { BruteForceIndex } from '../../src/store/index.js';
import { compareBestFirst, cosine, type ScoredId } from '../../src/vector-math.js';

const DIM = 32;

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
}

function bySorting(vectors: Map<number, Float32Array>, query: Float32Array, k: number, filter: (id: number) => boolean = () => true): ScoredId[] {
  return [...vectors]
    .filter(([id]) => filter(id))
    .map(([id, v]) => ({ id, score: cosine(query, v) }))
    .sort(compareBestFirst)
    .slice(0, k);
}

function expectSame(found: ScoredId[], expected: ScoredId[]): void {
  expect(found.map((h) => h.id)).toEqual(expected.map((h) => h.id));
  found.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i]!.score, 6));
}

describe('BruteForceIndex (usearch scan, scored here)', () => {
  it('finds what a sort of every cosine finds, ties at the k-th place included, after deletions moved vectors between slots', () => {
    const next = xorshift(7);
    const vectors = new Map<number, Float32Array>();
    for (let id = 1; id <= 700; id++) vectors.set(id * 3, Float32Array.from({ length: DIM }, next));
    // a group of identical vectors (identical images): ties, broken toward the smaller id
    const twin = vectors.get(30)!;
    for (const id of [5, 11, 2000, 2003, 2100, 2500]) vectors.set(id, Float32Array.from(twin, (x) => 2 * x));
    const index = new BruteForceIndex(DIM, 4);
    for (const [id, v] of vectors) index.add(id, v);
    // deleting moves the last slot's vector into the freed slot
    for (let id = 3; id <= 300; id += 9) {
      index.markDeleted(id);
      vectors.delete(id);
    }
    const queries = [twin, ...Array.from({ length: 20 }, () => Float32Array.from({ length: DIM }, next))];
    for (const k of [1, 4, 10, 50]) {
      for (const query of queries) {
        expectSame(index.searchBestFirst(query, k), bySorting(vectors, query, k));
      }
    }
    expect(index.searchBestFirst(twin, 4).map((h) => h.id)).toEqual([5, 11, 2000, 2003]);
  });

  it('applies a filter: one that leaves out a few and one that allows a quarter (scan candidates), one that allows few (every vector), and one that allows half but nothing near the query (the scan finds too few: every vector)', () => {
    const next = xorshift(11);
    const vectors = new Map<number, Float32Array>();
    for (let id = 1; id <= 2000; id++) vectors.set(id, Float32Array.from({ length: DIM }, next));
    const index = new BruteForceIndex(DIM);
    for (const [id, v] of vectors) index.add(id, v);
    const queries = Array.from({ length: 10 }, () => Float32Array.from({ length: DIM }, next));
    for (const query of queries) {
      const best = bySorting(vectors, query, 3).map((h) => h.id);
      const leavesOutBest = (id: number) => !best.includes(id);
      const quarter = (id: number) => id % 4 === 1;
      const rare = (id: number) => id % 97 === 0;
      const near = new Set(bySorting(vectors, query, 600).map((h) => h.id));
      const halfOfTheFar = (id: number) => !near.has(id) && id % 2 === 0;
      for (const k of [1, 10, 30]) {
        for (const filter of [leavesOutBest, quarter, rare, halfOfTheFar]) expectSame(index.searchBestFirst(query, k, { filter }), bySorting(vectors, query, k, filter));
      }
    }
  });

  it('returns every vector when k exceeds them, and nothing from an empty index or for k 0', () => {
    const next = xorshift(3);
    const index = new BruteForceIndex(DIM);
    expect(index.searchBestFirst(Float32Array.from({ length: DIM }, next), 5)).toEqual([]);
    for (let id = 1; id <= 7; id++) index.add(id, Float32Array.from({ length: DIM }, next));
    const query = Float32Array.from({ length: DIM }, next);
    expect(index.searchBestFirst(query, 100).map((h) => h.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(index.searchBestFirst(query, 0)).toEqual([]);
  });
});
