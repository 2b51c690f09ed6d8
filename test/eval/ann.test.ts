import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveEfs, evaluateAnn, recallAgainstOracle, sampleSeeded } from '../../src/eval/ann.js';
import { seededRandom } from '../../src/eval/random.js';
import type { ModelInfo } from '../../src/model/index.js';
import { openIndex, type CatalogChange } from '../../src/store/index.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-ann-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('ANN recall helpers', () => {
  it('samples distinct items, reproducibly for a seed', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const a = sampleSeeded(items, 10, 7);
    expect(new Set(a).size).toBe(10);
    expect(sampleSeeded(items, 10, 7)).toEqual(a);
    expect(sampleSeeded(items, 10, 8)).not.toEqual(a);
    expect(sampleSeeded(items, 500, 1).sort((x, y) => x - y)).toEqual(items);
  });

  it('counts a result tied with the k-th true neighbour as a hit', () => {
    const truth = new Set([1, 2]);
    // k = 2; id 3 scores the same as the oracle's 2nd (a byte-identical twin of id 2)
    expect(recallAgainstOracle([{ id: 1, score: 0.9 }, { id: 3, score: 0.8 }], truth, 0.8, 2)).toBe(1);
    expect(recallAgainstOracle([{ id: 1, score: 0.9 }, { id: 4, score: 0.7 }], truth, 0.8, 2)).toBe(0.5);
    expect(recallAgainstOracle([], truth, 0.8, 2)).toBe(0);
  });

  it('groups requested efs by the ef a search for n neighbours uses (at least n)', () => {
    expect([...effectiveEfs([11, 1, 5, 2, 40], 11)]).toEqual([
      [11, [1, 2, 5, 11]],
      [40, [40]],
    ]);
  });
});

describe('eval ann on a small index', () => {
  const DIM = 8;
  const info: ModelInfo = { id: 'random', dir: '/nonexistent/random', variant: 'fp32', fingerprint: 'a'.repeat(64), embeddingDim: DIM, contextLength: 77, imageSize: 4, logitScale: undefined };
  const indexDir = path.join(work, 'index');

  it('reports the ef each search used, one row per distinct search, and never recommends an ef below k + 1', async () => {
    const random = seededRandom(3);
    const store = await openIndex(indexDir, { create: true, model: info });
    try {
      const changes = Array.from({ length: 300 }, (_, i): CatalogChange => {
        const v = Float32Array.from({ length: DIM }, () => random() - 0.5);
        const norm = Math.hypot(...v);
        return { kind: 'put', file: { root: work, path: `${i}.png`, bytes: 1, mtimeMs: 0, contentHash: String(i), width: 4, height: 4, format: 'png' }, vector: v.map((x) => x / norm) };
      });
      await store.commit(changes);
    } finally {
      await store.close();
    }
    const report = await evaluateAnn({ index: indexDir, queries: 50, k: 10, efs: [1, 2, 5, 11, 64], target: 0.1 });
    const sweep = report.rows.filter((r) => r.search === 'hnsw');
    expect(sweep.map((r) => [r.ef, r.requestedEfs])).toEqual([
      [11, [1, 2, 5, 11]],
      [64, [64]],
    ]);
    expect(report.recommendedEf).toBe(11);
    expect(report.rows[0]).toMatchObject({ search: 'exact', ef: null, requestedEfs: [] });
  });
});
