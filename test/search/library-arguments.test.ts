/**
 * The library's entry points with arguments TypeScript would refuse, as a JavaScript caller (or an
 * `as`) passes them: each is a BAD_INPUT or BAD_QUERY that names the argument, never a TypeError
 * from deep inside, a silent default, or a search for something else. The HTTP API, which checks
 * its JSON first, answers as before.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { openClip } from '../../src/model/index.js';
import type { QueryTerm, SearchRequest, Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { parseFilterSpecs, type IndexStore } from '../../src/store/index.js';
import type { TestIndex } from './fixture.js';
import { withSearchFixture } from './search-fixture.js';

let fixture: TestIndex;
let store: IndexStore;
let searcher: Searcher;

withSearchFixture('rsclip-library-arguments-', (open) => ({ fixture, store, searcher } = open));

const river: QueryTerm = { kind: 'text', text: 'river', weight: 1 };
const refused = (message: string | RegExp) => ({ code: 'BAD_QUERY', message });

describe('Searcher.search', () => {
  it('names what is wrong with a request that is not a SearchRequest', async () => {
    const cases: [unknown, string | RegExp][] = [
      [undefined, 'invalid search request: a search request must be an object with terms'],
      [{}, 'invalid search request: terms: terms must be an array of query terms'],
      [{ terms: 'river' }, 'invalid search request: terms: terms must be an array of query terms'],
      [{ terms: [{ text: 'river', weight: 1 }] }, 'invalid search request: terms.0.kind: each term needs kind "text", "image" or "id"'],
      [{ terms: [{ kind: 'text', text: 5, weight: 1 }] }, 'invalid search request: terms.0.text: text must be a string'],
      // as the HTTP API's limit: a library caller passing on untrusted text gets the same bound
      [{ terms: [{ kind: 'text', text: 'river '.repeat(200), weight: 1 }] }, /^invalid search request: terms\.0\.text: a text may have at most 1000 characters/],
      [{ terms: [{ kind: 'image', image: 42, weight: 1 }] }, 'invalid search request: terms.0.image: image must be a file path or the bytes of an image file (a Buffer)'],
      [{ terms: [{ kind: 'id', id: '3', weight: 1 }] }, 'invalid search request: terms.0.id: id must be a positive integer'],
      [{ terms: [{ kind: 'text', text: 'river' }] }, 'invalid search request: terms.0.weight: weight must be a finite, non-zero number'],
      [{ terms: [river], nms: 5 }, /^invalid search request: nms: /],
      [{ terms: [river], collapse: { threshold: 2 } }, /^invalid search request: collapse\.threshold: /],
      [{ terms: [river], collapse: { threshold: NaN } }, /^invalid search request: collapse: collapse must be true, false or \{ threshold \}/],
      [{ terms: [river], excludeIds: 'x' }, 'invalid search request: excludeIds: excludeIds must be an array of item ids'],
      [{ terms: [river], exact: 'yes' }, /^invalid search request: exact: /],
      // a misspelt key is a mistake, as a misspelt filter key is, not an option left at its default
      [{ terms: [river], kk: 5 }, 'invalid search request: Unrecognized key: "kk"'],
      [{ terms: [river], k: '5' }, 'k must be an integer from 1 to 1000, got "5"'],
      [{ terms: [river], ef: 0 }, 'ef must be an integer from 1 to 4096, got 0'],
      [{ terms: [river], filter: 'folder=water' }, /^invalid search request: filter: Invalid input: expected object/],
      [{ terms: [river], filter: { folder: 42 } }, /^invalid search request: filter\.folder: /],
      [{ terms: [river], filter: { label: 'airport' } }, /^invalid search request: filter: unknown filter key "label": .*user fields go under fields/],
      [{ terms: [river], filter: { fields: { year: { min: 2015, max: 2010 } } } }, 'invalid search request: filter.fields.year: the range is empty: its low end is above its high end'],
      [{ terms: [river], filter: { modifiedAfter: '2021-01-01', modifiedBefore: new Date('2020-01-01') } }, /^invalid search request: filter\.modifiedBefore: before \(2020-01-01T00:00:00\.000Z\) is before after/],
      [{ terms: [river], filter: { modifiedAfter: new Date('not a date') } }, /^invalid search request: filter\.modifiedAfter: /],
      [{ terms: [river], filter: { modifiedAfter: 20200101 } }, /^invalid search request: filter\.modifiedAfter: /],
      [{ terms: [river], filter: { bbox: [200, 0, 10, 1] } }, 'invalid search request: filter.bbox: bbox: longitude 200 is outside -180..180'],
      [{ terms: [river], filter: { bbox: { kind: 'bbox', west: 200, south: 0, east: 10, north: 1 } } }, 'invalid search request: filter.bbox: bbox: longitude 200 is outside -180..180'],
      [{ terms: [river], filter: { near: { lon: 'x', lat: 5 } } }, /^invalid search request: filter\.near\.lon: /],
      [{ terms: [river], filter: { near: parseFilterSpecs(['bbox=1,2,3,4']).bbox } }, /^invalid search request: filter\.near: /],
      [{ terms: [river], filter: { within: { type: 'Polygon', coordinates: 'x' } } }, /^invalid search request: filter\.within: the area must be an array of rings/],
    ];
    for (const [req, message] of cases) await expect(searcher.search(req as SearchRequest), JSON.stringify(req)).rejects.toMatchObject(refused(message));
    // queryVector (locate's way in) checks its terms the same way
    await expect(searcher.queryVector([{ text: 'river', weight: 1 } as unknown as QueryTerm])).rejects.toMatchObject(refused('invalid query terms: 0.kind: each term needs kind "text", "image" or "id"'));
  });

  it('still answers every well-formed request, an image as bytes or a path', async () => {
    const image = path.join(fixture.archive, 'water/river-a.png');
    const page = await searcher.search({
      terms: [river, { kind: 'image', image, weight: 0.5 }, { kind: 'image', image: readFileSync(image), weight: 0.5 }, { kind: 'id', id: fixture.ids.get('water/river-b.png')!, weight: -0.2 }],
      k: 3,
      ef: 64,
      collapse: { threshold: 0.9 },
      nms: 0.5,
      excludeIds: [fixture.ids.get('water/beach-a.png')!],
      foldCopies: false,
      filter: { fields: { label: 'river' } },
    });
    expect(page.hits.length).toBeGreaterThan(0);
    expect(page.ef).toBe(64);
  });
});

describe('Searcher.search with a filter', () => {
  const area = { type: 'Polygon' as const, coordinates: [[[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]]] };
  const searchFiltered = (filter: unknown) => searcher.search({ terms: [river], k: 3, filter } as SearchRequest);

  it('takes a filter in its JSON form, as POST /api/search does, or parsed, with the same answer', async () => {
    const forms: [unknown, string[]][] = [
      [{ bbox: [170, -90, -170, 90] }, ['bbox=170,-90,-170,90']],
      [{ near: { lon: 12.49, lat: 41.89, radius: '5km' } }, ['near=12.49,41.89,5km']],
      [{ within: area }, [`within=${JSON.stringify(area)}`]],
      [{ modifiedAfter: '2020-01-03', until: '2030-01-01T00:00:00Z' }, ['after=2020-01-03', 'until=2030-01-01T00:00:00Z']],
      [{ folder: 'water', formats: ['PNG'], fields: { year: { min: 2010, max: 2013 } } }, ['folder=water', 'format=PNG', 'year=2010..2013']],
    ];
    for (const [json, specs] of forms) {
      const parsed = parseFilterSpecs(specs);
      const fromJson = await searchFiltered(json);
      const fromParsed = await searchFiltered(parsed);
      expect(fromJson.filtered, JSON.stringify(json)).toBe(fromParsed.filtered);
      expect(fromJson.hits.map((h) => h.id)).toEqual(fromParsed.hits.map((h) => h.id));
      // a spread of a parsed filter with JSON-form values, and a cursor of one form used with the other
      const mixed = await searchFiltered({ ...parsed, modifiedBefore: '2030-01-01' });
      expect(mixed.filtered).toBe(fromParsed.filtered);
    }
    const first = await searcher.search({ terms: [river], k: 1, filter: { folder: 'water', modifiedAfter: '2020-01-01' } });
    const next = await searcher.search({ terms: [river], k: 1, filter: parseFilterSpecs(['folder=water', 'after=2020-01-01']), cursor: first.nextCursor! });
    expect(next.offset).toBe(1);
  });
});

describe('the HTTP API', () => {
  it('answers the JSON forms as before (collapse as a number, an image as base64)', async () => {
    const app = createApp({ searcher, store });
    const bytes = readFileSync(path.join(fixture.archive, 'water/river-a.png'));
    const post = await request(app)
      .post('/api/search')
      .send({ terms: [{ text: 'river' }, { image: bytes.toString('base64'), weight: 0.5 }, { id: fixture.ids.get('water/river-b.png') }], collapse: 0.95, nms: 0.5, ef: 32, k: 2 });
    expect(post.status, JSON.stringify(post.body)).toBe(200);
    expect(post.body.hits.length).toBeGreaterThan(0);
    const get = await request(app).get('/api/search').query({ q: 'river', ef: '0' });
    expect(get.status).toBe(400);
  });
});

describe('openClip', () => {
  it('refuses a directory that is not a string, and options that are not an object', async () => {
    for (const dir of [123, undefined, null, '']) {
      await expect(openClip(dir as unknown as string)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/^Expected a model directory path for dir but received /) });
    }
    await expect(openClip('/some/model', null as unknown as object)).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'Expected an object for options but received null of type object' });
  });
});

describe('parseFilterSpecs', () => {
  it('refuses an empty format list, which would filter nothing', () => {
    for (const spec of ['format=', 'format= , ']) {
      expect(() => parseFilterSpecs([spec])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: `invalid filter "${spec}": expected at least one format, like format=jpeg or format=jpeg,png` }));
    }
    expect(parseFilterSpecs(['format=jpeg, png', 'format=tiff'])).toEqual({ formats: ['jpeg', 'png', 'tiff'] });
  });
});
