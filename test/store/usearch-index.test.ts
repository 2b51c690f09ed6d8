/**
 * usearch inserts a small graph's vectors one at a time and a large graph's batches on every
 * core: the switch between the two must work (usearch's per-thread contexts are reserved by the
 * call that grows the capacity), and every vector stays findable.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { ENGINE_DEFAULTS } from '../../src/store/index.js';
import { UsearchIndex } from '../../src/store/usearch-index.js';

const DIM = 8;

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
