/**
 * A small selection (one scene's tiles, a folder) is scored exactly; its vectors are kept with
 * its allowed set after the first search, so that searching it again reads nothing from the
 * catalog, with the same hits as an exact search of the whole index, until a commit changes the
 * catalog. A set too large to keep them is read again each time, with the same hits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Catalog } from '../../src/store/embedded/catalog.js';
import { SELECTION_CACHE_LIMITS } from '../../src/store/embedded/search-planner.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { DIM, MODEL, newFile } from './backends.js';

let root: string;
let store: IndexStore;
let seed = 11;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
const randomVector = () => Float32Array.from({ length: DIM }, random);

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-selection-vectors-'));
  store = await openIndex(path.join(root, 'index'), { model: MODEL, create: true, engine: { name: 'usearch', quantization: 'f16' } });
  await store.commit(Array.from({ length: 300 }, (_, i) => ({ kind: 'put' as const, file: newFile(`${i % 3 === 0 ? 'scene' : 'other'}/tile${i}.png`), vector: randomVector() })));
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

const inScene = { filter: { folder: 'scene' } };
/** Bytes the embedded store's selection cache holds. */
const selectionCacheBytes = () => (store as unknown as { planner: { selectionCacheUse(): { bytes: number } } }).planner.selectionCacheUse().bytes;

describe('the vectors of a small selection', () => {
  it('are read once, then kept with the selection (and counted in its cache) until a commit', async () => {
    const reads = vi.spyOn(Catalog.prototype, 'getVectors');
    const before = selectionCacheBytes();
    for (let i = 0; i < 5; i++) {
      const query = randomVector();
      expect(await store.search(query, 7, inScene)).toEqual(await store.search(query, 7, { ...inScene, exact: true }));
    }
    expect(reads).toHaveBeenCalledTimes(1);
    const after = selectionCacheBytes();
    expect(after - before).toBeGreaterThanOrEqual(100 * DIM * 4);

    // a new tile of the scene: the selection is read again, with it
    const added = randomVector();
    await store.commit([{ kind: 'put', file: newFile('scene/tile-new.png'), vector: added }]);
    const [best] = await store.search(added, 1, inScene);
    expect((await store.getItems([best!.id]))[0]!.file.path).toBe('scene/tile-new.png');
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('of a set larger than the vectors kept are read for each search, with the same hits', async () => {
    const limit = SELECTION_CACHE_LIMITS.vectorBytes;
    SELECTION_CACHE_LIMITS.vectorBytes = 50 * DIM * 4;
    try {
      const reads = vi.spyOn(Catalog.prototype, 'getVectors');
      for (let i = 0; i < 3; i++) {
        const query = randomVector();
        expect(await store.search(query, 7, { filter: { folder: 'other' } })).toEqual(await store.search(query, 7, { filter: { folder: 'other' }, exact: true }));
      }
      // each search reads them, the exact one too
      expect(reads).toHaveBeenCalledTimes(6);
    } finally {
      SELECTION_CACHE_LIMITS.vectorBytes = limit;
    }
  });
});
