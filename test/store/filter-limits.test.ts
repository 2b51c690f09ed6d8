/**
 * Filter sizes are limited in the one filter schema (store/filter.ts), so that a filter SQLite
 * would refuse (too many variables, too deep an expression) or a glob that backtracks for seconds
 * is a 400 with a message, in the JSON body and in the query string alike, never a 500.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { catalogFilterSchema, FILTER_LIMITS, parseFilterSpecs, type IndexStore } from '../../src/store/index.js';
import { buildTestIndex } from '../search/fixture.js';

let root: string;
let store: IndexStore;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-filter-limits-'));
  const fixture = await buildTestIndex(root);
  store = await fixture.open();
  app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const manyFields = (names: number, values: number) => Object.fromEntries(Array.from({ length: names }, (_, i) => [`f${i}`, Array.from({ length: values }, (_, j) => `v${j}`)]));

describe('filter limits', () => {
  it('are part of the filter schema, with messages that give the limit and the value', () => {
    const issues = (filter: unknown) => catalogFilterSchema.safeParse(filter).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ fields: manyFields(999, 1) })).toEqual([`fields: at most ${FILTER_LIMITS.fieldNames} user fields in one filter, got 999`]);
    expect(issues({ fields: manyFields(20, 100) })).toEqual([`fields: at most ${FILTER_LIMITS.values} user field values in one filter, got 2000`]);
    expect(issues({ pathGlob: 'x'.repeat(501) })).toEqual([expect.stringMatching(/^pathGlob: Too big/)]);
    expect(issues({ pathGlob: '*a*a*a*a*b.png' })).toEqual(['pathGlob: at most 3 * per path segment, "*a*a*a*a*b.png" has 5']);
    expect(issues({ pathGlob: '**/2020/*a*b*.tif' })).toBeUndefined();
    expect(() => parseFilterSpecs(['path=+(a|aa)*.png'])).toThrow('invalid filter "path=+(a|aa)*.png": extended globs such as +(a|b) are not supported in filters');
  });

  it('answer 400 in the API, never 500', async () => {
    const bodies = [
      { fields: manyFields(999, 1) },
      { fields: manyFields(400, 100) },
      { pathGlob: `${'*a'.repeat(12)}*b` },
      { pathGlob: 'x'.repeat(600) },
    ];
    for (const filter of bodies) {
      const res = await request(app).post('/api/search').send({ terms: [{ text: 'river' }], filter });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('BAD_QUERY');
    }
    const res = await request(app).get('/api/search').query({ q: 'river', filter: `path=${'*a'.repeat(12)}*b` });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/at most 3 \* per path segment/);
  });
});
