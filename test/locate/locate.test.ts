/**
 * Locate, known answer: a patch cut from a known window of the georeferenced mosaic puts the best
 * box at that window (IoU >= 0.5) through the library, the HTTP API (indexed scene by id, query
 * text or uploaded image; an uploaded scene tiled on the fly) and `rsclip locate` (an indexed
 * scene, and a copy the index does not have, tiled on the fly). Tile scores come back as RFC 7946
 * GeoJSON and the heat map as a PNG with the scene's bbox.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { planWindows, windowIoU } from '../../src/geo/index.js';
import { IndexPlan } from '../../src/indexer/plan.js';
import { indexTiling, locateInImage, locateInIndexedFile, locateToFeatureCollection, type LocateResult } from '../../src/locate/index.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type FileRecord, type IndexStore } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { MOSAIC, MOSAIC_TARGET, MOSAIC_WINDOWS, mosaicPatchPng, writeMosaicArchive } from '../fixtures/mosaic.js';
import { sixteenBitScene } from '../fixtures/sixteen-bit.js';

const windows = MOSAIC_WINDOWS;
const target = MOSAIC_TARGET;

let root: string;
let archive: string;
let indexDir: string;
let modelDir: string;
let patchFile: string;
let encoder: ClipEncoder;
let store: IndexStore;
let searcher: Searcher;
let app: Application;
let mosaicFile: FileRecord;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-locate-'));
  ({ archive, patchFile } = writeMosaicArchive(root));
  modelDir = await tinyModelDir();
  indexDir = path.join(root, 'index');
  encoder = await openClip(modelDir, { threads: 1 });
  await indexInto({ roots: [archive], index: indexDir, model: encoder });
  store = await openIndex(indexDir, { readonly: true });
  searcher = new Searcher(encoder, store);
  app = createApp({ searcher, store });
  mosaicFile = (await store.findFileByPath(path.join(archive, 'mosaic.tif')))!;
}, 300_000);
afterAll(async () => {
  await store?.close();
  await encoder?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function expectKnownAnswer(top: { window: { x: number; y: number; width: number; height: number } }): void {
  expect(windowIoU(top.window, target)).toBeGreaterThanOrEqual(0.5);
}

/** Scores best first, ranks 1..n, a heat map of the scene's aspect within the mosaic's place. */
function expectWholeResult(result: Pick<LocateResult, 'tiles' | 'top' | 'scene'>, tiles: number): void {
  expect(result.tiles).toHaveLength(tiles);
  expect(result.tiles.map((t) => t.rank)).toEqual(result.tiles.map((_, i) => i + 1));
  for (let i = 1; i < result.tiles.length; i++) expect(result.tiles[i]!.score).toBeLessThanOrEqual(result.tiles[i - 1]!.score);
  expect(result.top.length).toBeGreaterThan(1);
  const [w, s, e, n] = result.scene.bbox!;
  expect([w, s, e, n]).toEqual([expect.closeTo(15, 0), expect.closeTo(41.8, 0), expect.closeTo(15.25, 0), expect.closeTo(42, 0)]);
  expect(w).toBeLessThan(e!);
  expect(s).toBeLessThan(n!);
}

describe('locating a patch in the mosaic', () => {
  it('through the library: every tile scored, the best box at the patch, no kept box covering another, a heat map', async () => {
    const query = await searcher.queryVector([{ kind: 'image', image: patchFile, weight: 1 }]);
    const result = await locateInIndexedFile(store, mosaicFile, query, { top: 8 });
    expectWholeResult(result, windows.length);
    expectKnownAnswer(result.top[0]!);
    expect(result.top).toHaveLength(8);
    for (const [i, a] of result.top.entries()) for (const b of result.top.slice(0, i)) expect(windowIoU(a.window, b.window)).toBeLessThan(0.5);
    expect(result.top[0]!.id).toEqual(expect.any(Number));
    expect(result.scene).toMatchObject({ fileId: mosaicFile.id, path: 'mosaic.tif', width: MOSAIC.size, height: MOSAIC.size, complete: true });
    // the scene's corners, clockwise from the top left: each a vertex of the footprint of the tile in that corner
    const corners = result.heatMap.corners!;
    expect(corners).toHaveLength(4);
    const cornerTiles = [[0, 0], [1, 0], [1, 1], [0, 1]].map(([right, bottom]) =>
      result.tiles.find((t) => (right ? t.window.x + t.window.width === MOSAIC.size : t.window.x === 0) && (bottom ? t.window.y + t.window.height === MOSAIC.size : t.window.y === 0))!,
    );
    for (const [i, tile] of cornerTiles.entries()) {
      const vertices = (tile.place!.footprint as { coordinates: number[][][] }).coordinates[0]!;
      expect(vertices.some(([lon, lat]) => Math.abs(lon! - corners[i]![0]) < 1e-9 && Math.abs(lat! - corners[i]![1]) < 1e-9), `corner ${i}`).toBe(true);
    }

    const meta = await sharp(result.heatMap.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 512]);
    expect(result.heatMap.maxScore).toBe(result.tiles[0]!.score);
    // the hottest pixel of the heat map lies in the best tile
    const { data } = await sharp(result.heatMap.png).raw().toBuffer({ resolveWithObject: true });
    let hottest = 0;
    for (let i = 0; i < 512 * 512; i++) if (data[i * 3]! + data[i * 3 + 1]! > data[hottest * 3]! + data[hottest * 3 + 1]!) hottest = i;
    const [hx, hy] = [((hottest % 512) + 0.5) * 4, (Math.floor(hottest / 512) + 0.5) * 4];
    const best = result.tiles[0]!.window;
    expect(hx >= best.x && hx <= best.x + best.width && hy >= best.y && hy <= best.y + best.height).toBe(true);

    const collection = locateToFeatureCollection(result);
    expect(collection.features).toHaveLength(windows.length);
    expect(collection.features[0]!.properties).toMatchObject({ rank: 1, score: result.tiles[0]!.score, top: true, item: result.tiles[0]!.id, path: 'mosaic.tif' });
    expect(collection.features[0]!.geometry!.type).toBe('Polygon');
    expect(collection.features.filter((f) => f.properties.top)).toHaveLength(8);
  });

  it('through the HTTP API: by text, by an uploaded image, as GeoJSON or PNG, and in an uploaded scene tiled on the fly', async () => {
    const byText = await request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'a river', top: 3 });
    expect(byText.status, byText.text).toBe(200);
    expectWholeResult(byText.body, windows.length);
    expect(byText.body.top).toHaveLength(3);
    expect(byText.body.heatMap.url).toMatch(/^data:image\/png;base64,/);

    const png = mosaicPatchPng(target);
    const byImage = await request(app).post(`/api/images/${mosaicFile.id}/locate`).set('Content-Type', 'image/png').send(png);
    expect(byImage.status, byImage.text).toBe(200);
    expectKnownAnswer(byImage.body.top[0]);

    const geojson = await request(app).post(`/api/images/${mosaicFile.id}/locate?format=geojson`).attach('image', png, 'patch.png');
    expect(geojson.status).toBe(200);
    expect(geojson.headers['content-type']).toMatch(/^application\/geo\+json/);
    const collection = JSON.parse(geojson.text);
    expect(collection.features).toHaveLength(windows.length);
    expectKnownAnswer({ window: collection.features[0].properties.window });

    const heat = await request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'a river', format: 'png' }).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(heat.headers['content-type']).toBe('image/png');
    expect((await sharp(heat.body as Buffer).metadata()).width).toBe(512);

    const uploaded = await request(app).post('/api/locate').query({ q: 'a river' }).attach('image', readFileSync(path.join(archive, 'mosaic.tif')), 'mosaic.tif');
    expect(uploaded.status, uploaded.text).toBe(200);
    expectWholeResult(uploaded.body, windows.length);
    expect(uploaded.body.scene).toMatchObject({ fileId: null, path: 'mosaic.tif' });
    // the same windows and the same vectors as the index: the same ranking
    expect(uploaded.body.tiles.slice(0, 5).map((t: { key: string }) => t.key)).toEqual(byText.body.tiles.slice(0, 5).map((t: { key: string }) => t.key));
  });

  it('through the HTTP API with a whole weighted query as JSON terms: texts, ids and images with their signs and weights, as search embeds them', async () => {
    const url = `/api/images/${mosaicFile.id}/locate`;
    const scores = (body: LocateResult) => body.tiles.map((t) => [t.key, t.score]);
    const byText = await request(app).get(url).query({ q: 'a river' });
    const oneTerm = await request(app).post(url).send({ terms: [{ text: 'a river' }] });
    expect(oneTerm.status, oneTerm.text).toBe(200);
    expect(scores(oneTerm.body)).toEqual(scores(byText.body));

    const png = mosaicPatchPng(target);
    const terms = [{ text: 'a river' }, { text: 'a forest', weight: -0.5 }, { image: png.toString('base64'), weight: 2 }];
    const weighted = await request(app).post(url).query({ top: 3 }).send({ terms });
    expect(weighted.status, weighted.text).toBe(200);
    const expected = await locateInIndexedFile(store, mosaicFile, await searcher.queryVector([
      { kind: 'text', text: 'a river', weight: 1 },
      { kind: 'text', text: 'a forest', weight: -0.5 },
      { kind: 'image', image: png, weight: 2 },
    ]), { top: 3 });
    expect(scores(weighted.body)).toEqual(scores(expected));
    expect(weighted.body.heatMap.url).toBe(`data:image/png;base64,${expected.heatMap.png.toString('base64')}`);
    expect(weighted.body.heatMap.url).not.toBe(byText.body.heatMap.url);

    // "more like this" a tile of the scene: that tile first, at a score of 1
    const tile = byText.body.tiles[7] as { id: number; key: string };
    const byId = await request(app).post(url).send({ terms: [{ id: tile.id }] });
    expect(byId.body.tiles[0]).toMatchObject({ id: tile.id, key: tile.key, score: expect.closeTo(1, 2) });

    for (const [body, query, message] of [
      [{ terms: [] }, {}, /terms: expected at least one term/],
      [{ terms: [{ text: 'x', weight: 0 }] }, {}, /weight must not be 0/],
      [{ terms: [{ text: 'x' }] }, { q: 'y' }, /q and a JSON body of terms were both given/],
    ] as const) {
      const res = await request(app).post(url).query(query).send(body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    expect((await request(app).post(url).send({ terms: [{ id: 999_999 }] })).status).toBe(404);
  });

  it('keeps the best tiles as they come with nms off (nms=off / false, as search; 0 is a share, refused)', async () => {
    const query = await searcher.queryVector([{ kind: 'image', image: patchFile, weight: 1 }]);
    const plain = await locateInIndexedFile(store, mosaicFile, query, { top: 6, nmsThreshold: false });
    expect(plain.top.map((t) => t.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    const suppressed = await locateInIndexedFile(store, mosaicFile, query, { top: 6, nmsThreshold: 0.2 });
    expect(suppressed.top.map((t) => t.rank)).not.toEqual([1, 2, 3, 4, 5, 6]);
    for (const nms of ['off', 'false']) {
      const res = await request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'a river', top: 4, nms });
      expect(res.status, res.text).toBe(200);
      expect(res.body.top.map((t: { rank: number }) => t.rank)).toEqual([1, 2, 3, 4]);
    }
    const zero = await request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'a river', top: 4, nms: '0' });
    expect(zero.status).toBe(400);
    expect(zero.body.error.message).toMatch(/^invalid query string: nms: expected on \(true\), off \(false\) or a share of the smaller window in \(0, 1\] \(off, not 0, shows every tile\)/);
  });

  it('answers mistakes with a clear status and message', async () => {
    const cases: [request.Test, number, RegExp][] = [
      [request(app).get(`/api/images/${mosaicFile.id}/locate`), 400, /no query: expected q=TEXT/],
      [request(app).get('/api/images/999999/locate').query({ q: 'x' }), 404, /no indexed image with id 999999/],
      [request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'x', top: '0' }), 400, /top/],
      [request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'x', top: '-1' }), 400, /top: Too small: expected number to be >=1/],
      [request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'x', nms: '1.5' }), 400, /nms/],
      [request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'x', nms: 'sometimes' }), 400, /nms/],
      [request(app).get(`/api/images/${mosaicFile.id}/locate`).query({ q: 'x', colour: 'red' }), 400, /colour/],
      [request(app).get(`/api/images/${mosaicFile.id}/locate?q=river&q=lake`), 400, /q: given 2 times: give it once/],
      [request(app).post(`/api/images/${mosaicFile.id}/locate`).set('Content-Type', 'image/png').send(Buffer.from('not a png')), 415, /./],
      [request(app).post('/api/locate').set('Content-Type', 'image/png').send(mosaicPatchPng(target)), 400, /no query/],
      [request(app).post(`/api/images/${mosaicFile.id}/locate`).set('Content-Type', 'text/plain').send('river'), 415, /application\/json body of terms, multipart\/form-data .*got text\/plain/],
    ];
    for (const [req, status, message] of cases) {
      const res = await req;
      expect(res.status, res.text).toBe(status);
      expect(res.body.error.message).toMatch(message);
    }
    // an uploaded scene is a raster image as every query image; errors name it by its name, not the server's temporary file
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="448" height="448"><rect width="448" height="448" fill="green"/></svg>');
    const refused = await request(app).post('/api/locate').query({ q: 'a river' }).attach('image', svg, 'green.svg');
    expect(refused.status, refused.text).toBe(415);
    expect(refused.body.error.message).toMatch(/SVG, a vector format, which is not accepted/);
    const jpeg = await sharp(mosaicPatchPng(target)).resize(448, 448).jpeg().toBuffer();
    const cut = await request(app).post('/api/locate').query({ q: 'a river' }).attach('image', jpeg.subarray(0, Math.floor(jpeg.length / 3)), 'cut.jpg');
    expect(cut.status, cut.text).toBeGreaterThanOrEqual(400);
    expect(cut.body.error.message).toContain('cut.jpg');
    expect(cut.text).not.toContain(tmpdir());
    const small = createApp({ searcher, store, limits: { maxScenePixels: 1000 * 1000 } });
    const tooLarge = await request(small).post('/api/locate').query({ q: 'x' }).attach('image', readFileSync(path.join(archive, 'mosaic.tif')), 'mosaic.tif');
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.message).toMatch(/2048 x 2048 pixels; at most 1000000/);
  });

  it('through `rsclip locate`, in the indexed scene and in a copy the index does not have', async () => {
    const out = path.join(root, 'out');
    const indexed = await runCli(['locate', path.join(archive, 'mosaic.tif'), patchFile, '--index', indexDir, '--model', modelDir, '--threads', '1', '--top', '3', '--out', out]);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(indexed.stderr).toMatch(new RegExp(`^${windows.length} tiles of mosaic\\.tif scored \\(indexed\\)`));
    const lines = indexed.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^\\d\\.\\d{4}\\t@${target.x},${target.y}\\+224x224\\t15\\.\\d{6},4[12]\\.\\d{6}$`));
    const tiles = JSON.parse(readFileSync(path.join(out, 'tiles.geojson'), 'utf8'));
    expect(tiles.features).toHaveLength(windows.length);
    expect((await sharp(path.join(out, 'heatmap.png')).metadata()).width).toBe(512);
    const saved = JSON.parse(readFileSync(path.join(out, 'locate.json'), 'utf8'));
    expect(saved.heatMap.bbox).toEqual(saved.scene.bbox);
    expect(saved.heatMap.corners).toHaveLength(4);
    expectKnownAnswer(saved.top[0]);

    const elsewhere = path.join(root, 'elsewhere');
    mkdirSync(elsewhere);
    copyFileSync(path.join(archive, 'mosaic.tif'), path.join(elsewhere, 'copy.tif'));
    const fly = await runCli(['locate', path.join(elsewhere, 'copy.tif'), patchFile, '--index', indexDir, '--model', modelDir, '--threads', '1', '--format', 'json']);
    expect(fly.code, fly.stderr).toBe(0);
    expect(fly.stderr).toMatch(/tiled on the fly/);
    const result = JSON.parse(fly.stdout);
    expectWholeResult(result, windows.length);
    expectKnownAnswer(result.top[0]);
    expect(result.top[0].id).toBeNull();
    // the copy's georeference gives the indexed scene's corners
    expect(result.heatMap.corners).toEqual(saved.heatMap.corners.map(([lon, lat]: number[]) => [expect.closeTo(lon!, 12), expect.closeTo(lat!, 12)]));

    // an --out that is a file is refused before any work, in one line
    const notAFolder = path.join(root, 'a-file');
    writeFileSync(notAFolder, 'x');
    const outFile = await runCli(['locate', path.join(archive, 'mosaic.tif'), 'a river', '--index', indexDir, '--model', modelDir, '--out', notAFolder]);
    expect(outFile.code).toBe(1);
    expect(outFile.stderr).toMatch(/^rsclip: cannot create the output folder .*a-file: EEXIST/);
    const bad = await runCli(['locate', path.join(root, 'missing.tif'), 'a river', '--index', indexDir, '--model', modelDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^rsclip: /);
  }, 120_000);

  it('stops tiling an uploaded scene when its client goes away (each window is a model run)', async () => {
    const embedPixels = encoder.embedPixels.bind(encoder);
    let runs = 0;
    encoder.embedPixels = async (...args) => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 150));
      return embedPixels(...args);
    };
    const server = app.listen(0, '127.0.0.1');
    try {
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const body = readFileSync(path.join(archive, 'mosaic.tif'));
      const client = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/locate?q=a%20river', headers: { 'Content-Type': 'image/tiff', 'Content-Length': body.length } });
      client.on('error', () => {});
      client.end(body);
      await vi.waitFor(() => expect(runs).toBeGreaterThan(0), { timeout: 20_000 });
      client.destroy();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const afterAbort = runs;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(runs).toBe(afterAbort);
      expect(runs).toBeLessThan(Math.ceil(windows.length / 16));
    } finally {
      encoder.embedPixels = embedPixels;
      server.close();
    }
  });

  it('refuses a scene that is not a regular file at once, as search refuses such a query image (a named pipe waits for a writer forever)', async () => {
    const fifo = path.join(root, 'scene-fifo.jpg');
    execFileSync('mkfifo', [fifo]);
    const query = await searcher.queryVector([{ kind: 'image', image: patchFile, weight: 1 }]);
    await expect(locateInImage(encoder, fifo, 'scene-fifo.jpg', query)).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE', message: `cannot read image scene-fifo.jpg: not a regular file (a named pipe)` });
  }, 10_000);

  it('tiles an image on the fly with the library too', async () => {
    const query = await searcher.queryVector([{ kind: 'image', image: patchFile, weight: 1 }]);
    const result = await locateInImage(encoder, path.join(archive, 'mosaic.tif'), 'mosaic.tif', query, { top: 1 });
    expectKnownAnswer(result.top[0]!);
    expect(result.top).toHaveLength(1);
  });

  it("renders an image tiled on the fly with an index's bands and stretch: a copy of an indexed 16-bit scene scores as its stored tiles", async () => {
    const scenes = path.join(root, 'sixteen');
    const outside = path.join(root, 'outside');
    mkdirSync(scenes);
    mkdirSync(outside);
    writeGeoTiff(path.join(scenes, 'scene.tif'), sixteenBitScene(700, 500, { nodata: [100, 80], epsg: 32633, origin: [400_000, 5_000_000] }));
    copyFileSync(path.join(scenes, 'scene.tif'), path.join(outside, 'copy.tif'));
    const sixteenIndex = path.join(root, 'sixteen-index');
    await indexInto({ roots: [scenes], index: sixteenIndex, model: encoder, bands: [4, 3, 2], percentiles: [1, 99] });
    const sixteen = await openIndex(sixteenIndex, { readonly: true });
    try {
      const plan = indexTiling(sixteen.meta);
      expect(plan).toMatchObject({ bands: [4, 3, 2], percentiles: [1, 99] });
      const query = await searcher.queryVector([{ kind: 'text', text: 'a river', weight: 1 }]);
      const indexed = await locateInIndexedFile(sixteen, (await sixteen.findFileByPath(path.join(scenes, 'scene.tif')))!, query, { nmsThreshold: false });
      const onTheFly = await locateInImage(encoder, path.join(outside, 'copy.tif'), 'copy.tif', query, { ...plan, nmsThreshold: false });
      const scores = (r: LocateResult) => Object.fromEntries(r.tiles.map((t) => [t.key, t.score]));
      const expected = scores(indexed);
      expect(Object.keys(scores(onTheFly)).sort()).toEqual(Object.keys(expected).sort());
      // to float rounding (stored vectors, other batches); the default bands and stretch differ by 0.02
      for (const [key, score] of Object.entries(scores(onTheFly))) expect(score, key).toBeCloseTo(expected[key]!, 3);
    } finally {
      await sixteen.close();
    }
  });

  it("tiles an image on the fly with an index's window sizes, overlap and stretch (indexTiling)", async () => {
    const plan = new IndexPlan({ inputSize: 224, overlap: 0.5, scales: [1, 2] });
    const tiling = indexTiling({ plan: plan.signature() });
    expect(tiling).toEqual({ overlap: 0.5, scales: [1, 2], percentiles: [2, 98] });
    expect(indexTiling({ plan: undefined })).toEqual({});
    const query = await searcher.queryVector([{ kind: 'text', text: 'a river', weight: 1 }]);
    const result = await locateInImage(encoder, path.join(archive, 'mosaic.tif'), 'mosaic.tif', query, tiling);
    expect(result.tiles).toHaveLength(planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224, tile: 224, overlap: 0.5, scales: [1, 2] }).length);
    expect(result.tiles.some((t) => t.window.scale === 2)).toBe(true);
  });
});
