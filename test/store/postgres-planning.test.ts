/**
 * How PostgreSQL search chooses between exact scoring and the HNSW index without counting the
 * whole selection: on either side of the choice (a selection of at most 2,000 items is scored
 * exactly, a larger one walks the graph), and when the graph gives fewer candidates than asked
 * (k beyond pgvector's largest ef_search), the list is as long as exact search's and holds the
 * same items.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex, type CatalogChange, type IndexStore, type SearchOptions } from '../../src/store/index.js';
import { seededRandom } from '../geo/random-footprints.js';
import { MODEL, newFile, PGLITE_BACKEND } from './backends.js';

const rand = seededRandom(33);
const DIM = 8;
const N = 2600;

function randomUnit(): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => rand() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

describe('PostgreSQL search without a full count of the selection', () => {
  let store: IndexStore;

  beforeAll(async () => {
    await PGLITE_BACKEND.start!();
    store = await openIndex(PGLITE_BACKEND.newLocation().location, { model: { ...MODEL, embeddingDim: DIM }, create: true });
    const changes: CatalogChange[] = Array.from({ length: N }, (_, i) => ({ kind: 'put', file: newFile(`img${i}.jpg`, { bytes: i }), vector: randomUnit() }));
    for (let i = 0; i < N; i += 650) await store.commit(changes.slice(i, i + 650));
  }, 300_000);
  afterAll(async () => {
    await store.close();
    await PGLITE_BACKEND.stop!();
  });

  /** The list is as long as it can be, and only selected items are in it; `same`: exactly exact search's items. */
  async function expectFullList(k: number, options: SearchOptions, selected: number, same = true): Promise<void> {
    const query = randomUnit();
    const found = await store.search(query, k, options);
    expect(found).toHaveLength(Math.min(k, selected));
    const allowed = new Set(await store.listItemIds(options));
    expect(allowed.size).toBe(selected);
    expect(found.every((r) => allowed.has(r.id))).toBe(true);
    if (same) expect(new Set(found.map((r) => r.id))).toEqual(new Set((await store.search(query, k, { ...options, exact: true })).map((r) => r.id)));
  }

  it('answers selections on both sides of the exact-or-graph choice in full', async () => {
    // 2,000 items are scored exactly; 2,001 go through the graph
    await expectFullList(10, { filter: { maxBytes: 1999 } }, 2000);
    await expectFullList(2000, { filter: { maxBytes: 1999 } }, 2000);
    await expectFullList(10, { filter: { maxBytes: 2000 } }, 2001, false);
    await expectFullList(10, { filter: { maxBytes: 2000 }, excludeIds: [1, 2, 3] }, 1998);
  });

  it('falls back to exact search when the graph gives fewer candidates than asked, filtered or not', async () => {
    await expectFullList(2300, { filter: { maxBytes: 2399 } }, 2400);
    await expectFullList(N, {}, N);
    await expectFullList(N + 5, {}, N);
    await expectFullList(2500, { filter: { minBytes: 100 } }, 2500);
  });
});
