/**
 * Items keep their ids when their files get new content, and usearch gives a replaced vector the
 * node it frees (graph-relink.ts): the nodes the old vector linked to lost those in-links and some
 * were found by no search (3,000 CLIP-like items, 80 % replaced and 10 % removed: 23 not found by
 * a k=10 search of their own vector, and 7 by doctor's wider one, against 0 in a fresh build of the
 * same vectors).
 * After an update run (its commits, then the checkpoint of its flush) no more items may be
 * unreached than in a fresh build, with a margin of 1 in 1,000, and `verify` (doctor) has nothing
 * to insert again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipLikeVectors } from '../../bench/clip-like-vectors.js';
import { openIndex, type CatalogChange, type IndexStore } from '../../src/store/index.js';
import { MODEL } from './backends.js';

const ITEMS = 3000;
const DIM = 512;
const REPLACED = ITEMS * 0.8;
const REMOVED = ITEMS * 0.1;
/** Files per commit, as an index run commits them. */
const BATCH = 256;

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-replaced-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const generator = new ClipLikeVectors({ items: 2 * ITEMS, dim: DIM, seed: 3 });
const vectorAt = (vectors: Float32Array, i: number) => vectors.subarray(i * DIM, (i + 1) * DIM);
const first = generator.images(0, ITEMS);
const second = generator.images(ITEMS, ITEMS);
/** The first REPLACED files get new content, the last REMOVED files go. */
const finalVector = (i: number) => vectorAt(i < REPLACED ? second : first, i);
const kept = Array.from({ length: ITEMS - REMOVED }, (_, i) => i);

const fileOf = (i: number, contentHash: string) => ({ root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash, width: 1, height: 1, format: 'png' });

async function commitInBatches(store: IndexStore, changes: CatalogChange[]): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < changes.length; i += BATCH) for (const c of await store.commit(changes.slice(i, i + BATCH))) ids.push(c.itemIds[0]!);
  return ids;
}

/** Kept files whose item a k=10 search of its own (final) vector does not find. */
async function unreached(store: IndexStore, idOf: (i: number) => number): Promise<number> {
  let missing = 0;
  for (const i of kept) if (!(await store.search(finalVector(i), 10)).some((hit) => hit.id === idOf(i))) missing++;
  return missing;
}

// a write-only store keeps its graph in a thread of its own (graph-thread.ts), which gets the old
// vectors with its next look (its batches of many commits left none unreached here even before)
describe.each([
  ['usearch', false],
  ['usearch', true],
  ['hnswlib', false],
] as const)('vectors replaced in place (%s, write-only: %s)', (engine, writeOnly) => {
  const model = { ...MODEL, embeddingDim: DIM };
  it(`leaves no more of ${ITEMS} items unreached than a fresh build after ${REPLACED} got new vectors and ${REMOVED} were removed`, async () => {
    const fresh = await openIndex(path.join(work, `${engine}-${writeOnly}-fresh`), { model, create: true, engine: { name: engine } });
    const freshIds = await commitInBatches(fresh, kept.map((i) => ({ kind: 'put', file: fileOf(i, `final${i}`), vector: finalVector(i) })));
    const freshUnreached = await unreached(fresh, (i) => freshIds[i]!);
    await fresh.close();

    const index = path.join(work, `${engine}-${writeOnly}-updated`);
    let store = await openIndex(index, { model, create: true, engine: { name: engine }, writeOnly });
    const ids = await commitInBatches(store, Array.from({ length: ITEMS }, (_, i) => ({ kind: 'put', file: fileOf(i, `first${i}`), vector: vectorAt(first, i) })));
    await commitInBatches(store, Array.from({ length: REPLACED }, (_, i) => ({ kind: 'put', file: fileOf(i, `second${i}`), vector: vectorAt(second, i) })));
    const known = await store.knownFiles('/archive');
    await commitInBatches(store, Array.from({ length: REMOVED }, (_, j) => ({ kind: 'remove', fileId: known.get(`${ITEMS - REMOVED + j}.png`)!.id })));
    await store.close();
    // a reader loads the graph the writer saved
    store = await openIndex(index, { readonly: true });
    expect(await unreached(store, (i) => ids[i]!)).toBeLessThanOrEqual(freshUnreached + ITEMS / 1000);
    await store.close();
    store = await openIndex(index, {});
    expect((await store.verify()).repaired).toEqual([]);
    await store.close();
  }, 120_000);
});
