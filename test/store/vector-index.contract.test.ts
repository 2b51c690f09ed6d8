/** One contract for every VectorIndex (hono's shared router suite): brute force is the oracle, the graph engines must agree. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGraph, ENGINE_DEFAULTS, loadGraph, type EngineSpec, type GraphIndex } from '../../src/store/engines.js';
import { BruteForceIndex, type VectorIndex } from '../../src/store/index.js';

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
  /** Decimal digits a score is exact to (4 for float32 vectors; 3 where vectors are stored at reduced precision). */
  scoreDigits: number;
  /** Graph engines are kept in a file; brute force lives in memory only. */
  persistence?: { create(): GraphIndex; load(file: string): GraphIndex };
  /** Whether a deleted vector leaves a node behind (graphs do; ivf removes it from its list). */
  keepsDeleted?: boolean;
}

let files = 0;
const newFile = () => path.join(work, `graph-${++files}.bin`);

/** A graph engine, loaded from its file or, with `mapped`, served from it (an empty saved index, so every change goes to the overlay). */
function graphEngine(spec: EngineSpec, mapped = false): Implementation {
  const load = (file: string) => loadGraph(spec, file, DIM, { mapped });
  const quantization = spec.name === 'usearch' ? ` ${spec.quantization}` : '';
  return {
    name: `${spec.name}${quantization}${mapped ? ' mapped' : ''}`,
    scoreDigits: spec.name === 'ivf' || (spec.name === 'usearch' && spec.quantization !== 'f32') ? 3 : 4,
    keepsDeleted: spec.name !== 'ivf',
    create: () => {
      if (!mapped) return createGraph(spec, DIM, 16);
      const file = newFile();
      // the file is written before save's first await; what is left is its read-back check, which can outlive the test's files
      createGraph(spec, DIM, 16).save(file).catch(() => undefined);
      return load(file);
    },
    persistence: { create: () => createGraph(spec, DIM, 16), load },
  };
}

const usearch = (quantization: 'f32' | 'f16' | 'i8'): EngineSpec => ({ ...ENGINE_DEFAULTS.usearch, quantization });

const implementations: Implementation[] = [
  { name: 'BruteForceIndex', create: () => new BruteForceIndex(DIM, 4), scoreDigits: 4 },
  graphEngine(ENGINE_DEFAULTS.hnswlib),
  graphEngine(usearch('f32')),
  graphEngine(usearch('f16')),
  graphEngine(usearch('i8')),
  graphEngine(usearch('f16'), true),
  graphEngine(ENGINE_DEFAULTS.ivf),
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
      expect(best!.score).toBeCloseTo(1, impl.scoreDigits);
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
    expect(index.searchBestFirst(b!, 1)[0]!.score).toBeCloseTo(1, impl.scoreDigits);
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

  it('orders items of equal score by id, so that a shorter k is a prefix of a longer one (pages neither repeat nor skip a hit)', () => {
    const index = impl.create();
    const vectors = randomVectors(60, 10);
    const copy = randomVectors(1, 11)[0]!;
    // twelve items with one vector (the same image in twelve encodings), spread among the others' ids
    const twins = [3, 7, 11, 19, 23, 29, 31, 37, 41, 43, 47, 53];
    vectors.forEach((v, i) => index.add(i, twins.includes(i) ? copy : v));
    const longest = index.searchBestFirst(copy, 16, { ef: 64 }).map((r) => r.id);
    expect(longest.slice(0, twins.length)).toEqual(twins);
    for (let k = 1; k < 16; k++) expect(index.searchBestFirst(copy, k, { ef: 64 }).map((r) => r.id), `k ${k}`).toEqual(longest.slice(0, k));
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

  it.skipIf(!impl.persistence)('saves and loads the same neighbours and stored vectors', async () => {
    const index = impl.persistence!.create();
    const vectors = randomVectors(100, 10);
    vectors.forEach((v, i) => index.add(i, v));
    index.markDeleted(7);
    const file = newFile();
    await index.save(file);
    const loaded = impl.persistence!.load(file);
    loaded.markDeleted(7); // hnswlib's file does not say which labels are deleted: the synchroniser marks them again
    expect(loaded.ids()).toEqual(index.ids());
    expect(loaded.searchBestFirst(vectors[42]!, 3)).toEqual(index.searchBestFirst(vectors[42]!, 3));
    expect(loaded.stores(42, vectors[42]!)).toBe(true);
    expect(loaded.stores(42, vectors[43]!)).toBe(false);
    expect(loaded.stores(7, vectors[7]!)).toBe(false);
    // a vector no cosine can use (a catalog's damaged copy) is not the one stored, whatever the engine
    expect(loaded.stores(42, new Float32Array(vectors[42]!.length))).toBe(false);
    expect(loaded.details()).toMatchObject({ size: 99, deleted: impl.keepsDeleted ? 1 : 0 });
  });

  it.skipIf(!impl.persistence)('takes changes after loading: new, replaced and deleted vectors, in one batch or one by one', async () => {
    const index = impl.persistence!.create();
    const vectors = randomVectors(300, 11);
    index.addMany(vectors.slice(0, 200).map((v, i) => [i, v] as const));
    const file = newFile();
    await index.save(file);
    const loaded = impl.persistence!.load(file);
    const oracle = new BruteForceIndex(DIM);
    vectors.slice(0, 200).forEach((v, i) => oracle.add(i, v));
    const changes: [number, Float32Array][] = vectors.slice(200).map((v, i) => [i < 50 ? i : 200 + i, v]); // 50 replaced, 50 new
    loaded.addMany(changes.slice(0, 60));
    for (const [id, v] of changes.slice(60)) loaded.add(id, v);
    for (const [id, v] of changes) oracle.add(id, v);
    for (const id of [60, 61, 250]) {
      loaded.markDeleted(id);
      oracle.markDeleted(id);
    }
    expect(loaded.ids()).toEqual(oracle.ids());
    expect(loaded.stores(10, vectors[210]!)).toBe(true);
    expect(loaded.stores(10, vectors[10]!)).toBe(false);
    let hits = 0;
    const queries = randomVectors(20, 12);
    for (const q of queries) {
      const truth = new Set(oracle.searchBestFirst(q, 10).map((r) => r.id));
      const found = loaded.searchBestFirst(q, 10, { ef: 100 });
      expect(found.some((r) => [60, 61, 250].includes(r.id))).toBe(false);
      hits += found.filter((r) => truth.has(r.id)).length;
    }
    expect(hits / (queries.length * 10)).toBeGreaterThanOrEqual(0.9);
  });

  it('refuses a vector of the wrong length: an added one as from another model, a query as a bad query', () => {
    const index = impl.create();
    expect(() => index.add(1, new Float32Array(DIM + 1))).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', message: expect.stringMatching(/length 24/) }));
    expect(() => index.searchBestFirst(new Float32Array(DIM - 1), 1)).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
  });

  it('refuses a query without a direction (NaN, infinite, all zero) as a bad query', () => {
    const index = impl.create();
    index.add(1, Float32Array.from({ length: DIM }, (_, i) => i + 1));
    const nan = new Float32Array(DIM).fill(0.1);
    nan[3] = Number.NaN;
    expect(() => index.searchBestFirst(nan, 1)).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/NaN at position 3/) }));
    expect(() => index.searchBestFirst(new Float32Array(DIM), 1)).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/every component zero/) }));
  });
});
