/**
 * usearch inserts a small graph's vectors one at a time and a large graph's batches on every
 * core: the switch between the two must work (usearch's per-thread contexts are reserved by the
 * call that grows the capacity), and every vector stays findable. A group of near-identical
 * vectors at f16 stays reachable whole (the cosine, not the inner product of vectors whose norms
 * f16 rounding made unequal). A file most of whose nodes were removed is refused before usearch's
 * loader, which would overrun the heap on it, sees it. A search may ask for more hits than one
 * function call takes arguments (about 125,000: a collapsed deep page of a large index does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { ENGINE_DEFAULTS } from '../../src/store/index.js';
import { usearchReloadsSafely } from '../../src/store/usearch-file.js';
import { UsearchIndex } from '../../src/store/usearch-index.js';

const DIM = 8;

const unit = (v: Float32Array): Float32Array => v.map((x) => x / Math.hypot(...v));

function unitVectors(count: number, seed: number): Float32Array[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const v = Float32Array.from({ length: DIM }, () => random() * 2 - 1);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
}

describe('usearch inserts', () => {
  it('go serial into a small graph, then parallel in batches once it is large, each vector found by itself', () => {
    const index = UsearchIndex.create(DIM, { ...ENGINE_DEFAULTS.usearch, quantization: 'f32' });
    const first = unitVectors(10_050, 1);
    // one by one past the capacity steps, then batches that go to every core
    first.forEach((v, i) => index.add(i + 1, v));
    const more = unitVectors(2_000, 2);
    for (let start = 0; start < more.length; start += 500) index.addMany(more.slice(start, start + 500).map((v, i) => [20_000 + start + i, v] as const));
    expect(index.size).toBe(12_050);
    for (const [id, v] of [[1, first[0]!], [10_050, first[10_049]!], [20_000, more[0]!], [21_999, more[1_999]!]] as const) {
      expect(index.searchBestFirst(v, 1, { ef: 64 })[0]).toEqual({ id, score: expect.closeTo(1, 4) });
    }
  });
});

describe('a usearch search for more hits than a call takes arguments', () => {
  it('answers, from memory and mapped from its file', { timeout: 120_000 }, async () => {
    const count = 130_000;
    // a sparse graph builds fast; the few nodes it leaves unreached do not matter here
    const params = { ...ENGINE_DEFAULTS.usearch, quantization: 'f32', M: 8, efConstruction: 16 } as const;
    const index = UsearchIndex.create(DIM, params);
    const vectors = unitVectors(count, 5);
    for (let start = 0; start < count; start += 10_000) index.addMany(vectors.slice(start, start + 10_000).map((v, i) => [start + i + 1, v] as const));
    expect(index.searchBestFirst(vectors[0]!, count, { ef: count }).length).toBeGreaterThan(125_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-usearch-many-hits-'));
    try {
      const file = path.join(dir, 'vectors.hnsw');
      await index.save(file);
      const mapped = UsearchIndex.load(file, DIM, params, { mapped: true });
      mapped.add(count + 1, vectors[1]!);
      expect(mapped.searchBestFirst(vectors[0]!, count, { ef: count }).length).toBeGreaterThan(125_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('usearch at f16', () => {
  it('reaches every member of a group of near-identical vectors (uniform tiles), and finds each by itself', () => {
    // 140 scattered vectors and 96 around one point, shuffled: with the inner product 7 of seed 1's
    // were reached by no search, as 51 windows of the test GeoTIFFs were
    for (const seed of [1, 2, 4]) {
      const random = seededRandom(seed);
      const base = Float32Array.from({ length: 16 }, () => random() * 2 - 1);
      const scattered = Array.from({ length: 140 }, () => Float32Array.from({ length: 16 }, () => random() * 2 - 1));
      const group = Array.from({ length: 96 }, () => base.map((x) => x + 1e-4 * (random() * 2 - 1)));
      const vectors = [...scattered, ...group].map(unit);
      for (let i = vectors.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [vectors[i], vectors[j]] = [vectors[j]!, vectors[i]!];
      }
      const index = UsearchIndex.create(16, ENGINE_DEFAULTS.usearch);
      expect(ENGINE_DEFAULTS.usearch.quantization).toBe('f16');
      vectors.forEach((v, i) => index.add(i + 1, v));
      const reached = new Set(index.searchBestFirst(vectors[0]!, vectors.length, { ef: vectors.length }).map((hit) => hit.id));
      expect(reached.size, `seed ${seed}`).toBe(vectors.length);
      expect(vectors.every((v, i) => index.stores(i + 1, v))).toBe(true);
    }
  });
});

describe('a usearch file with many removed nodes', () => {
  it('is refused before usearch loads it (its loader would overrun the heap), and a few removed nodes load', async () => {
    expect([usearchReloadsSafely(0, 0), usearchReloadsSafely(0, 144), usearchReloadsSafely(4, 140), usearchReloadsSafely(40, 104), usearchReloadsSafely(70, 74), usearchReloadsSafely(72, 72)]).toEqual([true, false, false, false, true, true]);
    // a million vectors: usearch's key set holds 1,398,101, so up to 398,101 removed nodes load
    expect([usearchReloadsSafely(1_000_000, 398_101), usearchReloadsSafely(1_000_000, 398_102)]).toEqual([true, false]);
    const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-usearch-removed-'));
    try {
      const params = { ...ENGINE_DEFAULTS.usearch, quantization: 'f32' as const };
      const vectors = unitVectors(144, 3);
      for (const [kept, loads] of [[100, true], [4, false]] as const) {
        const index = UsearchIndex.create(DIM, params);
        index.addMany(vectors.map((v, i) => [i + 1, v] as const));
        for (let id = kept + 1; id <= vectors.length; id++) index.markDeleted(id);
        const file = path.join(dir, `kept-${kept}.usearch`);
        await index.save(file);
        if (!loads) {
          expect(() => UsearchIndex.load(file, DIM, params)).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringContaining(`has 140 removed nodes beside 4 vectors`) }));
          continue;
        }
        const loaded = UsearchIndex.load(file, DIM, params);
        loaded.addMany(unitVectors(144, 4).map((v, i) => [1000 + i, v] as const));
        expect(loaded.size).toBe(kept + 144);
        expect(loaded.searchBestFirst(vectors[0]!, 1, { ef: 64 })[0]).toEqual({ id: 1, score: expect.closeTo(1, 4) });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
