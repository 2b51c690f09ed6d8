/**
 * The k-means of the ivf engine: the nearest centroid found by an exact scan (few centroids) and
 * through a graph of the centroids (GRAPH_MIN_CENTROIDS and more), against a plain JavaScript
 * scan; and seeded training.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { writeInt8 } from '../../src/store/int8-vectors.js';
import { CentroidFinder, GRAPH_MIN_CENTROIDS, trainCentroids } from '../../src/store/kmeans.js';

/** `count` int8 rows of `dim`: random directions, or each a random one of `around` plus noise. */
function int8Rows(count: number, dim: number, seed: number, around?: { rows: Int8Array; noise: number }): Int8Array {
  const random = seededRandom(seed);
  const out = new Int8Array(count * dim);
  const v = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    const base = around ? Math.floor(random() * (around.rows.length / dim)) : 0;
    for (let j = 0; j < dim; j++) v[j] = (around ? around.rows[base * dim + j]! / 127 : 0) + (around ? around.noise : 1) * (random() * 2 - 1);
    writeInt8(v, out, r * dim);
  }
  return out;
}

/** The nearest centroid of each row by cosine, in plain JavaScript. */
function nearestByScan(centroids: Int8Array, rows: Int8Array, dim: number): number[] {
  const norm = (a: Int8Array, i: number) => Math.sqrt(a.subarray(i * dim, (i + 1) * dim).reduce((s, x) => s + x * x, 0));
  const out: number[] = [];
  for (let r = 0; r < rows.length / dim; r++) {
    let best = -1;
    let bestScore = -Infinity;
    for (let c = 0; c < centroids.length / dim; c++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += rows[r * dim + j]! * centroids[c * dim + j]!;
      const score = dot / (norm(rows, r) * norm(centroids, c));
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    out.push(best);
  }
  return out;
}

describe('k-means of the ivf engine', () => {
  const dim = 32;

  it('finds the nearest of a few centroids exactly', () => {
    const centroids = int8Rows(100, dim, 1);
    const rows = int8Rows(2_000, dim, 2, { rows: centroids, noise: 0.3 });
    expect(Array.from(new CentroidFinder(centroids, dim).nearest(rows))).toEqual(nearestByScan(centroids, rows, dim));
  });

  it('finds the nearest of many centroids through a graph of them, nearly always the exact one', () => {
    const centroids = int8Rows(GRAPH_MIN_CENTROIDS + 200, dim, 3);
    const rows = int8Rows(3_000, dim, 4, { rows: centroids, noise: 0.3 });
    const found = new CentroidFinder(centroids, dim).nearest(rows);
    const exact = nearestByScan(centroids, rows, dim);
    const agree = exact.filter((c, i) => found[i] === c).length;
    expect(agree / exact.length).toBeGreaterThanOrEqual(0.97);
    expect(found.every((c) => c < GRAPH_MIN_CENTROIDS + 200)).toBe(true);
  });

  it('trains the same unit centroids from the same rows and seed', () => {
    const centres = int8Rows(20, dim, 5);
    const rows = int8Rows(2_000, dim, 6, { rows: centres, noise: 0.2 });
    const first = trainCentroids(rows, dim, 20, 9);
    expect(trainCentroids(rows, dim, 20, 9)).toEqual(first);
    for (let c = 0; c < 20; c++) expect(Math.hypot(...first.subarray(c * dim, (c + 1) * dim))).toBeCloseTo(1, 5);
    expect(() => trainCentroids(rows.subarray(0, 10 * dim), dim, 20, 9)).toThrow(/20 lists from 10 rows/);
  });
});
