/**
 * JSON.parse holds the main thread, and structure is what costs it time (26 MB of `[0,0,0,...]`
 * held every other request for seconds): a JSON body with more brackets, braces, commas and
 * colons than any valid request can have is refused with 413 before JSON.parse runs, on every
 * route that takes JSON. Legitimately large bodies still pass: base64 images (one string each),
 * an area of the documented 20,000 positions, strings full of commas and brackets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { MAX_TERMS, MAX_TEXT_LENGTH } from '../../src/search/limits.js';
import { createApp } from '../../src/server/index.js';
import { countJsonStructure, MAX_JSON_STRUCTURE } from '../../src/server/json-body.js';
import { FILTER_LIMITS, MAX_AREA_POSITIONS, type IndexStore } from '../../src/store/index.js';
import { makePng } from '../fixtures/images.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let app: Application;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-json-structure-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
  app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
});
afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The lengths of the strings JSON.parse is given while `run` runs. */
async function parsedLengths(run: () => Promise<unknown>): Promise<number[]> {
  const parse = vi.spyOn(JSON, 'parse');
  await run();
  const lengths = parse.mock.calls.map(([text]) => String(text).length);
  parse.mockRestore();
  return lengths;
}

/** A closed ring of `n` positions around Rome. */
function ring(n: number): number[][] {
  const points = Array.from({ length: n - 1 }, (_, i) => [12.5 + 0.1 * Math.cos((2 * Math.PI * i) / (n - 1)), 41.9 + 0.1 * Math.sin((2 * Math.PI * i) / (n - 1))]);
  return [...points, points[0]!];
}

describe('the structure of JSON bodies', () => {
  it('counts brackets, braces, commas and colons outside strings only', () => {
    expect(countJsonStructure(Buffer.from('{"a":[1,2,{"b":3}]}'))).toBe(7);
    expect(countJsonStructure(Buffer.from('{"t":"a,b:[c]{d}","u":"q\\"[,]\\"","v":"\\\\","w":[1]}'))).toBe(9);
    expect(countJsonStructure(Buffer.from('"unterminated [,,,'))).toBe(0);
    expect(countJsonStructure(Buffer.from(`[${'0,'.repeat(1000)}0]`), 10)).toBe(11);
  });

  it('refuses a body with more structure than any valid request before JSON.parse runs, on every JSON route', async () => {
    const body = `[${'0,'.repeat(MAX_JSON_STRUCTURE)}0]`;
    const id = fixture.ids.get('water/river-a.png')!;
    for (const route of ['/api/search', `/api/images/${id}/locate`]) {
      let res: request.Response | undefined;
      const lengths = await parsedLengths(async () => {
        res = await request(app).post(route).set('Content-Type', 'application/json').send(body);
      });
      expect(res!.status, `${route}: ${res!.text.slice(0, 300)}`).toBe(413);
      expect(res!.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/more than \d+ brackets, braces, commas and colons/) });
      expect(Math.max(...lengths)).toBeLessThan(body.length);
    }
    // a GeoJSON area far past its limit, as UTF-16 too
    const area = JSON.stringify({ terms: [{ text: 'river' }], filter: { within: { type: 'Polygon', coordinates: [ring(MAX_JSON_STRUCTURE / 2)] } } });
    expect((await request(app).post('/api/search').set('Content-Type', 'application/json').send(area)).status).toBe(413);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(area, 'utf16le')]);
    const sent = await request(app).post('/api/search').set('Content-Type', 'application/json; charset=utf-16').serialize(() => utf16 as unknown as string).send(utf16);
    expect(sent.status, sent.text.slice(0, 300)).toBe(413);
  });

  it('takes the largest valid requests: an area of the documented positions, base64 images, strings full of separators', async () => {
    const area = { type: 'MultiPolygon', coordinates: [[ring(MAX_AREA_POSITIONS / 2)], [ring(MAX_AREA_POSITIONS / 2).map(([x, y]) => [x! + 1, y!])]] };
    // the index's user fields, each with as many values as a field may have
    const fields = Object.fromEntries(['label', 'year'].map((name) => [name, Array.from({ length: FILTER_LIMITS.valuesPerField }, (_, j) => `v${j}`)]));
    const texts = Array.from({ length: MAX_TERMS - 1 }, () => ({ text: '[{,:}]'.repeat(MAX_TEXT_LENGTH / 6) }));
    const full = await request(app).post('/api/search').send({ terms: texts.concat({ text: 'river' }), k: 5, filter: { within: area, fields } });
    expect(full.status, full.text.slice(0, 300)).toBe(200);
    const png = makePng(7, 1500, 1500);
    const image = await request(app).post('/api/search').send({ terms: [{ image: png.toString('base64') }], k: 3 });
    expect(image.status, image.text.slice(0, 300)).not.toBe(413);
  });
});
