/**
 * Replacing vectors in place must not orphan them: after 10 % of 10,000 items are embedded again
 * (as `doctor` queues them and `index` redoes them: their vectors are dropped, then put back),
 * every item is found by its own vector at the default ef, as after the first build. hnswlib's
 * update path (updatePoint) relinks neighbours and can leave points with no incoming link: with
 * these vectors it lost 3 of the 10,000 that the first build found. New content under the same
 * window (an item keeps its id) then gives those items other vectors: found by those too.
 * usearch (its own level draws, vectors at f16) misses a few items at some stage (1 of these
 * 10,000; 7 when its first build ran on several threads): for it, no stage may miss more than
 * 1 in 1,000.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex, type CatalogChange, type IndexStore } from '../../src/store/index.js';
import { MODEL } from './backends.js';

const ITEMS = 10_000;
const DIM = 512;
const CLUSTERS = 100;
const NOISE = 0.4;
const REEMBEDDED = ITEMS / 10;
/** What `rsclip search "#id"` asks for by default: 20 results and one more. */
const K = 21;

let work: string;

/** A linear congruential generator: these seeds and vectors are the ones measured above (the first build finds every item). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
}

/** Clustered unit vectors, like CLIP embeddings of an archive (near neighbours crowd together). */
function clusteredVectors(random: () => number): Float32Array[] {
  const gauss = () => Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
  const centres = Array.from({ length: CLUSTERS }, () => Float32Array.from({ length: DIM }, gauss));
  return Array.from({ length: ITEMS }, (_, i) => {
    const v = centres[i % CLUSTERS]!.map((x) => x + NOISE * gauss());
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
}

const fileOf = (i: number) => ({ root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' });

async function notFoundByOwnVector(store: IndexStore, ids: number[], vectors: Float32Array[]): Promise<number[]> {
  const missing: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const hits = await store.search(vectors[i]!, K);
    if (!hits.some((h) => h.id === ids[i])) missing.push(ids[i]!);
  }
  return missing;
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-reembed-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Items an engine may fail to find by their own vector at any stage. */
const ALLOWED_MISSES = { hnswlib: 0, usearch: ITEMS / 1000 };

describe.each(['hnswlib', 'usearch'] as const)('recall after re-embedding in place (%s)', (engine) => {
  const expectFound = async (store: IndexStore, ids: number[], vectors: Float32Array[]) => {
    const missing = await notFoundByOwnVector(store, ids, vectors);
    if (ALLOWED_MISSES[engine] === 0) expect(missing).toEqual([]);
    else expect(missing.length).toBeLessThanOrEqual(ALLOWED_MISSES[engine]);
  };
  it(`finds each of ${ITEMS} items by its own vector at the default ef after ${REEMBEDDED} were embedded again, also after a reopen`, async () => {
    const random = seededRandom(7);
    const vectors = clusteredVectors(random);
    const index = path.join(work, engine);
    const model = { ...MODEL, embeddingDim: DIM };
    let store = await openIndex(index, { model, create: true, engine: { name: engine } });
    const ids = (await store.commit(vectors.map((vector, i) => ({ kind: 'put', file: fileOf(i), vector })))).map((c) => c.itemIds[0]!);
    // with these vectors every item is found when the graph is first built
    await expectFound(store, ids, vectors);
    const chosen = [...new Set(Array.from({ length: REEMBEDDED }, () => Math.floor(random() * ITEMS)))];
    // doctor drops the vectors it queues; the next index run puts them back
    await store.commit(chosen.map((i) => ({ kind: 'fail', file: fileOf(i), error: 'queued for embedding again' }) satisfies CatalogChange));
    await store.commit(chosen.map((i) => ({ kind: 'put', file: fileOf(i), vector: vectors[i]! }) satisfies CatalogChange));
    await expectFound(store, ids, vectors);
    // new content under the same window keeps the item's id with another vector: a new graph label
    const changed = vectors.map((v, i) => (chosen.includes(i) ? vectors[(i + 1) % ITEMS]! : v));
    const again = await store.commit(chosen.map((i) => ({ kind: 'put', file: { ...fileOf(i), contentHash: `changed${i}` }, vector: changed[i]! }) satisfies CatalogChange));
    expect(again.map((c) => c.itemIds[0])).toEqual(chosen.map((i) => ids[i]));
    await expectFound(store, ids, changed);
    await store.close();
    store = await openIndex(index, { readonly: true });
    await expectFound(store, ids, changed);
    await store.close();
  }, 300_000);
});
