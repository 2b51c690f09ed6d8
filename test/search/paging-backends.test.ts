/**
 * Paging by cursor and by offset on every back end (embedded engines, PostgreSQL with pgvector):
 * the pages of a query, graph or exact, partition its results in order, hits of equal score (items
 * with the same vector) by id, with no hit twice and none left out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipEncoder } from '../../src/model/index.js';
import { Searcher, type SearchPage, type SearchRequest } from '../../src/search/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { BACKENDS, DIM, MODEL, newFile } from '../store/backends.js';

const ITEMS = 300;

/** A deterministic unit-ish vector; every 10th item repeats the one before it (equal scores). */
function vectorOf(i: number): Float32Array {
  const j = i % 10 === 9 ? i - 1 : i;
  return Float32Array.from({ length: DIM }, (_, d) => Math.sin(j * 12.9898 + d * 78.233) + (d === 0 ? 1.5 : 0));
}

const encoder = {
  info: MODEL,
  embedTexts: () => Promise.reject(new Error('no texts here')),
  embedImages: () => Promise.reject(new Error('no images here')),
  close: () => Promise.resolve(),
} as unknown as ClipEncoder;

describe.each(BACKENDS)('paging on $name', (backend) => {
  let store: IndexStore;
  let dispose: () => void | Promise<void>;
  let first: number;
  beforeAll(async () => {
    await backend.start?.();
    const location = backend.newLocation();
    dispose = location.dispose;
    const writer = await backend.open(location.location, { model: MODEL, create: true });
    try {
      const written = await writer.commit(Array.from({ length: ITEMS }, (_, i) => ({ kind: 'put' as const, file: newFile(`f${i}.jpg`), vector: vectorOf(i) })));
      first = written[0]!.itemIds[0]!;
    } finally {
      await writer.close();
    }
    store = await backend.open(location.location, { readonly: true });
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await dispose?.();
    await backend.stop?.();
  });

  async function byCursor(request: SearchRequest): Promise<SearchPage[]> {
    const searcher = new Searcher(encoder, store);
    const pages = [await searcher.search(request)];
    while (pages.at(-1)!.nextCursor) pages.push(await searcher.search({ ...request, cursor: pages.at(-1)!.nextCursor! }));
    return pages;
  }

  it.each([false, true])('partitions the results in order, exact: %s', async (exact) => {
    const query: SearchRequest = { terms: [{ kind: 'id', id: first + 5, weight: 1 }], k: 25, exact };
    const whole = (await new Searcher(encoder, store).search({ ...query, k: 1000, exact: true })).hits.map((h) => [h.id, h.score]);
    expect(whole).toHaveLength(ITEMS - 1);
    const pages = await byCursor(query);
    expect(pages.map((p) => p.offset)).toEqual(Array.from({ length: Math.ceil((ITEMS - 1) / 25) }, (_, i) => i * 25));
    const hits = pages.flatMap((p) => p.hits);
    expect(hits.map((h) => h.id)).toEqual(whole.map(([id]) => id));
    expect(hits.map((h) => h.rank)).toEqual(hits.map((_, i) => i + 1));
    const searcher = new Searcher(encoder, store);
    const byOffset = [];
    for (let offset = 0; offset < ITEMS - 1; offset += 25) byOffset.push(...(await searcher.search({ ...query, offset })).hits.map((h) => h.id));
    expect(byOffset).toEqual(whole.map(([id]) => id));
  });
});
