/**
 * Scene windows read in the decode pool: a window read, stretched, checked for nodata and
 * preprocessed in a pool thread equals the main thread's, bit for bit (8-bit passthrough and
 * 16-bit stretched scenes, nodata windows, reduced whole-image reads); an index made with the
 * pool equals one made on the main thread (keys, vectors, nodata counts); a scene whose windows
 * cannot be read fails with the same text both ways; the main thread reads no window in a pool
 * run; the threads close the scenes they kept when the pool closes; and many windows in flight
 * raise no listener warning.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { planWindows, type PlannedWindow } from '../../src/geo/index.js';
import { DecodePool, openPixelPreparer } from '../../src/indexer/decode-pool.js';
import { SCENE_BLOCK_CACHE_BYTES } from '../../src/indexer/prepare-file.js';
import { readSize, sceneWindows, type SceneFile, type WindowResult } from '../../src/indexer/scene-windows.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { computeSceneStretch, openRaster, Scene } from '../../src/raster/index.js';
import { openIndex } from '../../src/store/index.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { mosaicValue, writeMosaic } from '../fixtures/mosaic.js';
import { sixteenBitScene } from '../fixtures/sixteen-bit.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-scene-pool-'));
const mosaic = path.join(work, 'mosaic.tif');
const sixteen = path.join(work, 'sixteen.tif');
let encoder: ClipEncoder;

beforeAll(async () => {
  writeMosaic(mosaic);
  writeGeoTiff(sixteen, sixteenBitScene(1100, 900, { nodata: [550, 450], epsg: 32631, origin: [600_000, 5_800_000] }));
  encoder = await openClip(await tinyModelDir(), { threads: 1 });
});
afterAll(async () => {
  await encoder?.close();
  rmSync(work, { recursive: true, force: true });
});

function readlinkOrEmpty(link: string): string {
  try {
    return readlinkSync(link);
  } catch {
    return '';
  }
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Every window of `file` through sceneWindows with `threads` decode threads (0: read on this thread). */
async function windowsOf(file: string, threads: number, windows: PlannedWindow[], bands?: number[]): Promise<WindowResult[]> {
  const options = { blockCacheBytes: SCENE_BLOCK_CACHE_BYTES };
  const source = await openRaster(file, options);
  const pixels = openPixelPreparer(encoder, threads);
  try {
    const stretch = await computeSceneStretch(source, bands ?? [1, 2, 3]);
    const results: WindowResult[] = [];
    const scene: SceneFile = { path: file, options, stretch };
    for await (const result of sceneWindows(Scene.fromSource(source, stretch), windows, pixels, 224, 4, scene)) results.push(result);
    return results;
  } finally {
    await pixels.close();
    await source.close();
  }
}

describe('scene windows in the decode pool', () => {
  it('are read, stretched, checked for nodata and preprocessed in its threads to the main thread\'s pixels', async () => {
    const cases = [
      { file: mosaic, windows: planWindows(2048, 2048, { inputSize: 224 }).filter((_, i) => i % 7 === 0), bands: undefined },
      // stretched 16-bit bands, the nodata corner, and a whole-image window read reduced
      { file: sixteen, windows: [...planWindows(1100, 900, { inputSize: 224 }), { key: 'whole', x: 0, y: 0, width: 1100, height: 900, scale: 1, whole: true }], bands: [4, 3, 2] },
    ];
    for (const { file, windows, bands } of cases) {
      const main = await windowsOf(file, 0, windows, bands);
      const pooled = await windowsOf(file, 2, windows, bands);
      expect(pooled.map((r) => r.window.key)).toEqual(windows.map((w) => w.key));
      expect(pooled.map((r) => 'nodata' in r)).toEqual(main.map((r) => 'nodata' in r));
      for (const [i, result] of pooled.entries()) {
        if ('pixels' in result) expect(sameBits(result.pixels, (main[i] as { pixels: Float32Array }).pixels)).toBe(true);
      }
    }
  });

  it('come back nodata, and tell reduced reads apart, in the pool as on the main thread', async () => {
    const whole: PlannedWindow = { key: 'whole', x: 0, y: 0, width: 2048, height: 2048, scale: 1, whole: true };
    const size = readSize(whole, 224);
    expect(size).toEqual({ outWidth: 896, outHeight: 896 });
    const [main] = await windowsOf(mosaic, 0, [whole]);
    const [pooled] = await windowsOf(mosaic, 1, [whole]);
    expect(sameBits((pooled as { pixels: Float32Array }).pixels, (main as { pixels: Float32Array }).pixels)).toBe(true);
    const corner: PlannedWindow = { key: 'corner', x: 0, y: 0, width: 224, height: 224, scale: 1, whole: false };
    expect(await windowsOf(sixteen, 1, [corner], [4, 3, 2])).toEqual([{ window: corner, nodata: true }]);
  });

  it('stay open in at most one copy per thread, and close with the threads when the pool closes', async () => {
    if (!existsSync('/proc/self/fd')) return;
    // geotiff.js alone, on a file no other test reads: libvips keeps files it read open in its own process-wide cache
    const options = { decoder: 'geotiff' as const };
    const file = path.join(work, 'sixteen-geotiff.tif');
    writeFileSync(file, readFileSync(sixteen));
    const openCopies = (): number => readdirSync('/proc/self/fd').filter((fd) => readlinkOrEmpty(`/proc/self/fd/${fd}`) === file).length;
    const source = await openRaster(file, options);
    const stretch = await computeSceneStretch(source, [4, 3, 2]);
    const scene = Scene.fromSource(source, stretch);
    const pool = new DecodePool(encoder.pixelRecipe!, 2);
    try {
      const windows = planWindows(1100, 900, { inputSize: 224 });
      const keys: string[] = [];
      for await (const result of sceneWindows(scene, windows, pool, 224, 4, { path: file, options, stretch })) keys.push(result.window.key);
      expect(keys).toEqual(windows.map((w) => w.key));
      // this thread's copy and at most one per pool thread, however many windows were read
      expect(openCopies()).toBeGreaterThan(1);
      expect(openCopies()).toBeLessThanOrEqual(3);
    } finally {
      await pool.close();
    }
    expect(openCopies()).toBe(1);
    await source.close();
    expect(openCopies()).toBe(0);
  });

  it('take many windows in flight at once without a listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    const source = await openRaster(mosaic);
    const pool = new DecodePool(encoder.pixelRecipe!, 1);
    try {
      const stretch = await computeSceneStretch(source, [1, 2, 3]);
      const windows = planWindows(2048, 2048, { inputSize: 224 }).slice(0, 24);
      const results = await Promise.all(windows.map((w) => pool.window({ path: mosaic, options: {}, stretch }, w, undefined)));
      expect(results.every((pixels) => pixels?.length === 3 * 224 * 224)).toBe(true);
      // warnings are emitted on the next tick
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await pool.close();
      await source.close();
    }
  });
});

describe('indexing scenes with the decode pool', () => {
  /** `file` alone in an archive of its own, indexed into a new index; its items' vectors by key, and its error. */
  async function indexed(file: string, decodeThreads: number, bands?: number[]) {
    const archive = path.join(work, `archive-${path.basename(file)}`);
    if (!existsSync(archive)) {
      mkdirSync(archive);
      writeFileSync(path.join(archive, path.basename(file)), readFileSync(file));
    }
    const index = path.join(work, `index-${path.basename(file)}-${decodeThreads}`);
    const summary = await indexInto({ index, model: encoder, roots: [archive], batchSize: 16, decodeThreads, ...(bands ? { bands } : {}) });
    const store = await openIndex(index, { readonly: true });
    try {
      const ids = await store.listItemIds();
      const [items, vectors] = await Promise.all([store.getItems(ids), store.getVectors(ids)]);
      const row = await store.findFileByPath(path.join(archive, path.basename(file)));
      return { summary, vectors: new Map(items.map((item) => [item.key, vectors.get(item.id)!])), error: row?.error ?? null };
    } finally {
      await store.close();
    }
  }

  it('stores the items, vectors and nodata counts indexing on the main thread stores, and reads no window there', async () => {
    // every window read goes through readBands (readWindow renders what it reads)
    const readWindow = vi.spyOn(Scene.prototype, 'readBands');
    try {
      for (const [file, bands] of [[mosaic, undefined], [sixteen, [4, 3, 2]]] as const) {
        readWindow.mockClear();
        const main = await indexed(file, 0, bands ? [...bands] : undefined);
        const windowsReadHere = readWindow.mock.calls.length;
        expect(windowsReadHere).toBe(main.summary.embedded + main.summary.nodataWindows);
        for (const threads of [1, 2]) {
          readWindow.mockClear();
          const pooled = await indexed(file, threads, bands ? [...bands] : undefined);
          // the main thread computed the stretch and the plan, the pool read every window
          expect(readWindow).not.toHaveBeenCalled();
          expect(pooled.summary).toMatchObject({ scenes: 1, embedded: main.summary.embedded, nodataWindows: main.summary.nodataWindows, errors: 0 });
          expect(pooled.summary.timing.decodeThreads).toBe(threads);
          expect(pooled.summary.timing.decodeSeconds).toBeGreaterThan(0);
          expect([...pooled.vectors.keys()].sort()).toEqual([...main.vectors.keys()].sort());
          for (const [key, vector] of main.vectors) expect(sameBits(pooled.vectors.get(key)!, vector), key).toBe(true);
        }
        if (bands) expect(main.summary.nodataWindows).toBeGreaterThan(2);
      }
    } finally {
      readWindow.mockRestore();
    }
  });

  it('fails a scene whose windows cannot be read with the main thread\'s error text', async () => {
    // band-separate 8-bit (geotiff.js, passthrough stretch: nothing read before the windows), its last band's blocks zeroed
    const file = path.join(work, 'damaged.tif');
    writeGeoTiff(file, { width: 1024, height: 1024, bands: 3, dataType: 'uint8', tile: 256, planar: true, compression: 'deflate', geo: { epsg: 32633, origin: [500_000, 4_600_000], pixelSize: [10, 10] }, pixel: (x, y, b) => mosaicValue(x, y, b) });
    const bytes = readFileSync(file);
    const directory = bytes.readUInt32LE(4);
    bytes.fill(0, Math.floor(directory * 0.8), directory);
    writeFileSync(file, bytes);
    const errorsOf = async (decodeThreads: number): Promise<unknown> => {
      const { summary, error } = await indexed(file, decodeThreads);
      return { errors: summary.errors, embedded: summary.embedded, error };
    };
    const main = await errorsOf(0);
    expect(main).toMatchObject({ errors: 1, error: expect.stringMatching(/^cannot read image .*damaged\.tif: .*\(check that the whole file is there/) });
    expect(await errorsOf(1)).toEqual(main);
    expect(await errorsOf(2)).toEqual(main);
  });
});
