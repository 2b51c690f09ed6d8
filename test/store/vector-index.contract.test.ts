/** One contract for every VectorIndex (hono's shared router suite): brute force is the oracle, HNSW must agree. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BruteForceIndex, DEFAULT_HNSW_PARAMS, HnswIndex, type VectorIndex } from '../../src/store/index.js';

const DIM = 24;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-vi-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function randomVectors(count: number, seed: number): Float32Array[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: DIM }, next));
}

interface Implementation {
  name: string;
  create(): VectorIndex;
  load(file: string): Promise<VectorIndex>;
}

const implementations: Implementation[] = [
  { name: 'BruteForceIndex', create: () => new BruteForceIndex(DIM, 4), load: (f) => BruteForceIndex.load(f) },
  { name: 'HnswIndex', create: () => HnswIndex.create(DIM, DEFAULT_HNSW_PARAMS, 16), load: async (f) => HnswIndex.load(f, DIM) },
];

describe.each(implementations)('VectorIndex contract: $name', (impl) => {
  it('finds each stored vector as its own best match, with cosine 1', () => {
    const index = impl.create();
    const vectors = randomVectors(300, 1);
    vectors.forEach((v, i) => index.add(i + 10, v));
    expect(index.size).toBe(300);
    for (let i = 0; i < 300; i += 37) {
      const [best] = index.searchBestFirst(vectors[i]!, 1);
      expect(best!.id).toBe(i + 10);
      expect(best!.score).toBeCloseTo(1, 4);
    }
  });

  it('returns results best first, at most k, and never more than it holds', () => {
    const index = impl.create();
    randomVectors(5, 2).forEach((v, i) => index.add(i, v));
    const results = index.searchBestFirst(randomVectors(1, 3)[0]!, 10);
    expect(results).toHaveLength(5);
    for (let i = 1; i < results.length; i++) expect(results[i - 1]!.score).toBeGreaterThanOrEqual(results[i]!.score);
    expect(index.searchBestFirst(randomVectors(1, 3)[0]!, 0)).toEqual([]);
  });

  it('agrees with exact search on most neighbours (recall@10 >= 0.9)', () => {
    const index = impl.create();
    const oracle = new BruteForceIndex(DIM);
    const vectors = randomVectors(1000, 4);
    vectors.forEach((v, i) => {
      index.add(i, v);
      oracle.add(i, v);
    });
    let hits = 0;
    const queries = randomVectors(20, 5);
    for (const q of queries) {
      const truth = new Set(oracle.searchBestFirst(q, 10).map((r) => r.id));
      hits += index.searchBestFirst(q, 10, { ef: 100 }).filter((r) => truth.has(r.id)).length;
    }
    expect(hits / (queries.length * 10)).toBeGreaterThanOrEqual(0.9);
  });

  it('replaces the vector of an id that is added again', () => {
    const index = impl.create();
    const [a, b] = randomVectors(2, 6);
    index.add(1, a!);
    index.add(1, b!);
    expect(index.size).toBe(1);
    expect(index.searchBestFirst(b!, 1)[0]!.score).toBeCloseTo(1, 4);
  });

  it('hides deleted ids, ignores unknown ones, and un-deletes on add', () => {
    const index = impl.create();
    const vectors = randomVectors(10, 7);
    vectors.forEach((v, i) => index.add(i, v));
    index.markDeleted(3);
    index.markDeleted(3);
    index.markDeleted(999);
    expect(index.size).toBe(9);
    expect(index.has(3)).toBe(false);
    expect(index.searchBestFirst(vectors[3]!, 10).map((r) => r.id)).not.toContain(3);
    index.add(3, vectors[3]!);
    expect(index.searchBestFirst(vectors[3]!, 1)[0]!.id).toBe(3);
  });

  it('applies a filter', () => {
    const index = impl.create();
    const vectors = randomVectors(50, 8);
    vectors.forEach((v, i) => index.add(i, v));
    const results = index.searchBestFirst(vectors[0]!, 5, { filter: (id) => id % 2 === 1 });
    expect(results.length).toBe(5);
    expect(results.every((r) => r.id % 2 === 1)).toBe(true);
  });

  it('grows past its initial capacity', () => {
    const index = impl.create();
    randomVectors(2100, 9).forEach((v, i) => index.add(i, v));
    expect(index.size).toBe(2100);
  });

  it('saves and loads the same neighbours', async () => {
    const index = impl.create();
    const vectors = randomVectors(100, 10);
    vectors.forEach((v, i) => index.add(i, v));
    const file = path.join(work, `${impl.name}.bin`);
    await index.save(file);
    const loaded = await impl.load(file);
    expect(loaded.ids()).toEqual(index.ids());
    expect(loaded.searchBestFirst(vectors[42]!, 3)).toEqual(index.searchBestFirst(vectors[42]!, 3));
  });

  it('rejects a vector of the wrong length', () => {
    const index = impl.create();
    expect(() => index.add(1, new Float32Array(DIM + 1))).toThrow(/length 24/);
  });
});
