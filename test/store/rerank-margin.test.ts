/**
 * A graph that keeps vectors at reduced precision scores a rounded query, so its order differs
 * from the exact one among items whose scores lie closer than that rounding: the store asks it
 * for more than k candidates and re-ranks them on the catalog's vectors (search-planner.ts). Here
 * the items around each query have scores as far apart as the engine's scoring error (1e-5 at f16,
 * where only the query is rounded; 2e-4 at i8), so the graph's own top k (the graph searched
 * exhaustively) is not the exact one; the store's answer must be, ids and order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { openIndex, type EngineChoice } from '../../src/store/index.js';
import { MODEL } from './backends.js';

const DIM = 512;
const QUERIES = 8;
const ITEMS_PER_QUERY = 150;
/** Score steps between an item and the next around its query: about the size of each precision's scoring error. */
const STEP = { f16: 1e-5, i8: 2e-4 };

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-rerank-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** Queries in random directions, and around each, items at cosines 0.5, 0.5 + STEP, ... to it, in random directions otherwise. */
function ringsAroundQueries(seed: number, step: number): { queries: Float32Array[]; items: Float32Array[] } {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
  const queries = Array.from({ length: QUERIES }, () => unit(Float32Array.from({ length: DIM }, gauss)));
  const items = queries.flatMap((q) =>
    Array.from({ length: ITEMS_PER_QUERY }, (_, i) => {
      const r = Float32Array.from({ length: DIM }, gauss);
      const along = r.reduce((sum, x, j) => sum + x * q[j]!, 0);
      const across = unit(r.map((x, j) => x - along * q[j]!));
      const s = 0.5 + i * step;
      return unit(across.map((x, j) => s * q[j]! + Math.sqrt(1 - s * s) * x));
    }),
  );
  return { queries, items };
}

describe.each(['f16', 'i8'] as const)('a graph at reduced precision (usearch %s)', (quantization) => {
  const engine: EngineChoice = { name: 'usearch', quantization };
  it('answers with the exact top k, re-ranked on the catalog: the same ids in the same order', async () => {
    const { queries, items } = ringsAroundQueries(7, STEP[quantization]);
    const store = await openIndex(path.join(work, quantization), { model: { ...MODEL, embeddingDim: DIM }, create: true, engine });
    try {
      await store.commit(items.map((vector, i) => ({ kind: 'put', file: { root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' }, vector })));
      for (const k of [10, 40]) {
        for (const q of queries) {
          const exact = (await store.search(q, k, { exact: true })).map((h) => h.id);
          // ef past the item count: the graph's walk sees every item, so only its scores can differ
          const graph = (await store.search(q, k, { ef: items.length })).map((h) => h.id);
          expect(graph).toEqual(exact);
        }
      }
    } finally {
      await store.close();
    }
  }, 60_000);
});
