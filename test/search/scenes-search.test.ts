/**
 * Scenes answered as places, with the tiny model: a patch cut from a known window of a
 * georeferenced mosaic finds that tile through the library, the HTTP API (JSON and GeoJSON,
 * by `format` and by Accept) and `rsclip search --format geojson`; hits carry window, footprint,
 * centre and GSD; overlapping tiles of a scene are suppressed unless `nms` is off; place filters
 * work from query parameters and CLI options; thumbnails and /file render the tile's window.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crsFromEpsg, geodesicDistance, placeOfWindow, windowIoU, type Georeference, type Ring } from '../../src/geo/index.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { overlapOfSmaller, Searcher, suppressOverlaps, type SearchHit, type SearchPage } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { MOSAIC, MOSAIC_TARGET, mosaicPatchPng, writeMosaicArchive } from '../fixtures/mosaic.js';

const GEO: Georeference = {
  crs: crsFromEpsg(MOSAIC.epsg),
  geoTransform: [MOSAIC.origin[0], MOSAIC.pixel, 0, MOSAIC.origin[1], 0, -MOSAIC.pixel],
  width: MOSAIC.size,
  height: MOSAIC.size,
  source: 'geotiff',
};
const TILE_METRES = 224 * MOSAIC.pixel;
const target = MOSAIC_TARGET;
const truth = placeOfWindow(GEO, target)!;

let root: string;
let indexDir: string;
let modelDir: string;
let patchFile: string;
let encoder: ClipEncoder;
let store: IndexStore;
let app: Application;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-scene-search-'));
  let archive: string;
  ({ archive, patchFile } = writeMosaicArchive(root));
  modelDir = await tinyModelDir();
  indexDir = path.join(root, 'index');
  encoder = await openClip(modelDir, { threads: 1 });
  await indexInto({ roots: [archive], index: indexDir, model: encoder, scales: [1, 2] });
  store = await openIndex(indexDir, { readonly: true });
  app = createApp({ searcher: new Searcher(encoder, store), store });
}, 300_000);
afterAll(async () => {
  await store?.close();
  await encoder?.close();
  rmSync(root, { recursive: true, force: true });
});

function expectKnownAnswer(hit: { window: SearchHit['window']; center?: [number, number] | null }): void {
  expect(windowIoU(hit.window, target)).toBeGreaterThanOrEqual(0.5);
  expect(geodesicDistance(hit.center!, truth.center)).toBeLessThan(TILE_METRES);
}

/** RFC 7946: lon/lat positions, counter-clockwise closed exterior rings, a bbox member on the collection and each feature. */
function expectRfc7946(collection: { type: string; bbox?: number[]; features: { type: string; bbox?: number[]; geometry: { type: string; coordinates: Ring[] } | null; properties: Record<string, unknown> }[] }): void {
  expect(collection.type).toBe('FeatureCollection');
  expect(collection.bbox).toHaveLength(4);
  for (const feature of collection.features) {
    expect(feature.type).toBe('Feature');
    expect(feature.geometry!.type).toBe('Polygon');
    const ring = feature.geometry!.coordinates[0]!;
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    let area = 0;
    for (let i = 0; i + 1 < ring.length; i++) area += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
    expect(area).toBeGreaterThan(0);
    for (const [lon, lat] of ring) {
      expect(lon).toBeGreaterThan(14.9);
      expect(lon).toBeLessThan(15.4);
      expect(lat).toBeGreaterThan(41.8);
      expect(lat).toBeLessThan(42.1);
    }
    const [w, s, e, n] = feature.bbox!;
    expect(w).toBeLessThan(e!);
    expect(s).toBeLessThan(n!);
    expect(feature.properties).toMatchObject({ rank: expect.any(Number), score: expect.any(Number), path: 'mosaic.tif', window: expect.any(Object) });
  }
}

describe('a patch cut from a georeferenced mosaic', () => {
  it('finds its tile through the library, with window, footprint, centre and GSD', async () => {
    const page = await new Searcher(encoder, store).search({ terms: [{ kind: 'image', image: patchFile, weight: 1 }], k: 5 });
    const [top] = page.hits;
    expectKnownAnswer(top!);
    expect(top).toMatchObject({ path: 'mosaic.tif', width: MOSAIC.size, height: MOSAIC.size, footprint: { type: 'Polygon' }, gsd: expect.closeTo(10, 0) });
    expect(top!.window).toEqual({ x: target.x, y: target.y, width: 224, height: 224, scale: 1 });
  });

  it('finds it through the HTTP API, as JSON and as GeoJSON by format or by Accept', async () => {
    const png = mosaicPatchPng(target);
    const json = await request(app).post('/api/search/image?k=5').set('Content-Type', 'image/png').send(png);
    expect(json.status).toBe(200);
    expectKnownAnswer((json.body as SearchPage).hits[0]!);
    for (const ask of [(r: request.Test) => r.query({ format: 'geojson' }), (r: request.Test) => r.set('Accept', 'application/geo+json')]) {
      const res = await ask(request(app).post('/api/search/image?k=5').set('Content-Type', 'image/png')).send(png);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/geo\+json/);
      const collection = JSON.parse(res.text);
      expectRfc7946(collection);
      const first = collection.features[0];
      expect(first.properties.rank).toBe(1);
      expectKnownAnswer({ window: first.properties.window, center: first.properties.center });
    }
    const body = await request(app).post('/api/search?format=geojson').send({ terms: [{ image: png.toString('base64') }], k: 3, filter: { bbox: [truth.center[0] - 0.01, truth.center[1] - 0.01, truth.center[0] + 0.01, truth.center[1] + 0.01] } });
    expect(body.status).toBe(200);
    expectKnownAnswer({ window: JSON.parse(body.text).features[0].properties.window, center: JSON.parse(body.text).features[0].properties.center });
  });

  it('finds it with `rsclip search --format geojson`, and places filter from the CLI', async () => {
    const result = await runCli(['search', patchFile, '--index', indexDir, '--model', modelDir, '--threads', '1', '-k', '3', '--format', 'geojson']);
    expect(result.code, result.stderr).toBe(0);
    const collection = JSON.parse(result.stdout);
    expectRfc7946(collection);
    expectKnownAnswer({ window: collection.features[0].properties.window, center: collection.features[0].properties.center });

    const far = await runCli(['search', patchFile, '--index', indexDir, '--model', modelDir, '--threads', '1', '--bbox', '-10,35,-9,36']);
    expect(far.code).toBe(0);
    expect(far.stdout).toBe('');
    expect(far.stderr).toMatch(/no image passes the filter/);
    const area = path.join(root, 'area.geojson');
    const [lon, lat] = truth.center;
    writeFileSync(area, JSON.stringify({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[lon - 0.001, lat - 0.001], [lon + 0.001, lat - 0.001], [lon + 0.001, lat + 0.001], [lon - 0.001, lat - 0.001]]] } }));
    const inside = await runCli(['search', patchFile, '--index', indexDir, '--model', modelDir, '--threads', '1', '--within', area, '-k', '1']);
    expect(inside.code, inside.stderr).toBe(0);
    expect(inside.stdout).toMatch(new RegExp(`^1\\.0000\\t#\\d+\\t.*mosaic\\.tif\\t@${target.x},${target.y}\\+224x224\\t${lon.toFixed(6)},${lat.toFixed(6)}\\t-\\t-\\n`));
  });
});

describe('places and suppression in search', () => {
  it('filters by bbox, near + radius and within from query parameters, exactly as the store does', async () => {
    const [lon, lat] = truth.center;
    const cases: [Record<string, string>, Parameters<IndexStore['countItems']>[0]][] = [
      [{ bbox: `${lon - 0.02},${lat - 0.02},${lon + 0.02},${lat + 0.02}` }, { filter: { bbox: { kind: 'bbox', west: lon - 0.02, south: lat - 0.02, east: lon + 0.02, north: lat + 0.02 } } }],
      [{ near: `${lon},${lat}`, radius: '3km' }, { filter: { near: { kind: 'near', lon, lat, radius: 3000 } } }],
    ];
    for (const [query, selection] of cases) {
      const expected = await store.countItems(selection);
      expect(expected).toBeGreaterThan(0);
      const res = await request(app).get('/api/search').query({ q: 'a river', k: 100, nms: 'off', ...query });
      expect(res.status, res.text).toBe(200);
      expect((res.body as SearchPage).filtered).toBe(expected);
      expect((res.body as SearchPage).hits).toHaveLength(expected);
    }
    const bad = await request(app).get('/api/search').query({ q: 'x', bbox: '1,2,3' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^invalid filter "bbox=1,2,3": expected 4 numbers/);
    const radiusAlone = await request(app).get('/api/search').query({ q: 'x', radius: '5km' });
    expect(radiusAlone.status).toBe(400);
  });

  it('suppresses tiles covered by a better hit of the same scene, and shows them all with nms off', async () => {
    const ask = async (nms: string | undefined) => ((await request(app).get('/api/search').query({ q: 'a river', k: 120, ...(nms ? { nms } : {}) })).body as SearchPage).hits;
    const covered = (hits: SearchHit[]) => hits.some((a, i) => hits.slice(0, i).some((b) => overlapOfSmaller(a.window, b.window) >= 0.5));
    const suppressed = await ask(undefined);
    expect(suppressed).toHaveLength(120);
    expect(covered(suppressed)).toBe(false);
    const all = await ask('off');
    expect(covered(all)).toBe(true);
    expect(all.some((h) => h.window.scale === 2)).toBe(true);
  });

  it('keeps entries without a known item and suppresses only within a scene', () => {
    const w = (x: number, size = 224) => ({ x, y: 0, width: size, height: size, scale: size / 224 });
    const items = new Map([
      [1, { scene: 1, window: w(0) }],
      [2, { scene: 1, window: w(0, 448) }],
      [3, { scene: 2, window: w(0) }],
      [4, { scene: 1, window: w(168) }],
    ]);
    expect(suppressOverlaps([1, 2, 3, 4, 5], (id) => id, (id) => items.get(id), 0.5)).toEqual([1, 3, 4, 5]);
    expect(suppressOverlaps([2, 1], (id) => id, (id) => items.get(id), 0.5)).toEqual([2]);
  });
});

describe('what the server shows of a tile', () => {
  it('renders the window as PNG for /file and as a WebP thumbnail', async () => {
    const page = await new Searcher(encoder, store).search({ terms: [{ kind: 'image', image: patchFile, weight: 1 }], k: 1 });
    const id = page.hits[0]!.id;
    const file = await request(app).get(`/api/images/${id}/file`).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('image/png');
    const { data, info } = await sharp(file.body as Buffer).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([224, 224]);
    expect(data.equals(await sharp(mosaicPatchPng(target)).raw().toBuffer())).toBe(true);
    const again = await request(app).get(`/api/images/${id}/file`).set('If-None-Match', file.headers.etag!);
    expect(again.status).toBe(304);

    const thumb = await request(app).get(`/api/images/${id}/thumbnail`).query({ size: 128 }).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(thumb.status).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/webp');
    const meta = await sharp(thumb.body as Buffer).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
  });
});
