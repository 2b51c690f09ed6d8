import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { filterJsonSchema, type IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let app: Application;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-openapi-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
  app = createApp({ searcher: new Searcher(fixture.encoder, store), store, thumbnailer: async () => ({ data: Buffer.from('t'), contentType: 'image/webp' }) });
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Every `METHOD /path` the express router has a route for, in OpenAPI path syntax. */
function registeredRoutes(application: Application): string[] {
  const stack = (application as unknown as { router: { stack: Layer[] } }).router.stack;
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) =>
      Object.keys(layer.route!.methods)
        .filter((m) => m !== '_all')
        .map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    .sort();
}

type Operations = Record<string, Record<string, { parameters?: { in: string; required?: boolean; name: string }[] }>>;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists exactly the routes the app registers', async () => {
    const res = await request(app).get('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = res.body.paths as Operations;
    const documented = Object.entries(paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const registered = registeredRoutes(app);
    expect(registered.length).toBeGreaterThanOrEqual(11);
    expect(documented).toEqual(registered);
  });

  it('every documented route answers (not 404/405/500) with minimal valid input', async () => {
    const paths = (await request(app).get('/api/openapi.json')).body.paths as Operations;
    const anId = fixture.ids.get('water/river-a.png')!;
    const png = await import('node:fs').then((fs) => fs.readFileSync(path.join(fixture.archive, 'water/river-a.png')));
    for (const [p, ops] of Object.entries(paths)) {
      for (const method of Object.keys(ops)) {
        const url = p.replace('{id}', String(anId));
        let res: request.Response;
        if (method === 'get') res = await request(app).get(url).query(url === '/api/search' ? { q: 'river' } : {});
        else if (url === '/api/search/image') res = await request(app).post(url).set('Content-Type', 'image/png').send(png);
        else res = await request(app).post(url).send({ terms: [{ text: 'river' }] });
        expect(res.status, `${method.toUpperCase()} ${url}: ${String(res.text ?? "").slice(0, 200)}`).toBeLessThan(400);
      }
    }
  });

  it('describes the hits and filters the API answers and takes', async () => {
    const doc = (await request(app).get('/api/openapi.json')).body as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    const page = (await request(app).get('/api/search').query({ q: 'river', k: 2, collapse: true })).body as { hits: Record<string, unknown>[] };
    // footprint, center, gsd and stac are there when known (this archive has no georeference and no STAC)
    const whenKnown = ['center', 'footprint', 'gsd', 'stac'];
    expect(Object.keys(page.hits[0]!).sort()).toEqual(Object.keys(doc.components.schemas.Hit!.properties).filter((k) => !whenKnown.includes(k)).sort());
    expect(doc.components.schemas.SearchRequest!.properties.filter).toEqual(filterJsonSchema());
    const metadata = (await request(app).get(`/api/images/${fixture.ids.get('water/river-a.png')}`)).body as Record<string, unknown>;
    expect(Object.keys(metadata).sort()).toEqual(['bytes', 'contentHash', 'fields', 'fileName', 'format', 'height', 'id', 'indexed', 'modified', 'path', 'width', 'window']);
  });
});
