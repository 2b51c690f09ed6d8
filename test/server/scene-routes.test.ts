/**
 * What the page's map and start page ask of the server besides search: a scene's description and
 * overview, a sample of the archive, the failed files, and the basemap option (checked, named in
 * /api/stats, allowed by the Content-Security-Policy). Geo scenes are covered through the browser
 * test on the mosaic (CRS, GSD and corners in the viewer); this one uses the small known-vector index.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lonLatTransform, parseCrs } from '../../src/geo/index.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { buildTestIndex, FIXTURE_IMAGES, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-scene-routes-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
});
afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const appWith = (basemap?: string) => createApp({ searcher: new Searcher(fixture.encoder, store), store, ...(basemap ? { basemap } : {}) });

describe('the routes of the map and the start page', () => {
  it('describe an image without a place, and render its overview', async () => {
    const app = appWith();
    const id = fixture.ids.get('water/river-a.png')!;
    const scene = await request(app).get(`/api/images/${id}/scene`);
    expect(scene.status).toBe(200);
    expect(scene.body).toMatchObject({ path: 'water/river-a.png', width: 24, height: 20, crs: null, bbox: null, corners: null, lonLatGrid: null, gsd: null, item: { id, key: 'whole' } });
    expect(scene.body.fields).toHaveProperty('label');
    const overview = await request(app).get(`/api/images/${id}/overview?size=256`).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(overview.status).toBe(200);
    expect(overview.headers['content-type']).toBe('image/webp');
    expect(await sharp(overview.body as Buffer).metadata()).toMatchObject({ width: 24, height: 20 });
    const again = await request(app).get(`/api/images/${id}/overview?size=256`).set('If-None-Match', overview.headers.etag!);
    expect(again.status).toBe(304);
    // rendered once, then served from the thumbnails' cache
    const cached = async () => (await request(app).get('/api/stats')).body.thumbnailCache.entries as number;
    expect(await cached()).toBe(1);
    expect((await request(app).get(`/api/images/${id}/overview?size=256`)).status).toBe(200);
    expect(await cached()).toBe(1);
    const wrongSize = await request(app).get(`/api/images/${id}/overview?size=300`);
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.body.error.message).toMatch(/size: expected one of 256, 512, 1024/);
    expect((await request(app).get('/api/images/99999/scene')).status).toBe(404);
  });

  it('place a scene whose CRS the catalog knows by name only (a .prj WKT without an EPSG code) by the definition the catalog records', async () => {
    const archive = path.join(root, 'prj-archive');
    mkdirSync(archive);
    await sharp(Buffer.alloc(40 * 30 * 3, 90), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(path.join(archive, 'scene.png'));
    writeFileSync(path.join(archive, 'scene.pgw'), '30\n0\n0\n-30\n399015\n5600985\n');
    // the WKT of UTM 32N without its top-level EPSG code: the catalog keeps its name, which is no definition
    const wkt = parseCrs('EPSG:32632').wkt!.replace(/,\s*AUTHORITY\["EPSG","32632"\]\]\s*$/, ']');
    writeFileSync(path.join(archive, 'scene.prj'), wkt);
    const indexDir = path.join(root, 'prj-index');
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const prjStore = await openIndex(indexDir, { readonly: true });
    try {
      const [id] = await prjStore.listItemIds();
      const scene = await request(createApp({ searcher: new Searcher(new FakeEncoder(), prjStore), store: prjStore })).get(`/api/images/${id}/scene`);
      expect(scene.status, scene.text).toBe(200);
      expect(scene.body).toMatchObject({ crs: 'WGS 84 / UTM zone 32N', epsg: null });
      const transform = lonLatTransform(parseCrs('EPSG:32632'));
      // the world file names the top-left pixel's centre: the corners lie half a pixel out
    const expected = [[399000, 5601000], [400200, 5601000], [400200, 5600100], [399000, 5600100]].map(([x, y]) => transform.toLonLat(x!, y!)!);
      expect(scene.body.corners).toHaveLength(4);
      (scene.body.corners as [number, number][]).forEach(([lon, lat], i) => {
        expect(lon).toBeCloseTo(expected[i]![0], 9);
        expect(lat).toBeCloseTo(expected[i]![1], 9);
      });
      // the viewer's grid: 16 x 16 cells of this 40 x 30 px scene, its corner points the corners, its middle point the middle pixel corner
      const grid = scene.body.lonLatGrid as { columns: number; rows: number; geographic: boolean; points: [number, number][] };
      expect(grid).toMatchObject({ columns: 16, rows: 16, geographic: false });
      expect(grid.points).toHaveLength(17 * 17);
      [grid.points[0]!, grid.points[16]!, grid.points[17 * 17 - 1]!, grid.points[17 * 16]!].forEach(([lon, lat], i) => {
        expect(lon).toBeCloseTo(expected[i]![0], 8);
        expect(lat).toBeCloseTo(expected[i]![1], 8);
      });
      const middle = transform.toLonLat(399000 + 20 * 30, 5601000 - 15 * 30)!;
      expect(grid.points[8 * 17 + 8]![0]).toBeCloseTo(middle[0], 8);
      expect(grid.points[8 * 17 + 8]![1]).toBeCloseTo(middle[1], 8);
    } finally {
      await prjStore.close();
    }
  });

  it('give a sample spread over the archive and the failed files', async () => {
    const app = appWith();
    const sample = await request(app).get('/api/sample?k=5');
    expect(sample.status).toBe(200);
    expect(sample.body.total).toBe(FIXTURE_IMAGES.length);
    expect(sample.body.items).toHaveLength(5);
    expect(new Set(sample.body.items.map((i: { id: number }) => i.id)).size).toBe(5);
    expect(sample.body.items[0]).toMatchObject({ id: expect.any(Number), path: expect.any(String), fileName: expect.any(String) });
    expect((await request(app).get('/api/sample?k=0')).status).toBe(400);
    // a number out of range is said to be so, not to be a string
    const negative = await request(app).get('/api/sample?k=-1');
    expect(negative.status).toBe(400);
    expect(negative.body.error.message).toMatch(/k: Too small: expected number to be >=1/);
    const failed = await request(app).get('/api/failed');
    expect(failed.status).toBe(200);
    expect(failed.body).toEqual({ files: [], total: 0 });
  });

  it('list the first failed files by path, with how many failed', async () => {
    const failing = await openIndex(path.join(root, 'failing'), { model: fixture.encoder.info, create: true });
    try {
      const file = (name: string) => ({ root: '/archive', path: name, bytes: 1, mtimeMs: 1, contentHash: name, width: null, height: null, format: null });
      await failing.commit(Array.from({ length: 150 }, (_, i) => ({ kind: 'fail' as const, file: file(`bad-${String(i).padStart(3, '0')}.png`), error: `truncated ${i}` })));
      const app = createApp({ searcher: new Searcher(fixture.encoder, failing), store: failing });
      const first = await request(app).get('/api/failed');
      expect(first.status).toBe(200);
      expect(first.body.total).toBe(150);
      expect(first.body.files).toHaveLength(100);
      expect(first.body.files[0]).toEqual({ path: 'bad-000.png', error: 'truncated 0', indexed: expect.any(String) });
      expect((await request(app).get('/api/failed?limit=3')).body.files.map((f: { path: string }) => f.path)).toEqual(['bad-000.png', 'bad-001.png', 'bad-002.png']);
      expect((await request(app).get('/api/failed?limit=1001')).status).toBe(400);
    } finally {
      await failing.close();
    }
  });

  it('name the basemap in /api/stats and allow its host in the CSP, and refuse a template the map cannot use', async () => {
    const app = appWith('https://tiles.example.org/osm/{z}/{x}/{y}.png');
    const stats = await request(app).get('/api/stats');
    expect(stats.body.page).toEqual({ basemap: 'https://tiles.example.org/osm/{z}/{x}/{y}.png' });
    expect(stats.headers['content-security-policy']).toMatch(/img-src 'self' data: blob: https:\/\/tiles\.example\.org;/);
    expect((await request(appWith()).get('/api/stats')).body.page).toEqual({ basemap: null });
    for (const bad of ['tiles.example.org/{z}/{x}/{y}.png', 'https://tiles.example.org/{z}/{x}.png', 'https://{s}.tile.org/{z}/{x}/{y}.png']) {
      expect(() => appWith(bad)).toThrow(/--basemap must be an http\(s\) XYZ tile URL/);
    }
  });
});
