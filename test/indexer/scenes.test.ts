/**
 * Scenes through the indexer (a model-free encoder, so every answer is known): tiles with
 * windows and footprints, the tile of a patch cut from the scene found again, radiometry equal
 * to a PNG export of the same stretch, nodata windows skipped and counted, resume inside a scene,
 * re-tiling when the plan changes (ids never reused), reuse of copied scenes, world files with
 * --crs against GDAL, and every real GeoTIFF of ../shared indexable.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { crsFromEpsg, geodesicDistance, planWindows, placeOfWindow, windowIoU, type PixelWindow } from '../../src/geo/index.js';
import { openClip } from '../../src/model/index.js';
import { isMostlyNodata, Scene } from '../../src/raster/index.js';
import { openIndex, type IndexStore, type ItemRecord } from '../../src/store/index.js';
import { describeGdal, gdaltransform } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { makeBlackPng, makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { MOSAIC, mosaicPatchPng, writeMosaic } from '../fixtures/mosaic.js';
import { sixteenBitScene } from '../fixtures/sixteen-bit.js';
import { DATASETS_DIR, describeShared } from '../fixtures/shared.js';
import { FakeEncoder } from './fake-encoder.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-scenes-'));
const mosaicFile = path.join(work, 'mosaic.tif');
writeMosaic(mosaicFile);
afterAll(() => rmSync(work, { recursive: true, force: true }));

let archive: string;
let indexDir: string;
let run = 0;
beforeEach(() => {
  run++;
  archive = path.join(work, `archive-${run}`);
  indexDir = path.join(work, `index-${run}`);
  mkdirSync(archive);
});

async function allItems(store: IndexStore): Promise<ItemRecord[]> {
  return store.getItems(await store.listItemIds());
}

describe('a georeferenced scene', () => {
  it('is cut into tiles with windows and footprints, and a patch cut from it finds its tile', async () => {
    copyFileSync(mosaicFile, path.join(archive, 'mosaic.tif'));
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    const windows = planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224 });
    expect(summary).toMatchObject({ added: 1, scenes: 1, embedded: windows.length, nodataWindows: 0, errors: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    const items = await allItems(store);
    expect(items.map((i) => i.key).sort()).toEqual(windows.map((w) => w.key).sort());
    const geo = { crs: crsFromEpsg(MOSAIC.epsg), geoTransform: [MOSAIC.origin[0], MOSAIC.pixel, 0, MOSAIC.origin[1], 0, -MOSAIC.pixel] as const, width: MOSAIC.size, height: MOSAIC.size, source: 'geotiff' as const };
    for (const item of items) {
      const expected = placeOfWindow(geo, item.window)!;
      expect(item.place!.center[0]).toBeCloseTo(expected.center[0], 9);
      expect(item.place!.center[1]).toBeCloseTo(expected.center[1], 9);
      expect(item.place!.gsd).toBeCloseTo(10, 0);
    }
    expect(items[0]!.file).toMatchObject({ width: MOSAIC.size, height: MOSAIC.size, format: 'tiff', geo: { epsg: MOSAIC.epsg, source: 'geotiff' }, stretch: { kind: 'passthrough' } });

    const target = windows[Math.floor(windows.length / 2) + 3]!;
    const [query] = await encoder.embedImages([mosaicPatchPng(target)]);
    const [top] = await store.search(query!, 1);
    const [hit] = await store.getItems([top!.id]);
    expect(windowIoU(hit!.window, target)).toBeGreaterThanOrEqual(0.5);
    const truth = placeOfWindow(geo, target)!;
    expect(geodesicDistance(hit!.place!.center, truth.center)).toBeLessThan(224 * MOSAIC.pixel);
    await store.close();
  });

  it('renders 16-bit tiles with --bands and the stretch as a PNG export of the same stretch, skipping nodata tiles', async () => {
    const file = path.join(archive, 'sixteen.tif');
    const spec = sixteenBitScene(1100, 900, { nodata: [550, 450], epsg: 32631, origin: [600_000, 5_800_000] });
    writeGeoTiff(file, spec);
    const encoder = new FakeEncoder();
    encoder.keepDecoded = true;
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, bands: [4, 3, 2] });

    const scene = await Scene.open(file, { bands: [4, 3, 2] });
    const whole = await scene.readOverview(Math.max(spec.width, spec.height));
    const exported = await sharp(await sharp(Buffer.from(whole.rgb), { raw: { width: spec.width, height: spec.height, channels: 3 } }).png().toBuffer()).raw().toBuffer();
    const crop = (w: PixelWindow): Buffer => {
      const out = Buffer.alloc(w.width * w.height * 3);
      for (let y = 0; y < w.height; y++) exported.copy(out, y * w.width * 3, ((w.y + y) * spec.width + w.x) * 3, ((w.y + y) * spec.width + w.x + w.width) * 3);
      return out;
    };
    const windows = planWindows(spec.width, spec.height, { inputSize: 224 });
    const skipped: string[] = [];
    const expected = new Map<string, string>();
    for (const w of windows) {
      if (isMostlyNodata(await scene.readWindow(w))) skipped.push(w.key);
      else expected.set(crop(w).toString('base64'), w.key);
    }
    expect(skipped.length).toBeGreaterThan(2);
    expect(summary).toMatchObject({ embedded: windows.length - skipped.length, nodataWindows: skipped.length });
    // every tile the model saw is the export cut at its window, pixel for pixel
    expect(encoder.decoded).toHaveLength(expected.size);
    expect(new Set(encoder.decoded.map((d) => expected.get(d.rgb.toString('base64'))))).toEqual(new Set(expected.values()));

    const store = await openIndex(indexDir, { readonly: true });
    const items = await allItems(store);
    expect(items.map((i) => i.key).sort()).toEqual([...expected.values()].sort());
    expect(items[0]!.file.stretch).toEqual(scene.stretch);
    expect(items[0]!.file.plan).toMatch(/^tiles=.*;bands=4,3,2;stretch=2,98$/);
    await store.close();
    await scene.close();
  });

  it('resumes a scene interrupted half-way: every tile once, none embedded twice', async () => {
    copyFileSync(mosaicFile, path.join(archive, 'mosaic.tif'));
    const total = planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224 }).length;
    const controller = new AbortController();
    const first = await indexInto({
      roots: [archive],
      index: indexDir,
      model: new FakeEncoder(),
      batchSize: 8,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.embedded >= 40) controller.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.embedded).toBeGreaterThanOrEqual(40);
    expect(first.embedded).toBeLessThan(total);
    let store = await openIndex(indexDir, { readonly: true });
    expect(await store.countItems()).toBe(first.embedded);
    await store.close();

    const resumed = new FakeEncoder();
    const second = await indexInto({ roots: [archive], index: indexDir, model: resumed, batchSize: 8 });
    expect(second).toMatchObject({ resumed: 1, embedded: total - first.embedded, interrupted: false });
    expect(resumed.embeddedImages).toBe(total - first.embedded);
    store = await openIndex(indexDir, { readonly: true });
    const keys = (await allItems(store)).map((i) => i.key);
    expect(keys).toHaveLength(total);
    expect(new Set(keys).size).toBe(total);
    await store.close();
    const third = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(third).toMatchObject({ embedded: 0, unchanged: 1 });
  });

  it('refuses a tiled PNG past the pixel limit of whole images (libvips reads it from its start for each window) and still tiles a TIFF as large', async () => {
    writeFileSync(path.join(archive, 'big.png'), makeBlackPng(2048, 2048));
    writeMosaic(path.join(archive, 'mosaic.tif'));
    writeFileSync(path.join(archive, 'small.png'), makePng(3, 64, 64));
    const encoder = await openClip(await tinyModelDir(), { threads: 1, maxInputPixels: 1_000_000 });
    try {
      const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
      expect(summary).toMatchObject({ errors: 1, embedded: planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224 }).length + 1 });
    } finally {
      await encoder.close();
    }
    const store = await openIndex(indexDir, { readonly: true });
    const failed = await store.listFiles('error');
    await store.close();
    expect(failed.map((f) => [f.path, f.error])).toEqual([['big.png', 'PNG of 2048x2048 = 4194304 pixels, more than the limit of 1000000 (only TIFFs are read by their windows alone; raise --max-input-pixels to index it)']]);
  });

  it('refuses a file whose georeference cannot be used, with the reason, instead of indexing it as an image without a place', async () => {
    writeFileSync(path.join(archive, 'short-world.png'), makePng(5, 64, 64));
    writeFileSync(path.join(archive, 'short-world.pgw'), '1\n0\n0\n');
    writeFileSync(path.join(archive, 'bad-prj.png'), makePng(6, 64, 64));
    writeFileSync(path.join(archive, 'bad-prj.pgw'), '1\n0\n0\n-1\n500000\n4600000\n');
    writeFileSync(path.join(archive, 'bad-prj.prj'), 'PROJCS["broken",GEOGCS[');
    writeFileSync(path.join(archive, 'plain.png'), makePng(7, 64, 64));
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ errors: 2, embedded: 1 });
    const store = await openIndex(indexDir, { readonly: true });
    const failed = await store.listFiles('error');
    await store.close();
    expect(Object.fromEntries(failed.map((f) => [f.path, f.error]))).toEqual({
      'bad-prj.png': expect.stringMatching(new RegExp(`^cannot use the georeference of .*bad-prj\\.png: cannot use the WKT CRS "broken": `)),
      'short-world.png': expect.stringMatching(/^cannot use the georeference of .*short-world\.png: world file .*short-world\.pgw must hold six numbers \(A D B E C F\), one per line \(check the file/),
    });
  });

  it('stops between the windows of a scene that has only nodata (such a scene embeds nothing, so no batch ever checked the interruption)', async () => {
    writeFileSync(path.join(archive, 'black.png'), makeBlackPng(4096, 4096));
    const total = planWindows(4096, 4096, { inputSize: 224 }).length;
    const controller = new AbortController();
    const readBands = Scene.prototype.readBands;
    // interrupted as the scene's first window is read
    const reads = vi.spyOn(Scene.prototype, 'readBands').mockImplementation(function (this: Scene, ...args) {
      controller.abort();
      return readBands.apply(this, args);
    });
    try {
      const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), decodeThreads: 0, signal: controller.signal });
      expect(summary).toMatchObject({ interrupted: true, embedded: 0 });
      expect(reads.mock.calls.length).toBeGreaterThan(0);
      expect(reads.mock.calls.length).toBeLessThan(total);
    } finally {
      reads.mockRestore();
    }
  });

  it('re-tiles when the tiling changes, leaves whole images alone, and never reuses a retired id', async () => {
    copyFileSync(mosaicFile, path.join(archive, 'mosaic.tif'));
    writeFileSync(path.join(archive, 'small.png'), makePng(3, 64, 64));
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    let store = await openIndex(indexDir, { readonly: true });
    const before = await allItems(store);
    const smallItem = before.find((i) => i.file.path === 'small.png')!;
    const keepKey = before.find((i) => i.key === 's1:0,0')!;
    await store.close();

    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, overlap: 0.5, scales: [1, 2] });
    const windows = planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224, overlap: 0.5, scales: [1, 2] });
    expect(summary).toMatchObject({ updated: 1, unchanged: 1, embedded: windows.length });
    store = await openIndex(indexDir, { readonly: true });
    expect(store.meta.plan).toMatch(/"overlap":0.5/);
    const after = await allItems(store);
    expect(after).toHaveLength(windows.length + 1);
    expect(after.find((i) => i.file.path === 'small.png')!.id).toBe(smallItem.id);
    expect(after.find((i) => i.key === 's1:0,0')!.id).toBe(keepKey.id);
    expect(after.filter((i) => i.window.scale === 2).length).toBeGreaterThan(0);
    const retired = before.filter((b) => !after.some((a) => a.id === b.id)).map((b) => b.id);
    expect(retired.length).toBeGreaterThan(0);
    const maxBefore = Math.max(...before.map((b) => b.id));
    for (const item of after) if (!before.some((b) => b.id === item.id)) expect(item.id).toBeGreaterThan(maxBefore);
    await store.close();
  });

  it("keeps the index's plan on a run that does not give one, and changes only what a run gives", async () => {
    copyFileSync(mosaicFile, path.join(archive, 'mosaic.tif'));
    const windows = planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224, overlap: 0.5, scales: [1, 2] }).length;
    expect(await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), overlap: 0.5, scales: [1, 2], bands: [3, 2, 1] })).toMatchObject({ added: 1, embedded: windows });
    // a new folder beside it, no plan options: the scene stays as it is
    const more = path.join(work, `more-${run}`);
    mkdirSync(more);
    writeFileSync(path.join(more, 'small.png'), makePng(5, 64, 64));
    const encoder = new FakeEncoder();
    expect(await indexInto({ roots: [archive, more], index: indexDir, model: encoder })).toMatchObject({ added: 1, unchanged: 1, updated: 0 });
    expect(encoder.runCount.image).toBe(1);
    let store = await openIndex(indexDir, { readonly: true });
    expect(JSON.parse(store.meta.plan!)).toMatchObject({ tiling: { overlap: 0.5, scales: [1, 2] }, bands: [3, 2, 1] });
    await store.close();
    // a run that gives the bands (auto: each file's own) renders both files again, and keeps the recorded tiling
    expect(await indexInto({ roots: [archive, more], index: indexDir, model: new FakeEncoder(), bands: null })).toMatchObject({ updated: 2, embedded: windows + 1 });
    store = await openIndex(indexDir, { readonly: true });
    expect(JSON.parse(store.meta.plan!)).toMatchObject({ tiling: { overlap: 0.5, scales: [1, 2] }, bands: null });
    await store.close();
  });

  it('fails a scene that changes while its windows are read, and a true copy of it indexed next embeds its own windows', async () => {
    const scene = path.join(archive, 'changing.tif');
    copyFileSync(mosaicFile, scene);
    // the file's time moves once its first windows reach the model: they and the rest would be stored under the hash taken before
    const encoder = new (class extends FakeEncoder {
      override async embedPixels(images: Float32Array[]) {
        if (this.runCount.image === 0) utimesSync(scene, new Date(), new Date(Date.now() + 60_000));
        return super.embedPixels(images);
      }
    })();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    expect(summary).toMatchObject({ errors: 1, added: 0 });
    let store = await openIndex(indexDir, { readonly: true });
    expect((await store.listFiles('error')).map((f) => [f.path, f.error])).toEqual([['changing.tif', expect.stringMatching(/^the file changed while it was being indexed/)]]);
    expect(await store.listItemIds()).toEqual([]);
    await store.close();
    const copies = path.join(work, `copies-${run}`);
    mkdirSync(copies);
    copyFileSync(mosaicFile, path.join(copies, 'copy.tif'));
    const copied = await indexInto({ roots: [copies], index: indexDir, model: new FakeEncoder() });
    expect(copied).toMatchObject({ reused: 0, embedded: planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224 }).length });
    // and the next run indexes the changed file as it is now
    expect(await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() })).toMatchObject({ errors: 0, updated: 1 });
    store = await openIndex(indexDir, { readonly: true });
    expect(await store.countFiles('error')).toBe(0);
    await store.close();
  });

  it('reuses the items of a copied scene, with places of its own', async () => {
    copyFileSync(mosaicFile, path.join(archive, 'a.tif'));
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    copyFileSync(mosaicFile, path.join(archive, 'b.tif'));
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    expect(summary).toMatchObject({ added: 1, reused: 1, embedded: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    const items = await allItems(store);
    const a = items.filter((i) => i.file.path === 'a.tif');
    const b = items.filter((i) => i.file.path === 'b.tif');
    expect(b.map((i) => i.key)).toEqual(a.map((i) => i.key));
    expect(b[5]!.place).toEqual(a[5]!.place);
    const vectors = await store.getVectors([a[5]!.id, b[5]!.id]);
    expect(Array.from(vectors.get(b[5]!.id)!)).toEqual(Array.from(vectors.get(a[5]!.id)!));
    await store.close();
  });
});

describeGdal('a world-file JPEG indexed with --crs', () => {
  it('gives its items the corners gdaltransform gives', async () => {
    const jpeg = path.join(archive, 'ortho.jpg');
    const rgb = Buffer.alloc(600 * 500 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + Math.floor(i / 1800) * 13) % 251;
    await sharp(rgb, { raw: { width: 600, height: 500, channels: 3 } }).jpeg().toFile(jpeg);
    writeFileSync(path.join(archive, 'ortho.jgw'), '0.5\n0\n0\n-0.5\n500000.25\n4649999.75\n');
    const crs = crsFromEpsg(32633);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), crs });
    const store = await openIndex(indexDir, { readonly: true });
    const items = await allItems(store);
    expect(items.length).toBeGreaterThan(1);
    for (const item of items.slice(0, 4)) {
      const { x, y, width, height } = item.window;
      const corners: [number, number][] = [[x, y], [x + width, y + height], [x + width / 2, y + height / 2]];
      const gdal = gdaltransform(corners.map(([c, r]) => [500_000 + c * 0.5, 4_650_000 - r * 0.5]), { sourceSrs: 'EPSG:32633', targetSrs: 'EPSG:4326' });
      const ring = item.place!.footprint.type === 'Polygon' ? item.place!.footprint.coordinates[0]! : [];
      const lon = ring.map((p) => p[0]);
      const lat = ring.map((p) => p[1]);
      expect(Math.abs(Math.min(...lon) - gdal[0]![0])).toBeLessThan(1e-6);
      expect(Math.abs(Math.max(...lat) - gdal[0]![1])).toBeLessThan(1e-6);
      expect(Math.abs(Math.max(...lon) - gdal[1]![0])).toBeLessThan(1e-6);
      expect(Math.abs(Math.min(...lat) - gdal[1]![1])).toBeLessThan(1e-6);
      expect(Math.abs(item.place!.center[0] - gdal[2]![0])).toBeLessThan(1e-6);
      expect(Math.abs(item.place!.center[1] - gdal[2]![1])).toBeLessThan(1e-6);
    }
    await store.close();
  });
});

describeShared('the real GeoTIFFs of ../shared/datasets/geotiff', () => {
  it('all index, those libvips cannot decode included, nodata windows counted', async () => {
    const dir = path.join(DATASETS_DIR, 'geotiff');
    const files = readdirSync(dir).filter((f) => f.endsWith('.tif'));
    const summary = await indexInto({ roots: [dir], index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ scanned: files.length, added: files.length, errors: 0 });
    expect(summary.nodataWindows).toBeGreaterThan(0);
    const store = await openIndex(indexDir, { readonly: true });
    for (const name of ['shade.tif', 'all-nodata.tif', 'alpha.tif', 'RGBA.uint16.tif', 'float_nan.tif']) {
      expect(await store.findFileByPath(path.join(dir, name)), name).toMatchObject({ status: 'ok', complete: true });
    }
    const cog = (await allItems(store)).filter((i) => i.file.path === 'cogeo.tif');
    expect(cog.length).toBeGreaterThan(1);
    expect(cog.every((i) => i.place !== null)).toBe(true);
    await store.close();
  }, 120_000);
});
