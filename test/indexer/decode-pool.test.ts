/**
 * The indexer's decode pool: pixels made in worker threads equal the main thread's bit for bit
 * (whole files, windows handed over as RGB, the golden images), the RGB hand-over equals the
 * PNG round trip it replaced, the threads write into arrays the model gives back, bad images
 * keep their error codes across threads, the machine decides threads and batch, and an index
 * built with the pool equals one built without.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { DecodePool, openPixelPreparer } from '../../src/indexer/decode-pool.js';
import { chooseIndexingThreads, indexingEncoderOptions } from '../../src/indexer/indexing-threads.js';
import { windowRaster } from '../../src/indexer/scene-windows.js';
import { openClip, type ClipEncoder, type Raster8 } from '../../src/model/index.js';
import { PixelArrayPool } from '../../src/model/pixel-arrays.js';
import { ThreadedSession } from '../../src/model/session-thread.js';
import { encodeRgb, Scene } from '../../src/raster/index.js';
import type { Embedder } from '../../src/indexer/index.js';
import { openIndex } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { makePng, writeBadFiles } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { describeShared, readF32, sharedPath } from '../fixtures/shared.js';
import { sixteenBitScene } from '../fixtures/sixteen-bit.js';
import { failingTogether } from '../../src/worker-module.js';
import { FakeEncoder } from './fake-encoder.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-decode-pool-'));
let encoder: ClipEncoder;
let pool: DecodePool;

beforeAll(async () => {
  encoder = await openClip(await tinyModelDir(), { threads: 1 });
  pool = new DecodePool(encoder.pixelRecipe!, 2);
});
afterAll(async () => {
  await pool?.close();
  await encoder?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Seeded noise with structure: resizing it exercises every filter tap. */
function noiseRgb(width: number, height: number, seed: number): Raster8 {
  const data = new Uint8Array(width * height * 3);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    data[i] = ((i % (width * 3)) + (state % 96)) & 0xff;
  }
  return { data, width, height, channels: 3 };
}

function expectSamePixels(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(true);
}

async function rejection(promise: Promise<unknown>): Promise<RsclipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RsclipError);
  return error as RsclipError;
}

describe('the decode pool', () => {
  it('decodes whole files in its threads to the main thread\'s pixels, bit for bit', async () => {
    const dir = path.join(work, 'files');
    mkdirSync(dir);
    const files: string[] = [];
    for (const [i, [w, h]] of [[224, 224], [640, 360], [300, 800], [50, 30], [1999, 1501]].entries()) {
      const rgb = noiseRgb(w!, h!, i + 1);
      for (const format of ['png', 'webp'] as const) {
        const file = path.join(dir, `${i}.${format}`);
        writeFileSync(file, await encodeRgb(rgb.data, w!, h!, format));
        files.push(file);
      }
    }
    const fromPool = await Promise.all(files.map((f) => pool.file(f)));
    for (const [i, file] of files.entries()) {
      const main = await encoder.preprocess(file);
      expect({ width: fromPool[i]!.width, height: fromPool[i]!.height, format: fromPool[i]!.format }).toEqual({ width: main.width, height: main.height, format: main.format });
      expectSamePixels(fromPool[i]!.pixels, main.pixels);
    }
    expect(pool.busySeconds).toBeGreaterThan(0);
  });

  it('preprocesses RGB windows as the PNG round trip did, in its threads and on the main thread', async () => {
    for (const [i, [w, h]] of [[224, 224], [448, 448], [896, 896], [300, 200], [17, 500]].entries()) {
      const rgb = noiseRgb(w!, h!, 100 + i);
      const png = await encodeRgb(rgb.data, w!, h!, 'png', { compressionLevel: 0 });
      const roundTrip = (await encoder.preprocess(png)).pixels;
      expectSamePixels(encoder.preprocessRgb(rgb), roundTrip);
      // the pool takes the window's buffer over: hand it a copy, then the original is still ours
      expectSamePixels(await pool.rgb({ ...rgb, data: rgb.data.slice() }), roundTrip);
    }
  });

  it('gives the windows of a real 16-bit scene the pixels of their PNG export', async () => {
    const file = path.join(work, 'scene16.tif');
    writeGeoTiff(file, sixteenBitScene(700, 500, { nodata: [60, 40], epsg: 32633, origin: [500000, 4600000] }));
    const scene = await Scene.open(file);
    try {
      for (const window of [{ x: 0, y: 0, width: 224, height: 224 }, { x: 200, y: 100, width: 448, height: 300 }, { x: 476, y: 276, width: 224, height: 224 }]) {
        const rgb = await scene.readWindow(window);
        const png = await encodeRgb(rgb.rgb, rgb.width, rgb.height, 'png', { compressionLevel: 0 });
        const roundTrip = (await encoder.preprocess(png)).pixels;
        expectSamePixels(await pool.rgb(windowRaster(rgb)), roundTrip);
      }
    } finally {
      await scene.close();
    }
  });

  it('keeps the error codes, messages and hints of bad images across threads', async () => {
    const dir = path.join(work, 'bad');
    const { bad } = writeBadFiles(dir);
    for (const file of Object.keys(bad)) {
      const full = path.join(dir, file);
      const main = await rejection(encoder.preprocess(full));
      const threaded = await rejection(pool.file(full));
      expect({ code: threaded.code, message: threaded.message, hint: threaded.hint }).toEqual({ code: main.code, message: main.message, hint: main.hint });
    }
    const small = new DecodePool({ ...encoder.pixelRecipe!, maxInputPixels: 1000 }, 1);
    try {
      const file = path.join(work, 'big.png');
      writeFileSync(file, makePng(1, 64, 64));
      const error = await rejection(small.file(file));
      expect(error.code).toBe('IMAGE_TOO_LARGE');
      expect(error.message).toContain('more than the limit of 1000');
    } finally {
      await small.close();
    }
  });

  it('writes into arrays it takes from a pixel pool, and gives back those a failing image did not use', async () => {
    const arrays = new PixelArrayPool(3 * encoder.info.imageSize ** 2, 4);
    const reusing = new DecodePool(encoder.pixelRecipe!, 1, arrays);
    try {
      const files = [0, 1].map((i) => {
        const file = path.join(work, `reused-${i}.png`);
        writeFileSync(file, makePng(500 + i, 96, 64));
        return file;
      });
      const first = await reusing.file(files[0]!);
      expectSamePixels(first.pixels, (await encoder.preprocess(files[0]!)).pixels);
      // as the model does once it has run them
      arrays.give([first.pixels]);
      expect(arrays.size).toBe(1);
      const second = await reusing.file(files[1]!);
      expectSamePixels(second.pixels, (await encoder.preprocess(files[1]!)).pixels);
      // the second image went into the first one's array: moved to the thread, it is empty here
      expect([arrays.size, first.pixels.length]).toEqual([0, 0]);
      arrays.give([second.pixels]);
      writeFileSync(path.join(work, 'reused-bad.png'), 'not a png');
      await rejection(reusing.file(path.join(work, 'reused-bad.png')));
      expect(arrays.size).toBe(1);
    } finally {
      await reusing.close();
    }
    // rsclip's encoder lends its own pool to the threads
    const preparer = openPixelPreparer(encoder, 1);
    try {
      const lent = encoder.pixelArrays!.take();
      encoder.pixelArrays!.give([lent]);
      await preparer.file(path.join(work, 'reused-0.png'));
      expect(lent.length).toBe(0);
    } finally {
      await preparer.close();
    }
  });

  it('fails its tasks, not the process, when a thread cannot start', async () => {
    const broken = new Piscina({ filename: path.resolve(import.meta.dirname, '../../src/indexer/decode-worker.ts'), execArgv: ['--import', 'rsclip-no-such-package'], minThreads: 1, maxThreads: 1 });
    const run = failingTogether(broken);
    try {
      await expect(run({ kind: 'rgb', rgb: noiseRgb(4, 4, 1), recipe: encoder.pixelRecipe! })).rejects.toThrow(/rsclip-no-such-package/);
    } finally {
      await broken.destroy();
    }
  });

  it('stays on the main thread for encoders whose preprocessing cannot leave it, or with 0 threads', async () => {
    const fake = openPixelPreparer(new FakeEncoder(), 4);
    const none = openPixelPreparer(encoder, 0);
    expect([fake.threads, none.threads]).toEqual([0, 0]);
    const rgb = noiseRgb(64, 48, 7);
    expectSamePixels(await none.rgb(rgb), encoder.preprocessRgb(rgb));
    await Promise.all([fake.close(), none.close()]);
  });
});

describe('the model thread', () => {
  it('runs the vision tower off the calling thread: its event loop turns while a batch runs', async () => {
    const batch = Array.from({ length: 48 }, (_, i) => encoder.preprocessRgb(noiseRgb(224, 224, 500 + i)));
    let turns = 0;
    let running = true;
    const spin = (): void => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const vectors = await encoder.embedPixels(batch);
    running = false;
    expect(vectors).toHaveLength(48);
    // onnxruntime-node runs a session on the thread that calls it: there, the loop would not turn at all meanwhile
    expect(turns).toBeGreaterThan(10);
  });
});

describe('chooseIndexingThreads', () => {
  it('gives onnxruntime the cores and the pool what is left: none below 4 cores (the main thread decodes, and onnxruntime\'s threads sleep between sections)', () => {
    const table = [1, 2, 4, 8, 16, 64].map((cores) => ({ cores, ...chooseIndexingThreads({}, cores) }));
    expect(table).toEqual([
      { cores: 1, onnxThreads: 1, decodeThreads: 0, batchSize: 32, onnxSpinning: false, modelSessions: 1 },
      { cores: 2, onnxThreads: 2, decodeThreads: 0, batchSize: 32, onnxSpinning: false, modelSessions: 1 },
      { cores: 4, onnxThreads: 3, decodeThreads: 1, batchSize: 32, onnxSpinning: true, modelSessions: 1 },
      { cores: 8, onnxThreads: 6, decodeThreads: 2, batchSize: 32, onnxSpinning: true, modelSessions: 1 },
      { cores: 16, onnxThreads: 12, decodeThreads: 4, batchSize: 48, onnxSpinning: true, modelSessions: 1 },
      { cores: 64, onnxThreads: 48, decodeThreads: 8, batchSize: 128, onnxSpinning: true, modelSessions: 1 },
    ]);
  });

  it('keeps what is given and sizes the rest around it', () => {
    expect(chooseIndexingThreads({ onnxThreads: 4 }, 16)).toEqual({ onnxThreads: 4, decodeThreads: 8, batchSize: 32, onnxSpinning: true, modelSessions: 1 });
    expect(chooseIndexingThreads({ onnxThreads: 32 }, 16)).toEqual({ onnxThreads: 32, decodeThreads: 0, batchSize: 128, onnxSpinning: false, modelSessions: 1 });
    expect(chooseIndexingThreads({ onnxThreads: 1 }, 2)).toEqual({ onnxThreads: 1, decodeThreads: 1, batchSize: 32, onnxSpinning: true, modelSessions: 1 });
    expect(chooseIndexingThreads({ decodeThreads: 0, batchSize: 8, onnxSpinning: true, modelSessions: 2 }, 2)).toEqual({ onnxThreads: 2, decodeThreads: 0, batchSize: 8, onnxSpinning: true, modelSessions: 2 });
  });

  it('opens the encoder to run each batch whole, also past the 32 images a run it takes by default', async () => {
    const machine = chooseIndexingThreads({ onnxThreads: 1 }, 16);
    expect(indexingEncoderOptions({ ...machine, batchSize: 48 })).toEqual({ threads: 1, visionSessions: 1, spinning: true, maxImageBatch: 48 });
    expect(indexingEncoderOptions({ ...machine, onnxThreads: 12, modelSessions: 3 })).toMatchObject({ threads: 4, visionSessions: 3 });
    const indexing = await openClip(await tinyModelDir(), indexingEncoderOptions({ ...machine, batchSize: 40 }));
    const runs = vi.spyOn(ThreadedSession.prototype, 'run');
    try {
      const pixels = indexing.preprocessRgb(noiseRgb(64, 64, 3));
      await indexing.embedPixels(Array.from({ length: 40 }, () => pixels));
      expect(runs.mock.calls.map(([feeds]) => feeds.pixel_values!.dims[0])).toEqual([40]);
    } finally {
      runs.mockRestore();
      await indexing.close();
    }
  });
});

describe('indexing with the decode pool', () => {
  it('stores the vectors indexing on the main thread stores, and reports where the time went', async () => {
    const archive = path.join(work, 'archive');
    mkdirSync(archive);
    for (let i = 0; i < 12; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(i, 200 + 20 * i, 180));
    writeGeoTiff(path.join(archive, 'scene.tif'), sixteenBitScene(600, 500, { nodata: [100, 100], epsg: 32633, origin: [500000, 4600000] }));
    const vectorsOf = async (index: string): Promise<Map<string, Float32Array>> => {
      const store = await openIndex(index, { readonly: true });
      try {
        const ids = await store.listItemIds();
        const [items, vectors] = await Promise.all([store.getItems(ids), store.getVectors(ids)]);
        return new Map(items.map((item) => [`${item.file.path}#${item.key}`, vectors.get(item.id)!]));
      } finally {
        await store.close();
      }
    };
    const runs = [];
    for (const decodeThreads of [0, 2]) {
      const index = path.join(work, `index-${decodeThreads}`);
      const summary = await indexInto({ index, model: encoder, roots: [archive], batchSize: 8, decodeThreads });
      runs.push({ summary, vectors: await vectorsOf(index) });
    }
    const [main, pooled] = runs;
    expect(pooled!.summary.embedded).toBe(main!.summary.embedded);
    expect(pooled!.summary.scenes).toBe(1);
    expect(pooled!.summary.embedded).toBeGreaterThan(12);
    expect([...pooled!.vectors.keys()].sort()).toEqual([...main!.vectors.keys()].sort());
    for (const [key, vector] of main!.vectors) expectSamePixels(pooled!.vectors.get(key)!, vector);

    for (const { summary } of runs) {
      const t = summary.timing;
      expect(t.batchSize).toBe(8);
      expect(t.modelSeconds).toBe(summary.modelSeconds);
      expect(t.encoderBusyShare).toBeGreaterThan(0);
      expect(t.encoderBusyShare).toBeLessThanOrEqual(1);
      expect(t.pipelineSeconds).toBeLessThanOrEqual(summary.seconds);
      for (const seconds of [t.decodeSeconds, t.storeSeconds, t.mainThreadSeconds, t.cpuSeconds]) expect(seconds).toBeGreaterThan(0);
      if (process.platform === 'linux') {
        // the split adds up to the process's CPU, to a few clock ticks
        const { mainThread, decodeThreads, rest } = t.threadCpu!;
        for (const part of [mainThread, decodeThreads, rest]) expect(part).toBeGreaterThanOrEqual(0);
        expect(mainThread + decodeThreads + rest).toBeCloseTo(t.cpuSeconds, 1);
      }
    }
    expect(main!.summary.timing.threadCpu?.decodeThreads ?? 0).toBe(0);
    expect([main!.summary.timing.decodeThreads, pooled!.summary.timing.decodeThreads]).toEqual([0, 2]);
  });
});

describe('the model\'s busy share', () => {
  it('counts the model seconds of batches run side by side against the sessions that ran them', async () => {
    const archive = path.join(work, 'side-by-side');
    mkdirSync(archive);
    // 13: the last batch is of one, sent after the others like any batch, not beside them
    for (let i = 0; i < 13; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(90 + i, 32, 24));
    const fake = new FakeEncoder();
    let running = 0;
    let mostRunning = 0;
    const twoSessions: Embedder = {
      info: fake.info,
      decodesHere: true,
      inFlight: 2,
      localModelRuns: 2,
      async embed(batch) {
        const t0 = performance.now();
        mostRunning = Math.max(mostRunning, ++running);
        // a model run long enough that the pipeline's own work is small beside it
        await new Promise((resolve) => setTimeout(resolve, 100));
        const vectors = await fake.embedPixels(batch.map((unit) => ('pixels' in unit ? unit.pixels : new Float32Array())));
        running--;
        return { results: vectors.map((vector) => ({ vector })), modelSeconds: (performance.now() - t0) / 1000 };
      },
    };
    const summary = await indexInto({ index: path.join(work, 'side-by-side-index'), model: fake, roots: [archive], batchSize: 2, embedder: twoSessions });
    expect(summary.embedded).toBe(13);
    expect(mostRunning).toBe(2);
    // seven runs of 100 ms, two at a time: about 0.7 s of model over about 0.4 s of pipeline
    expect(summary.timing.modelSeconds).toBeGreaterThanOrEqual(0.6);
    expect(summary.timing.encoderBusyShare).toBeGreaterThan(0);
    expect(summary.timing.encoderBusyShare).toBeLessThanOrEqual(1);
  });
});

describe('rsclip index and the machine', () => {
  it('takes --decode-threads, --batch and --model-sessions, and prints the split of time (--json and text)', async () => {
    const archive = path.join(work, 'cli-archive');
    mkdirSync(archive);
    for (let i = 0; i < 6; i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(50 + i, 64, 48));
    const model = await tinyModelDir();
    const json = await runCli(['index', archive, '--model', model, '--index', path.join(work, 'cli-index-1'), '--decode-threads', '1', '--batch', '4', '--json']);
    expect(json.stderr).toBe('');
    const summary = JSON.parse(json.stdout) as { embedded: number; timing: Record<string, number> };
    expect(summary.embedded).toBe(6);
    expect(summary.timing).toMatchObject({ decodeThreads: 1, batchSize: 4 });
    for (const key of ['pipelineSeconds', 'modelSeconds', 'encoderBusyShare', 'decodeSeconds', 'storeSeconds', 'mainThreadSeconds', 'cpuSeconds']) expect(summary.timing[key]).toBeGreaterThan(0);
    const text = await runCli(['index', archive, '--model', model, '--index', path.join(work, 'cli-index-0'), '--decode-threads', '0']);
    expect(text.stdout).toMatch(/model [\d.]+s \(busy \d+% of [\d.]+s, batches of \d+\), decode [\d.]+s in the main thread, store [\d.]+s/);
    if (process.platform === 'linux') expect(text.stdout).toMatch(/\n {2}CPU [\d.]+s: main thread [\d.]+s, decode threads 0\.0s, model and the rest [\d.]+s\n/);
    const sessions = await runCli(['index', archive, '--model', model, '--index', path.join(work, 'cli-index-2'), '--model-sessions', '2', '--batch', '2', '--json']);
    const twoSessions = JSON.parse(sessions.stdout) as { embedded: number; timing: Record<string, number> };
    expect(twoSessions.embedded).toBe(6);
    expect(twoSessions.timing).toMatchObject({ modelSessions: 2, batchSize: 2 });
    expect(summary.timing.modelSessions).toBe(1);
    expect((await runCli(['index', archive, '--model', model, '--index', path.join(work, 'cli-index-bad'), '--model-sessions', '0'])).stderr).toContain('expected a positive integer');
    const bad = await runCli(['index', archive, '--model', model, '--index', path.join(work, 'cli-index-bad'), '--decode-threads', 'two']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('expected a non-negative integer, got "two"');
  });
});

describeShared('the decode pool on the golden images', () => {
  it('gives the main thread\'s pixels bit for bit, within the golden tolerances of CLIPImageProcessor', async () => {
    const names = readdirSync(sharedPath('golden/images')).sort();
    expect(names).toHaveLength(8);
    const golden = await openClip(sharedPath('golden/tiny-clip'), { threads: 1 });
    const goldenPool = new DecodePool(golden.pixelRecipe!, 2);
    try {
      for (const name of names) {
        const file = sharedPath('golden/images', name);
        const [threaded, main] = await Promise.all([goldenPool.file(file), golden.preprocess(file)]);
        expectSamePixels(threaded.pixels, main.pixels);
        const reference = await readF32(sharedPath('golden/pixels', `${name}.pil.f32`));
        let max = 0;
        for (let i = 0; i < reference.length; i++) max = Math.max(max, Math.abs(threaded.pixels[i]! - reference[i]!));
        expect(max).toBeLessThanOrEqual(name === 'stadium_1.jpg' ? 1e-6 : 0.02);
      }
    } finally {
      await goldenPool.close();
      await golden.close();
    }
  });
});
