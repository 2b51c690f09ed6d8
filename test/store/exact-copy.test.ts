/**
 * An exact search of the whole index scans a float32 copy of every vector while that copy stays
 * within EXACT_COPY_LIMITS, and the catalog's vectors beyond it (10M items would need 20 GB):
 * same answers either way, and a copy made while the index was small stops growing with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { BruteForceIndex } from '../../src/store/brute-force-index.js';
import { EXACT_COPY_LIMITS } from '../../src/store/embedded/search-planner.js';
import { openIndex, type CatalogChange, type IndexStore } from '../../src/store/index.js';
import { DIM, MODEL, newFile } from './backends.js';

const DEFAULT_LIMIT = EXACT_COPY_LIMITS.bytes;
let parent: string;
let store: IndexStore;

beforeEach(async () => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-exact-copy-'));
  store = await openIndex(path.join(parent, 'index'), { model: MODEL, create: true });
});
afterEach(async () => {
  EXACT_COPY_LIMITS.bytes = DEFAULT_LIMIT;
  vi.restoreAllMocks();
  await store.close();
  rmSync(parent, { recursive: true, force: true });
});

/** The n-th of a fixed sequence of pseudo-random vectors. */
function vectorOf(n: number): Float32Array {
  let state = (n + 1) * 2654435761;
  return Float32Array.from({ length: DIM }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 30 - 1;
  });
}
const puts = (from: number, count: number): CatalogChange[] => Array.from({ length: count }, (_, i) => ({ kind: 'put', file: newFile(`${from + i}.jpg`), vector: vectorOf(from + i) }));
const bytesFor = (items: number) => 4 * DIM * items;
const exactTop = (query: Float32Array) => store.search(query, 10, { exact: true });

it('answers from the catalog, without a copy, once the copy would pass its bound, as it did from the copy', async () => {
  await store.commit(puts(0, 200));
  const copied = vi.spyOn(BruteForceIndex.prototype, 'add');
  const queries = [1000, 1001, 1002, 1003].map(vectorOf);
  const fromCopy = await Promise.all(queries.map(exactTop));
  expect(copied).toHaveBeenCalledTimes(200);

  EXACT_COPY_LIMITS.bytes = bytesFor(150);
  copied.mockClear();
  const scannedCopy = vi.spyOn(BruteForceIndex.prototype, 'searchBestFirst');
  const fromCatalog = await Promise.all(queries.map(exactTop));
  expect(copied).not.toHaveBeenCalled();
  expect(scannedCopy).not.toHaveBeenCalled();
  expect(fromCatalog.map((hits) => hits.map((h) => h.id))).toEqual(fromCopy.map((hits) => hits.map((h) => h.id)));
  fromCatalog.flat().forEach((hit, i) => expect(hit.score).toBeCloseTo(fromCopy.flat()[i]!.score, 5));
});

it('stops keeping a copy in step when the index outgrows the bound, and still finds what came after', async () => {
  EXACT_COPY_LIMITS.bytes = bytesFor(250);
  await store.commit(puts(0, 200));
  const copied = vi.spyOn(BruteForceIndex.prototype, 'add');
  await exactTop(vectorOf(1000));
  expect(copied).toHaveBeenCalledTimes(200);

  copied.mockClear();
  const [, , late] = await store.commit(puts(200, 100));
  expect(copied).not.toHaveBeenCalled();
  const scannedCopy = vi.spyOn(BruteForceIndex.prototype, 'searchBestFirst');
  const [best] = await exactTop(vectorOf(202));
  expect(best).toMatchObject({ id: late!.itemIds[0], score: expect.closeTo(1, 3) });
  expect(copied).not.toHaveBeenCalled();
  expect(scannedCopy).not.toHaveBeenCalled();
});
