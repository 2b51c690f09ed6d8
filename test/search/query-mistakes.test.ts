/**
 * What a query that cannot mean what it says gets (an error that says so, never a silent text
 * search or an empty result), and how byte-identical copies and the queried item itself are
 * shown: the same in the library, the HTTP API and the CLI.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipEncoder } from '../../src/model/index.js';
import { parseQueryTerms, Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, parseFilterSpecs, type IndexStore } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import type { TestIndex } from './fixture.js';
import { withSearchFixture } from './search-fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let searcher: Searcher;

withSearchFixture('rsclip-query-mistakes-', (open) => ({ root, fixture, store, searcher } = open));

const river = { kind: 'text' as const, text: 'river', weight: 1 };

describe('query terms that look like files', () => {
  it('refuses a path that does not exist and a folder, and lets text: force a text', () => {
    const missing = path.join(root, 'nope.jpg');
    expect(() => parseQueryTerms([missing])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: `query term "${missing}" looks like a file path, but there is no such file`, hint: `check the path, or write "text:${missing}" to search for the text` }));
    for (const term of ['./nope.jpg', 'scene_12.tif', 'a/b']) expect(() => parseQueryTerms([term])).toThrow(/looks like a file path/);
    expect(() => parseQueryTerms([fixture.archive])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: `query term "${fixture.archive}" is a folder, not an image file` }));
    expect(parseQueryTerms(['text:./nope.jpg', 'a river next to a stadium', 'U.S. airport'])).toEqual([
      { kind: 'text', text: './nope.jpg', weight: 1 },
      { kind: 'text', text: 'a river next to a stadium', weight: 1 },
      { kind: 'text', text: 'U.S. airport', weight: 1 },
    ]);
  });
});

describe('term weights', () => {
  it('count by their ratios only: huge weights (1e200, 1e308) give the results of 1, not an overflow to a zero query', async () => {
    const forest = { kind: 'text' as const, text: 'forest', weight: 1 };
    const ids = async (terms: { kind: 'text'; text: string; weight: number }[]) => (await searcher.search({ terms, k: 5 })).hits.map((h) => [h.id, h.score]);
    expect(await ids([{ ...river, weight: 1e200 }])).toEqual(await ids([river]));
    expect(await ids([{ ...river, weight: 1e308 }, { ...forest, weight: -1e308 }])).toEqual(await ids([river, { ...forest, weight: -1 }]));
  });
});

describe('a damaged model', () => {
  it("is blamed for a query vector it made with NaN (MODEL_INVALID, HTTP 500), not the user's query", async () => {
    const broken: ClipEncoder = Object.create(fixture.encoder, {
      embedTexts: { value: async (texts: string[]) => texts.map(() => new Float32Array(fixture.encoder.info.embeddingDim).fill(Number.NaN)) },
    });
    const damaged = new Searcher(broken, store);
    await expect(damaged.search({ terms: [river] })).rejects.toMatchObject({ code: 'MODEL_INVALID', message: 'the model gave the text "river" a vector with NaN at position 0: is the model damaged?' });
    const response = await request(createApp({ searcher: damaged, store })).post('/api/search').send({ terms: [{ text: 'river' }] });
    expect(response.status, JSON.stringify(response.body)).toBe(500);
    expect(response.body.error).toMatchObject({ code: 'MODEL_INVALID', hint: 'download or export the model again' });
  });
});

describe('filters on fields the index does not have', () => {
  it('are refused with the keys and the index fields listed, and a suggestion for a typo', async () => {
    await expect(searcher.search({ terms: [river], filter: parseFilterSpecs(['labl=airport']) })).rejects.toMatchObject({
      code: 'BAD_QUERY',
      message: 'unknown filter field "labl" (did you mean "label"?): the filter keys are path, folder, format, minBytes, maxBytes, minWidth, minHeight, after, before, bbox, near, within, since, until, and this index\'s user fields are label, year',
    });
    await expect(searcher.search({ terms: [river], filter: parseFilterSpecs(['formats=png']) })).rejects.toThrow(/unknown filter field "formats" \(did you mean "format"\?\)/);
    // known fields still filter, also to nothing
    expect((await searcher.search({ terms: [river], filter: { fields: { label: 'volcano' } } })).hits).toEqual([]);
  });

  it('are a 400 in the API, in the query string and in the JSON body', async () => {
    const app = createApp({ searcher, store });
    const get = await request(app).get('/api/search').query({ q: 'river', filter: 'labl=airport' });
    expect(get.status).toBe(400);
    expect(get.body.error.message).toMatch(/^unknown filter field "labl"/);
    const post = await request(app).post('/api/search').send({ terms: [{ text: 'river' }], filter: { fields: { yaer: 2012 } } });
    expect(post.status).toBe(400);
    expect(post.body.error.message).toMatch(/did you mean "year"/);
  });
});

describe('texts longer than the model reads', () => {
  const long = `a wide river ${'and more words '.repeat(30)}`.trim();

  it('are searched by their start, with a notice naming the text, its length and what the model reads', async () => {
    const page = await searcher.search({ terms: [river, { kind: 'text', text: long, weight: 1 }, { kind: 'text', text: long, weight: -0.5 }], k: 3 });
    expect(page.notices).toEqual([`the text "${long.slice(0, 40)}…" is 95 tokens long: the model reads its first 77 (start and end included) and ignores the rest`]);
    expect(page.hits).toHaveLength(3);
    expect((await searcher.search({ terms: [river], k: 3 })).notices).toBeUndefined();
  });

  it('are told about in the API, as JSON and as GeoJSON', async () => {
    const app = createApp({ searcher, store });
    const json = await request(app).get('/api/search').query({ q: long });
    expect(json.status).toBe(200);
    expect(json.body.notices).toEqual([expect.stringMatching(/^the text "a wide river and more.*" is 95 tokens long/)]);
    const geojson = await request(app).get('/api/search').query({ q: long, format: 'geojson' });
    expect(JSON.parse(geojson.text).notices).toEqual(json.body.notices);
    expect((await request(app).get('/api/search').query({ q: 'river' })).body.notices).toBeUndefined();
  });

  it('are told about on stderr by `rsclip embed` (the real tokenizer)', async () => {
    const cut = await runCli(['embed', '--model', await tinyModelDir(), '--threads', '1', '-t', 'a river', '-t', `a river ${'next to a stadium '.repeat(20)}`]);
    expect(cut.code).toBe(0);
    expect(cut.stdout.trim().split('\n')).toHaveLength(2);
    const notice = /^rsclip: the text "a river next to a stadium next to a stad…" is (\d+) tokens long: the model reads its first 77 \(start and end included\) and ignores the rest\n$/.exec(cut.stderr);
    expect(Number(notice?.[1])).toBeGreaterThan(77);
  });
});

describe('byte-identical copies', () => {
  let copies: { store: IndexStore; searcher: Searcher; ids: number[] };

  beforeAll(async () => {
    const index = path.join(root, 'copies-index');
    const writer = await openIndex(index, { model: fixture.encoder.info, create: true });
    const same = { bytes: 10, mtimeMs: 1, contentHash: 'same-bytes', width: 4, height: 4, format: 'png' };
    const vector = (i: number) => Float32Array.from({ length: 8 }, (_, j) => (j === i ? 1 : 0.1));
    const committed = await writer.commit([
      { kind: 'put', file: { root: '/a', path: 'one/scene.png', ...same }, vector: vector(0) },
      { kind: 'put', file: { root: '/a', path: 'two/scene.png', ...same }, vector: vector(0) },
      { kind: 'put', file: { root: '/a', path: 'three/scene-copy.png', ...same }, vector: vector(0) },
      { kind: 'put', file: { root: '/a', path: 'other.png', ...same, contentHash: 'other' }, vector: vector(1) },
    ]);
    await writer.close();
    const ids = committed.map((c) => c.itemIds[0]!);
    const reader = await openIndex(index, { readonly: true });
    copies = { store: reader, searcher: new Searcher(fixture.encoder, reader), ids };
  });
  afterAll(() => copies.store.close());

  it('fold into one hit that lists them (JSON: a new "copies" field), unless asked not to', async () => {
    const query = { kind: 'text' as const, text: 'river', weight: 1 };
    const page = await copies.searcher.search({ terms: [query], k: 10 });
    expect(page.hits.map((h) => [h.path, h.copies.map((c) => c.path)])).toEqual([
      ['one/scene.png', ['two/scene.png', 'three/scene-copy.png']],
      ['other.png', []],
    ]);
    const all = await copies.searcher.search({ terms: [query], k: 10, foldCopies: false });
    expect(all.hits.map((h) => h.path)).toEqual(['one/scene.png', 'two/scene.png', 'three/scene-copy.png', 'other.png']);
    expect(all.hits.every((h) => h.copies.length === 0)).toBe(true);
  });

  it('are folded or not through the HTTP API too (foldCopies in the query string and the JSON body)', async () => {
    const app = createApp({ searcher: copies.searcher, store: copies.store });
    const folded = await request(app).get('/api/search?q=river&k=10');
    expect(folded.status, folded.text).toBe(200);
    expect(folded.body.hits.map((h: { path: string; copies: unknown[] }) => [h.path, h.copies.length])).toEqual([['one/scene.png', 2], ['other.png', 0]]);
    const unfolded = await request(app).get('/api/search?q=river&k=10&foldCopies=false');
    expect(unfolded.body.hits.map((h: { path: string }) => h.path)).toEqual(['one/scene.png', 'two/scene.png', 'three/scene-copy.png', 'other.png']);
    const body = await request(app).post('/api/search').send({ terms: [{ text: 'river' }], k: 10, foldCopies: false });
    expect(body.status, body.text).toBe(200);
    expect(body.body.hits).toHaveLength(4);
    expect((await request(app).get('/api/search?q=river&foldCopies=maybe')).status).toBe(400);
  });

  it('of the queried item are left out with it, being one result with it, unless copies are listed apart', async () => {
    const page = await copies.searcher.search({ terms: [{ kind: 'id', id: copies.ids[0]!, weight: 1 }], k: 10 });
    expect(page.hits.map((h) => [h.path, h.copies.map((c) => c.path)])).toEqual([['other.png', []]]);
    const apart = await copies.searcher.search({ terms: [{ kind: 'id', id: copies.ids[0]!, weight: 1 }], k: 10, foldCopies: false });
    expect(apart.hits.map((h) => h.path)).toEqual(['two/scene.png', 'three/scene-copy.png', 'other.png']);
  });
});

describe('rsclip search (tiny model)', () => {
  it('prints "n copies" for identical files and refuses a missing image path on one line', async () => {
    const archive = path.join(root, 'cli-archive');
    mkdirSync(path.join(archive, 'a'), { recursive: true });
    mkdirSync(path.join(archive, 'b'), { recursive: true });
    for (const rel of ['a/x.png', 'b/x.png', 'b/y.png']) writeFileSync(path.join(archive, rel), makePng(rel === 'b/y.png' ? 2 : 1, 40, 40));
    const index = path.join(root, 'cli-index');
    await indexInto({ roots: [archive], index, model: await tinyModelDir(), threads: 1 });
    const found = await runCli(['search', path.join(archive, 'b', 'y.png'), '--index', index, '-k', '5', '--threads', '1']);
    expect(found.code, found.stderr).toBe(0);
    expect(found.stdout).toMatch(new RegExp(`\\t${archive.replace(/[/\\.]/g, '.')}.[ab].x\\.png\\t-\\t-\\t-\\t2 copies\\n`));
    const missing = await runCli(['search', './nope.jpg', '--index', index, '--threads', '1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('rsclip: query term "./nope.jpg" looks like a file path, but there is no such file (check the path, or write "text:./nope.jpg" to search for the text)\n');
  });
});
