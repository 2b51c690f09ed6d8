/**
 * Deep pages over a store whose graph search is approximate the way HNSW's is: a wider breadth
 * (ef) finds hits a narrower one missed. Pages must neither repeat nor skip a hit whatever breadth
 * each page searches at (cursors), deep offset pages must agree with each other, collapsing must
 * stay bounded, and no next page is offered past the window.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_COLLAPSE_WINDOW, MAX_FETCHED_HITS, MAX_WINDOW, Searcher, type SearchPage, type SearchRequest } from '../../src/search/index.js';
import type { IndexStore, ItemRecord, SearchOptions } from '../../src/store/index.js';
import type { ScoredId } from '../../src/vector-math.js';
import { runCli } from '../fixtures/cli.js';
import { KnownVectorEncoder } from './fixture.js';
import { withSearchFixture } from './search-fixture.js';

let template: ItemRecord;
let realStore: IndexStore;
let firstId: number;
withSearchFixture('rsclip-deep-pages-', (open) => {
  realStore = open.store;
  firstId = [...open.fixture.ids.values()][0]!;
});
beforeAll(async () => {
  template = (await realStore.getItems([firstId]))[0]!;
});

interface FakeGraph {
  items: number;
  /** The breadth a search needs to find item `id` (HNSW misses some items at a narrow breadth). */
  needs?: (id: number) => number;
  /** Item vectors (collapse); default: none. */
  vector?: (id: number) => Float32Array;
}

/** A store of `items` items (ids 1..items, the lower the id the better the score) over the fixture's metadata. */
function fakeStore(graph: FakeGraph): { store: IndexStore; searches: { k: number; ef: number | undefined }[] } {
  const searches: { k: number; ef: number | undefined }[] = [];
  const score = (id: number) => 1 - id / (graph.items + 1);
  const store = {
    meta: realStore.meta,
    describe: () => realStore.describe(),
    countItems: () => Promise.resolve(graph.items),
    fieldNames: () => Promise.resolve([]),
    getFields: () => Promise.resolve(new Map()),
    search(_query: Float32Array, k: number, options: SearchOptions = {}): Promise<ScoredId[]> {
      searches.push({ k, ef: options.ef });
      const hits: ScoredId[] = [];
      for (let id = 1; id <= graph.items && hits.length < k; id++) {
        if (options.exact || (graph.needs?.(id) ?? 0) <= (options.ef ?? 0)) hits.push({ id, score: score(id) });
      }
      return Promise.resolve(hits);
    },
    getItems: (ids: readonly number[]) =>
      Promise.resolve(ids.map((id): ItemRecord => ({ ...template, id, key: `k${id}`, file: { ...template.file, id, path: `f/${id}.png`, contentHash: `h${id}` } }))),
    // without vectors, collapse keeps every hit alone
    getVectors: (ids: readonly number[]) => Promise.resolve(new Map(graph.vector ? ids.map((id) => [id, graph.vector!(id)]) : [])),
  } as unknown as IndexStore;
  return { store, searches };
}

const query: SearchRequest = { terms: [{ kind: 'text', text: 'river', weight: 1 }], k: 1000 };

function expectOneOrder(pages: SearchPage[]): void {
  const hits = pages.flatMap((p) => p.hits);
  expect(new Set(hits.map((h) => h.id)).size).toBe(hits.length);
  for (let i = 1; i < hits.length; i++) expect(hits[i]!.score, `rank ${i + 1}`).toBeLessThanOrEqual(hits[i - 1]!.score);
  expect(hits.map((h) => h.rank)).toEqual(hits.map((_, i) => pages[0]!.offset + i + 1));
}

describe('deep pages', () => {
  it('follow cursors without repeating a hit or raising the score, although deeper pages search wider and find more', async () => {
    // every 7th item from 100 on is found only at a breadth of 3,000: pages up to rank 2,048 of a text query miss it, deeper ones do not
    const { store } = fakeStore({ items: 8000, needs: (id) => (id >= 100 && id % 7 === 0 ? 3000 : 0) });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    const pages = [await searcher.search(query)];
    while (pages.at(-1)!.nextCursor) pages.push(await searcher.search({ ...query, cursor: pages.at(-1)!.nextCursor! }));
    expect(pages.map((p) => p.offset)).toEqual([0, 1000, 2000, 3000, 4000]);
    expectOneOrder(pages);
    // no next page is offered past the window (it would be refused)
    expect(pages.at(-1)!.hits).toHaveLength(1000);
    expect(pages.at(-1)!.nextCursor).toBeUndefined();
  });

  it('searches every offset page past the default breadth at one breadth, so that those pages agree', async () => {
    // every 11th item from 2,000 on is found only at a breadth of 4,500
    const { store, searches } = fakeStore({ items: 8000, needs: (id) => (id >= 2000 && id % 11 === 0 ? 4500 : 0) });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    const pages = [];
    for (const offset of [2000, 3000, 4000]) pages.push(await searcher.search({ ...query, offset }));
    expectOneOrder(pages);
    expect(new Set(searches.map((s) => s.ef))).toEqual(new Set([MAX_WINDOW + 1]));
    expect(pages.map((p) => p.ef)).toEqual([MAX_WINDOW + 1, MAX_WINDOW + 1, MAX_WINDOW + 1]);
  });

  it(`offers no next page past the window of ${MAX_WINDOW} results, where one would be refused`, async () => {
    const { store } = fakeStore({ items: 8000 });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    const last = await searcher.search({ ...query, offset: MAX_WINDOW - 1000 });
    expect(last.hits).toHaveLength(1000);
    expect(last.nextCursor).toBeUndefined();
    expect((await searcher.search({ ...query, offset: MAX_WINDOW - 2000 })).nextCursor).toBeDefined();
  });

  it('gives the window\'s last results to a cursor offered with less than a full page left, as a shorter page', async () => {
    const { store } = fakeStore({ items: 8000 });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    const first = await searcher.search({ ...query, k: 700, offset: MAX_WINDOW - 800 });
    expect(first.nextCursor).toBeDefined();
    const last = await searcher.search({ ...query, k: 700, cursor: first.nextCursor! });
    expect([last.offset, last.hits.length, last.nextCursor]).toEqual([MAX_WINDOW - 100, 100, undefined]);
    expectOneOrder([first, last]);
    // an offset asked for past the window is still refused
    await expect(searcher.search({ ...query, k: 700, offset: MAX_WINDOW - 100 })).rejects.toMatchObject({ code: 'BAD_QUERY' });
  });

  it('pages an old (offset-only) cursor by its offset, and refuses a cursor of a new shape it cannot read', async () => {
    const { store } = fakeStore({ items: 100 });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    const first = await searcher.search({ ...query, k: 10 });
    const key = (JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString('utf8')) as { key: string }).key;
    const old = Buffer.from(JSON.stringify({ v: 1, offset: 10, key })).toString('base64url');
    expect((await searcher.search({ ...query, k: 10, cursor: old })).hits.map((h) => h.id)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const bad = Buffer.from(JSON.stringify({ v: 2, offset: 10, key, after: ['x', 3] })).toString('base64url');
    await expect(searcher.search({ ...query, k: 10, cursor: bad })).rejects.toMatchObject({ code: 'BAD_QUERY', message: expect.stringContaining('invalid cursor') });
  });

  it('bounds a collapse that folds almost everything: at most MAX_FETCHED_HITS hits fetched, a shorter last page that says so', async () => {
    // 40,000 items in 5 near-identical directions: collapse at 0.5 folds them into a few groups
    const { store, searches } = fakeStore({ items: 40_000, vector: (id) => Float32Array.from([1, 0.01 * (id % 5), 0, 0, 0, 0, 0, 0]) });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    const page = await searcher.search({ ...query, k: 50, collapse: { threshold: 0.5 } });
    expect(Math.max(...searches.map((s) => s.k))).toBeLessThanOrEqual(MAX_FETCHED_HITS);
    expect(page.hits.length).toBeLessThan(50);
    expect(page.nextCursor).toBeUndefined();
    expect(page.notices).toEqual([expect.stringContaining(`best ${MAX_FETCHED_HITS} hits`)]);
  });

  it(`refuses a collapsed page past offset + k = ${MAX_COLLAPSE_WINDOW}, and offers no next page past it`, async () => {
    const { store } = fakeStore({ items: 3000 });
    const searcher = new Searcher(new KnownVectorEncoder(), store);
    await expect(searcher.search({ ...query, k: 20, offset: MAX_COLLAPSE_WINDOW - 10, collapse: true })).rejects.toMatchObject({
      code: 'BAD_QUERY',
      message: `with collapse, offset + k must be at most ${MAX_COLLAPSE_WINDOW}, got ${MAX_COLLAPSE_WINDOW + 10}`,
    });
    const last = await searcher.search({ ...query, k: 100, offset: MAX_COLLAPSE_WINDOW - 100, collapse: true });
    expect(last.hits).toHaveLength(100);
    expect(last.nextCursor).toBeUndefined();
    const before = await searcher.search({ ...query, k: 100, offset: MAX_COLLAPSE_WINDOW - 200, collapse: true });
    expect(before.nextCursor).toBeDefined();
  });

  it('refuses a collapsed page past the collapse window on the command line (exit 2), before opening anything', async () => {
    const result = await runCli(['search', 'x', '--index', '/nonexistent/rsclip-index', '--collapse', '--offset', String(MAX_COLLAPSE_WINDOW - 10), '-k', '20']);
    expect(result.stderr).toMatch(/^error: --offset \+ -k must be at most 1,000 with --collapse, got 990 \+ 20/);
    expect(result.code).toBe(2);
  });
});
