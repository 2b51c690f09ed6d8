import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneQueryOpening } from '../../src/cli/one-query.js';
import { Searcher, type SearchRequest } from '../../src/search/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { FIXTURE_IMAGES, type TestIndex } from './fixture.js';
import { withSearchFixture } from './search-fixture.js';

let fixture: TestIndex;
let store: IndexStore;
let searcher: Searcher;

withSearchFixture('rsclip-search-', (open) => ({ fixture, store, searcher } = open));

const text = (t: string, weight = 1) => ({ kind: 'text' as const, text: t, weight });
const paths = async (request: SearchRequest) => (await searcher.search(request)).hits.map((h) => h.path);

describe('Searcher', () => {
  it('leaves the image a query names by id out of the results, its nearest neighbour first (one rule for the CLI and the API)', async () => {
    const page = await searcher.search({ terms: [{ kind: 'id', id: fixture.ids.get('water/river-a.png')!, weight: 1 }], k: 3 });
    expect(page.hits[0]).toMatchObject({ path: 'water/river-a-copy.png', rank: 1, score: expect.closeTo(1, 3) });
    expect(page.hits.map((h) => h.path)).not.toContain('water/river-a.png');
    const mixed = await searcher.search({ terms: [{ kind: 'id', id: fixture.ids.get('green/park.png')!, weight: 1 }, text('forest')], k: 14 });
    expect(mixed.hits.map((h) => h.path)).not.toContain('green/park.png');
  });

  it('ranks an image first when queried by its own bytes or file path', async () => {
    const file = path.join(fixture.archive, 'city/airport-b.png');
    const byPath = await searcher.search({ terms: [{ kind: 'image', image: file, weight: 1 }], k: 1 });
    expect(byPath.hits[0]?.path).toBe('city/airport-b.png');
  });

  it('answers a text query with the images of its concept, best aligned first, with metadata and fields', async () => {
    const page = await searcher.search({ terms: [text('stadium')], k: 2 });
    expect(page.hits.map((h) => h.path)).toEqual(['city/stadium-a.png', 'city/stadium-b.png']);
    expect(page.hits[0]).toMatchObject({ fileName: 'stadium-a.png', format: 'png', width: 27, height: 23, fields: { label: 'stadium', year: 2013 } });
    expect(page.hits[0]!.score).toBeGreaterThan(page.hits[1]!.score);
  });

  it('lets weights and negative terms change the ranking', async () => {
    // stadium-b leans towards parking lot (the next axis); adding parking lot lifts it above stadium-a
    expect((await paths({ terms: [text('stadium'), text('parking lot', 0.5)], k: 1 }))[0]).toBe('city/stadium-b.png');
    expect((await paths({ terms: [text('stadium'), text('parking lot', -0.5)], k: 1 }))[0]).toBe('city/stadium-a.png');
    // river-b leans towards stadium: subtracting stadium puts it behind the other rivers
    const plain = await paths({ terms: [text('river')], k: 14 });
    const minus = await paths({ terms: [text('river'), text('stadium', -1)], k: 14 });
    expect(plain.indexOf('water/river-b.png')).toBe(2);
    expect(minus.indexOf('water/river-b.png')).toBeGreaterThan(plain.indexOf('water/river-b.png'));
    // a heavier second term wins
    expect((await paths({ terms: [text('forest'), text('airport', 3)], k: 1 }))[0]).toMatch(/^city\/airport/);
  });

  it('refuses terms that cancel out, empty queries, unknown ids and bad k', async () => {
    await expect(searcher.search({ terms: [text('river'), text('river', -1)] })).rejects.toMatchObject({ code: 'BAD_QUERY' });
    await expect(searcher.search({ terms: [] })).rejects.toMatchObject({ code: 'BAD_QUERY' });
    await expect(searcher.search({ terms: [{ kind: 'id', id: 99999, weight: 1 }] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(searcher.search({ terms: [text('river')], k: 0 })).rejects.toMatchObject({ code: 'BAD_QUERY' });
    await expect(searcher.search({ terms: [text('river')], k: 100000 })).rejects.toMatchObject({ code: 'BAD_QUERY' });
  });

  it('filters on folder, glob, format, dates and user fields, also when very selective', async () => {
    const all = await paths({ terms: [text('river')], k: 50, filter: { folder: 'city' } });
    expect(all.length).toBe(6);
    expect(all.every((p) => p.startsWith('city/'))).toBe(true);
    expect(await paths({ terms: [text('river')], k: 50, filter: { pathGlob: '*-b.png' } })).toHaveLength(6);
    expect(await paths({ terms: [text('river')], k: 5, filter: { fields: { label: 'beach' } } })).toEqual(['water/beach-b.png', 'water/beach-a.png']);
    expect(await paths({ terms: [text('river')], k: 5, filter: { fields: { year: { min: 2012, max: 2012 } } } })).toEqual(['water/river-b.png']);
    expect(await paths({ terms: [text('river')], k: 5, filter: { formats: ['jpeg'] } })).toEqual([]);
    const page = await searcher.search({ terms: [text('river')], k: 50, filter: { modifiedBefore: new Date(Date.UTC(2020, 0, 1, 12)) } });
    expect(page.filtered).toBe(1);
    expect(page.hits.map((h) => h.path)).toEqual(['water/river-a.png']);
  });

  it('agrees between exact and HNSW search on small data', async () => {
    for (const concept of ['river', 'stadium', 'forest', 'something else']) {
      const exact = await searcher.search({ terms: [text(concept)], k: FIXTURE_IMAGES.length, exact: true });
      const ann = await searcher.search({ terms: [text(concept)], k: FIXTURE_IMAGES.length });
      expect(exact.exact).toBe(true);
      expect(ann.ef).toBeGreaterThanOrEqual(FIXTURE_IMAGES.length);
      expect(ann.hits.map((h) => h.id)).toEqual(exact.hits.map((h) => h.id));
      ann.hits.forEach((h, i) => expect(h.score).toBeCloseTo(exact.hits[i]!.score, 5));
    }
  });

  it('searches wider for a query with text in it than for an image (the modality gap), each at least twice k, unless ef is given', async () => {
    const river = { kind: 'id' as const, id: fixture.ids.get('water/river-a.png')!, weight: 1 };
    expect((await searcher.search({ terms: [river], k: 20 })).ef).toBe(256);
    expect((await searcher.search({ terms: [text('river')], k: 20 })).ef).toBe(512);
    expect((await searcher.search({ terms: [river, text('stadium', 0.5)], k: 20 })).ef).toBe(512);
    // wider pages: twice the hits fetched (k and one more, to know whether a next page exists, rounded
    // up to a power of two: pages of the same band agree), and sixteen times for text
    expect((await searcher.search({ terms: [river], k: 300 })).ef).toBe(512);
    expect((await searcher.search({ terms: [river], k: 600 })).ef).toBe(1024);
    expect((await searcher.search({ terms: [text('river')], k: 60 })).ef).toBe(1024);
    expect((await searcher.search({ terms: [text('river')], k: 20, ef: 80 })).ef).toBe(80);
  });

  it('pages with offset and with the cursor, and refuses a cursor of another query', async () => {
    const whole = await paths({ terms: [text('forest')], k: 14 });
    const first = await searcher.search({ terms: [text('forest')], k: 5 });
    expect(first.hits.map((h) => h.path)).toEqual(whole.slice(0, 5));
    expect(first.nextCursor).toBeDefined();
    const second = await searcher.search({ terms: [text('forest')], k: 5, cursor: first.nextCursor! });
    expect(second.offset).toBe(5);
    expect(second.hits.map((h) => h.path)).toEqual(whole.slice(5, 10));
    expect(second.hits[0]!.rank).toBe(6);
    expect(await paths({ terms: [text('forest')], k: 5, offset: 10 })).toEqual(whole.slice(10));
    const last = await searcher.search({ terms: [text('forest')], k: 5, offset: 10 });
    expect(last.nextCursor).toBeUndefined();
    await expect(searcher.search({ terms: [text('river')], k: 5, cursor: first.nextCursor! })).rejects.toMatchObject({ code: 'BAD_QUERY', message: expect.stringContaining('different query') });
    await expect(searcher.search({ terms: [text('forest')], cursor: 'garbage' })).rejects.toMatchObject({ code: 'BAD_QUERY' });
  });

  it('collapses near-duplicates into the better-ranked result', async () => {
    const plain = await searcher.search({ terms: [text('river')], k: 3 });
    expect(plain.hits.map((h) => h.path)).toEqual(['water/river-a.png', 'water/river-a-copy.png', 'water/river-b.png']);
    const collapsed = await searcher.search({ terms: [text('river')], k: 3, collapse: true });
    expect(collapsed.hits.map((h) => h.path)).toEqual(['water/river-a.png', 'water/river-b.png', expect.any(String)]);
    expect(collapsed.hits[0]!.duplicates).toEqual([{ id: fixture.ids.get('water/river-a-copy.png'), path: 'water/river-a-copy.png', score: expect.any(Number), similarity: expect.closeTo(1, 4) }]);
    expect(collapsed.hits[1]!.duplicates).toEqual([]);
  });

  it('leaves out excluded ids (more like this)', async () => {
    const id = fixture.ids.get('water/beach-a.png')!;
    const page = await searcher.search({ terms: [{ kind: 'id', id, weight: 1 }], k: 3, excludeIds: [id] });
    expect(page.hits.map((h) => h.id)).not.toContain(id);
    expect(page.hits[0]!.path).toBe('water/beach-b.png');
    const all = await searcher.search({ terms: [{ kind: 'id', id, weight: 1 }], k: 50, excludeIds: [id] });
    expect(all.hits).toHaveLength(FIXTURE_IMAGES.length - 1);
    expect(all.nextCursor).toBeUndefined();
  });

  it('sends concurrent text queries to the encoder in shared batches', async () => {
    const before = fixture.encoder.textBatches.length;
    const queries = ['river', 'stadium', 'forest', 'airport', 'beach', 'parking lot'];
    const uncached = new Searcher(fixture.encoder, store, { textCacheSize: 0 });
    const pages = await Promise.all(queries.map((q) => uncached.search({ terms: [text(q)], k: 1 })));
    expect(pages.map((p) => p.hits[0]!.fields.label)).toEqual(queries);
    const batches = fixture.encoder.textBatches.slice(before);
    expect(batches.flat().sort()).toEqual([...queries].sort());
    expect(batches.length).toBeLessThan(queries.length);
  });

  it('embeds a text once for repeated queries and later pages', async () => {
    const before = fixture.encoder.textBatches.flat().length;
    const first = await searcher.search({ terms: [text('a lonely lighthouse')], k: 2 });
    await searcher.search({ terms: [text('a lonely lighthouse')], k: 2, cursor: first.nextCursor! });
    await searcher.search({ terms: [text('a lonely lighthouse'), text('river', 0.2)], k: 2 });
    expect(fixture.encoder.textBatches.flat().length - before).toBe(1);
    const uncached = new Searcher(fixture.encoder, store, { textCacheSize: 0 });
    await uncached.search({ terms: [text('a lonely lighthouse')], k: 2 });
    expect(fixture.encoder.textBatches.flat().length - before).toBe(2);
  });

  it('takes a text the warm-up of a one-query command embedded instead of embedding it again', async () => {
    const before = fixture.encoder.textBatches.flat().length;
    const opening = oneQueryOpening({}, {}, [text('a quiet harbour'), text('river', 0.3)]);
    await opening.warmUp(fixture.encoder);
    expect([...opening.embeddedTexts.keys()]).toEqual(['a quiet harbour']);
    const warmed = await new Searcher(fixture.encoder, store, { embeddedTexts: opening.embeddedTexts, textCacheSize: 0 }).search({ terms: [text('a quiet harbour')], k: 2 });
    expect(fixture.encoder.textBatches.flat().length - before).toBe(1);
    const cold = await new Searcher(fixture.encoder, store, { textCacheSize: 0 }).search({ terms: [text('a quiet harbour')], k: 2 });
    expect(fixture.encoder.textBatches.flat().length - before).toBe(2);
    expect(warmed.hits).toEqual(cold.hits);
  });

  it('refuses exact scans beyond maxExactScan unless a filter narrows them', async () => {
    const guarded = new Searcher(fixture.encoder, store, { maxExactScan: 5 });
    await expect(guarded.search({ terms: [text('river')], exact: true })).rejects.toMatchObject({ code: 'BAD_QUERY', message: expect.stringContaining('would scan 14 vectors') });
    expect((await guarded.search({ terms: [text('river')], exact: true, filter: { fields: { label: 'river' } } })).hits).toHaveLength(3);
    expect((await guarded.search({ terms: [text('river')] })).hits.length).toBeGreaterThan(0);
  });

  it("asks the store at once what does not wait on each other: an unfiltered query's count and search, its hits' items and fields; a filter's count, or an exact search's, before the search", async () => {
    const calls: string[] = [];
    const traced = ['countItems', 'search', 'getItems', 'getFields'];
    const watched = new Proxy(store, {
      get(target, name, receiver) {
        const member = Reflect.get(target, name, receiver) as unknown;
        if (typeof name !== 'string' || !traced.includes(name) || typeof member !== 'function') return member;
        return async (...args: unknown[]) => {
          calls.push(`${name} starts`);
          // a turn of the event loop, as a round trip would take: a call the searcher makes meanwhile starts before this one ends
          await new Promise((resolve) => setImmediate(resolve));
          const answer = (await (member as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
          calls.push(`${name} ends`);
          return answer;
        };
      },
    });
    const overlapping = new Searcher(fixture.encoder, watched);
    const page = await overlapping.search({ terms: [text('stadium')], k: 2 });
    expect(page.hits[0]).toMatchObject({ path: 'city/stadium-a.png', fields: { label: 'stadium', year: 2013 } });
    // each pair starts before either of them ends (which ends first is the store's affair)
    const inTurn = (from: number, to: number) => calls.slice(from, to).sort();
    expect([inTurn(0, 2), inTurn(2, 4), inTurn(4, 6), inTurn(6, 8)]).toEqual([
      ['countItems starts', 'search starts'],
      ['countItems ends', 'search ends'],
      ['getFields starts', 'getItems starts'],
      ['getFields ends', 'getItems ends'],
    ]);
    expect(calls).toHaveLength(8);
    for (const request of [{ filter: { folder: 'city' } }, { exact: true }]) {
      calls.length = 0;
      await overlapping.search({ terms: [text('stadium')], k: 2, ...request });
      expect(calls.slice(0, 3), JSON.stringify(request)).toEqual(['countItems starts', 'countItems ends', 'search starts']);
    }
  });

  it('adds the absolute path to hits only for a searcher that asks for it (the CLI)', async () => {
    const plain = await searcher.search({ terms: [text('river')], k: 1 });
    expect(plain.hits[0]).not.toHaveProperty('absolutePath');
    const cli = await new Searcher(fixture.encoder, store, { absolutePaths: true }).search({ terms: [text('river')], k: 1 });
    expect(cli.hits[0]).toMatchObject({ path: 'water/river-a.png', absolutePath: path.join(fixture.archive, 'water', 'river-a.png') });
  });

  it('refuses an encoder of another model', () => {
    const other = Object.assign(Object.create(fixture.encoder) as typeof fixture.encoder, { info: { ...fixture.encoder.info, fingerprint: 'z'.repeat(64) } });
    expect(() => new Searcher(other, store)).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', message: expect.stringMatching(/built with model test\/known-vectors \(fp32, kkkkkkkkkkkk\); you asked for test\/known-vectors \(fp32, zzzzzzzzzzzz\)$/) }));
  });
});
