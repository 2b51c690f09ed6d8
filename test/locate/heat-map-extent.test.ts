/**
 * The heat map of a located query covers the whole scene, nodata edges too (their windows are
 * never scored): its bbox, and the located scene's, is the scene's extent as GDAL gives it (along
 * its edges) and as the scene route gives it, not the union of the scored tiles. Scenes with a
 * nodata edge: north-up in Web Mercator, and in UTM 60 South across the antimeridian; through the
 * HTTP API and `rsclip locate`.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BBox } from '../../src/geo/index.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { describeGdal, gdaltransform } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';

const WIDTH = 1000;
const HEIGHT = 600;
/** Columns of nodata at the scene's west (Web Mercator) or east (UTM) edge: wider than a window. */
const NODATA_COLUMNS = 400;

const SCENES = {
  // 100 m pixels at about 41° N; nodata in the west
  'mercator.tif': { epsg: 3857, origin: [1_000_000, 5_000_000] as [number, number], pixel: 100, nodataWest: true },
  // 200 m pixels over Fiji (zone 60 South, central meridian 177° E): 180° lies about 320 km east of it; nodata in the east
  'utm60s.tif': { epsg: 32760, origin: [700_000, 8_120_000] as [number, number], pixel: 200, nodataWest: false },
};

let root: string;
let archive: string;
let indexDir: string;
let modelDir: string;
let encoder: ClipEncoder;
let store: IndexStore;
let app: Application;

/** The extent of the scene's edges (200 points each) in lon/lat through GDAL: [west, south, east, north], west > east across 180°. */
function gdalExtent(file: string): BBox {
  const edge: [number, number][] = [];
  for (let i = 0; i <= 200; i++) {
    const c = (i * WIDTH) / 200;
    const r = (i * HEIGHT) / 200;
    edge.push([c, 0], [c, HEIGHT], [0, r], [WIDTH, r]);
  }
  const points = gdaltransform(edge, { file, targetSrs: 'EPSG:4326' }).map((p) => p!);
  const lons = points.map(([lon]) => ((lon + 540) % 360) - 180);
  const lats = points.map(([, lat]) => lat);
  const across = Math.max(...lons) - Math.min(...lons) > 180;
  const west = across ? Math.min(...lons.filter((l) => l > 0)) : Math.min(...lons);
  const east = across ? Math.max(...lons.filter((l) => l < 0)) : Math.max(...lons);
  return [west, Math.min(...lats), east, Math.max(...lats)];
}

function expectSameExtent(ours: BBox, gdal: BBox): void {
  // 1e-4 degrees (about 10 m, a twentieth of a pixel): our edges are densified, GDAL's sampled
  ours.forEach((v, i) => expect(Math.abs(v - gdal[i]!), `bbox ${JSON.stringify(ours)} vs GDAL ${JSON.stringify(gdal)}`).toBeLessThan(1e-4));
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-heat-extent-'));
  archive = path.join(root, 'archive');
  mkdirSync(archive);
  for (const [name, scene] of Object.entries(SCENES)) {
    writeGeoTiff(path.join(archive, name), {
      width: WIDTH,
      height: HEIGHT,
      bands: 3,
      dataType: 'uint8',
      tile: 256,
      compression: 'deflate',
      nodata: '0',
      geo: { epsg: scene.epsg, origin: scene.origin, pixelSize: [scene.pixel, scene.pixel] },
      pixel: (x, y, b) => ((scene.nodataWest ? x < NODATA_COLUMNS : x >= WIDTH - NODATA_COLUMNS) ? 0 : 1 + ((x * 7 + y * 3 + b * 50) % 250)),
    });
  }
  modelDir = await tinyModelDir();
  encoder = await openClip(modelDir, { threads: 1 });
  indexDir = path.join(root, 'index');
  await indexInto({ roots: [archive], index: indexDir, model: encoder });
  store = await openIndex(indexDir, { readonly: true });
  app = createApp({ searcher: new Searcher(encoder, store), store });
}, 300_000);
afterAll(async () => {
  await store?.close();
  await encoder?.close();
  rmSync(root, { recursive: true, force: true });
});

describeGdal('the heat map of a scene with a nodata edge', () => {
  it.each(Object.keys(SCENES))('is placed by the whole scene in %s: the locate route, the scene route and GDAL agree', async (name) => {
    const file = (await store.findFileByPath(path.join(archive, name)))!;
    const items = await store.fileItems(file.id);
    const gdal = gdalExtent(path.join(archive, name));
    const scene = await request(app).get(`/api/images/${items[0]!.id}/scene`);
    expect(scene.status).toBe(200);
    expectSameExtent(scene.body.bbox, gdal);
    const located = await request(app).get(`/api/images/${items[0]!.id}/locate`).query({ q: 'a river' });
    expect(located.status, JSON.stringify(located.body)).toBe(200);
    expect(located.body.heatMap.bbox).toEqual(scene.body.bbox);
    expect(located.body.scene.bbox).toEqual(scene.body.bbox);
    const uploaded = await request(app).post('/api/locate').query({ q: 'a river' }).attach('image', readFileSync(path.join(archive, name)), name);
    expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(200);
    expectSameExtent(uploaded.body.heatMap.bbox, gdal);
    expect(uploaded.body.scene.bbox).toEqual(uploaded.body.heatMap.bbox);
  });

  it('through `rsclip locate`, in an indexed scene and in one tiled on the fly', async () => {
    const elsewhere = path.join(root, 'elsewhere');
    mkdirSync(elsewhere);
    for (const [name, scene] of Object.entries(SCENES)) {
      const gdal = gdalExtent(path.join(archive, name));
      copyFileSync(path.join(archive, name), path.join(elsewhere, name));
      for (const [how, file] of [['indexed', path.join(archive, name)], ['tiled on the fly', path.join(elsewhere, name)]]) {
        const out = path.join(root, `out-${how}-${name}`);
        const run = await runCli(['locate', file!, 'a river', '--index', indexDir, '--model', modelDir, '--threads', '1', '--format', 'json', '--out', out]);
        expect(run.code, run.stderr).toBe(0);
        expect(run.stderr).toContain(`(${how})`);
        const result = JSON.parse(run.stdout) as { scene: { bbox: BBox }; heatMap: { bbox: BBox } };
        expectSameExtent(result.heatMap.bbox, gdal);
        expect(result.scene.bbox).toEqual(result.heatMap.bbox);
        expect(JSON.parse(readFileSync(path.join(out, 'locate.json'), 'utf8')).heatMap.bbox).toEqual(result.heatMap.bbox);
        // across 180°: west > east, as RFC 7946 has it
        expect(result.heatMap.bbox[0] > result.heatMap.bbox[2]).toBe(!scene.nodataWest);
      }
    }
  }, 120_000);
});
