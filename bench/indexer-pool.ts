/**
 * Indexing at the encoder's speed (issue 16 item 4): the end-to-end indexing rate as a share of
 * the encoder-only rate measured in the same run, with the decode pool and without it (decoding
 * on the main thread), on the RSICD test images plus a large tiled scene made of RSICD images.
 *
 * The encoder-only rate is the model alone on pixels already preprocessed (the same kinds of
 * items: whole images and scene windows), same batch, threads and sessions (as many batches at
 * once as the indexer runs), onnxruntime's threads spinning
 * (its default: the encoder at its fastest, whatever the indexing runs use); after a whole pass
 * untimed, it is measured before, between and after the indexing runs, and each run is compared
 * with the mean of the measures on either side (the machine may be shared: the load drifts).
 * Prints JSON, with the load average.
 * On a loaded machine the rates drift with the other work; the process CPU seconds per item do
 * not, so each run also gives the encoder-only CPU per item over the run's: the share of the
 * encoder's rate the run would reach on these cores with nothing else running.
 *
 * Usage: npx tsx bench/indexer-pool.ts [--model DIR | --random-vit-b32] [--variant int8]
 *          [--images DIR (default ../shared/datasets/rsicd-test/images)] [--limit N]
 *          [--orientations 1..8 (each image also turned and mirrored: distinct items that decode
 *          alike, so a few hundred images make a sample long enough for many cores)]
 *          [--scene-images 14 (the scene is N x N images)] [--threads N] [--decode-threads N]
 *          [--batch N] [--sessions N (vision sessions running batches side by side; default: the
 *          indexer's choice)] [--spinning on|off (onnxruntime's threads while indexing; default:
 *          the indexer's choice)] [--runs pool,main] [--sample 256]
 * Without --model (or with --random-vit-b32) the full-size ViT-B/32 with random weights is written
 * to $TMPDIR/rsclip-bench-vit-b-32 once (23 s on the 2-core development machine), as
 * bench/scenes.ts does.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { planWindows } from '../src/geo/index.js';
import { chooseIndexingThreads, indexArchive, indexingEncoderOptions, type IndexSummary } from '../src/indexer/index.js';
import { windowRaster } from '../src/indexer/scene-windows.js';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { decodeRgb8 } from '../src/model/image.js';
import { openClip, type ModelVariant } from '../src/model/index.js';
import { Scene } from '../src/raster/index.js';
import { openIndex } from '../src/store/index.js';
import { writeGeoTiff } from '../test/fixtures/geotiff-writer.js';

const SHARED = path.resolve(process.env.RSCLIP_SHARED ?? path.join(import.meta.dirname, '../../shared'));
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'random-vit-b32': { type: 'boolean', default: false },
    variant: { type: 'string', default: 'int8' },
    images: { type: 'string', default: path.join(SHARED, 'datasets/rsicd-test/images') },
    limit: { type: 'string', default: '0' },
    orientations: { type: 'string', default: '1' },
    'scene-images': { type: 'string', default: '14' },
    threads: { type: 'string' },
    'decode-threads': { type: 'string' },
    batch: { type: 'string' },
    spinning: { type: 'string' },
    sessions: { type: 'string' },
    runs: { type: 'string', default: 'pool,main' },
    sample: { type: 'string', default: '256' },
  },
});
const machine = chooseIndexingThreads({
  ...(values.threads ? { onnxThreads: Number(values.threads) } : {}),
  ...(values['decode-threads'] ? { decodeThreads: Number(values['decode-threads']) } : {}),
  ...(values.batch ? { batchSize: Number(values.batch) } : {}),
  ...(values.spinning ? { onnxSpinning: values.spinning === 'on' } : {}),
  ...(values.sessions ? { modelSessions: Number(values.sessions) } : {}),
});
const variant = values.variant as ModelVariant;
const limit = Number(values.limit);
const orientations = Number(values.orientations);
if (!Number.isInteger(orientations) || orientations < 1 || orientations > 8) throw new Error(`--orientations takes 1 to 8, got "${values.orientations}"`);
const sceneSide = Number(values['scene-images']);
const sampleSize = Number(values.sample);
const runs = values.runs.split(',').map((r) => r.trim());
for (const run of runs) if (run !== 'pool' && run !== 'main') throw new Error(`--runs takes pool and main, got "${run}"`);

async function modelDir(): Promise<string> {
  if (values.model) return values.model;
  const dir = path.join(os.tmpdir(), 'rsclip-bench-vit-b-32');
  if (!existsSync(path.join(dir, 'onnx', 'vision_model_quantized.onnx'))) await writeRandomClipModel(dir, { size: 'vit-b-32', quantize: 'int8', writeCheckpoint: false });
  return dir;
}

/** A georeferenced 8-bit RGB GeoTIFF (deflate, 256 px tiles) of side x side RSICD images of 224 px. */
async function writeRsicdScene(file: string, images: string[], side: number): Promise<{ width: number; height: number }> {
  const size = side * 224;
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0; i < side * side; i++) {
    const decoded = (await decodeRgb8(images[i % images.length]!)).rgb;
    if (decoded.width !== 224 || decoded.height !== 224) throw new Error(`${images[i]} is not 224 x 224`);
    const left = (i % side) * 224;
    const top = Math.floor(i / side) * 224;
    for (let y = 0; y < 224; y++) rgb.set(decoded.data.subarray(y * 224 * 3, (y + 1) * 224 * 3), ((top + y) * size + left) * 3);
  }
  writeGeoTiff(file, {
    width: size, height: size, bands: 3, dataType: 'uint8', tile: 256, compression: 'deflate',
    geo: { epsg: 32633, origin: [500_000, 4_650_000], pixelSize: [0.5, 0.5] },
    pixel: (x, y, b) => rgb[(y * size + x) * 3 + b]!,
  });
  return { width: size, height: size };
}

/**
 * The main thread's garbage collections until `stop`: full ones (mark-compact; V8 marks
 * incrementally, partly in its helper threads) and scavenges, with all their main-thread pauses.
 */
function countCollections(): { stop: () => Promise<{ full: number; scavenges: number; mainThreadPauseMs: number }> } {
  const counts = { full: 0, scavenges: 0, mainThreadPauseMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) counts.scavenges++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) counts.full++;
      counts.mainThreadPauseMs += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      // the last entries are delivered on a later tick
      await new Promise((resolve) => setTimeout(resolve, 50));
      observer.disconnect();
      return { ...counts, mainThreadPauseMs: Math.round(counts.mainThreadPauseMs) };
    },
  };
}

/** The image turned by `k` quarter turns, mirrored from k = 4 on: the eight orientations of a square image. */
async function writeOrientation(source: string, target: string, k: number): Promise<void> {
  const turned = sharp(source).rotate(90 * (k % 4));
  await (k >= 4 ? turned.flop() : turned).jpeg({ quality: 90 }).toFile(target);
}

const loadAverage = (): number[] => os.loadavg().map((l) => Math.round(l * 100) / 100);
const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-indexer-pool-'));
const loadAtStart = loadAverage();
try {
  const archive = path.join(work, 'archive');
  mkdirSync(archive);
  const names = readdirSync(values.images).filter((n) => /\.(jpe?g|png|tiff?|webp)$/i.test(n)).sort();
  const chosen = limit > 0 ? names.slice(0, limit) : names;
  for (const name of chosen) {
    symlinkSync(path.join(values.images, name), path.join(archive, name));
    for (let k = 1; k < orientations; k++) await writeOrientation(path.join(values.images, name), path.join(archive, `${name}.turned-${k}.jpg`), k);
  }
  const sceneFile = path.join(archive, 'rsicd-mosaic.tif');
  const scene = sceneSide > 0 ? await writeRsicdScene(sceneFile, chosen.map((n) => path.join(values.images, n)), sceneSide) : undefined;

  const model = await modelDir();
  const encoder = await openClip(model, { variant, ...indexingEncoderOptions(machine) });
  // the encoder alone at its fastest (onnxruntime's threads spinning, its default), on pixels of
  // the same kinds of items (whole images, scene windows), prepared beforehand
  const reference = machine.onnxSpinning ? encoder : await openClip(model, { variant, ...indexingEncoderOptions(machine), spinning: true });
  const pixels: Float32Array[] = [];
  for (const name of chosen.slice(0, sampleSize / 2)) pixels.push((await encoder.preprocess(path.join(archive, name))).pixels);
  if (scene) {
    const opened = await Scene.open(sceneFile);
    for (const w of planWindows(scene.width, scene.height, { inputSize: 224 }).slice(0, sampleSize - pixels.length)) pixels.push(encoder.preprocessRgb(windowRaster(await opened.readWindow(w))));
    await opened.close();
  }
  const sample = Array.from({ length: sampleSize }, (_, i) => pixels[i % pixels.length]!);
  await encoder.embedPixels(sample.slice(0, machine.batchSize)); // warm-up
  const cpuSeconds = (since: NodeJS.CpuUsage): number => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1e6;
  };
  const cpuPerItem: number[] = [];
  const encoderOnly = async (): Promise<number> => {
    const start = performance.now();
    const cpu = process.cpuUsage();
    // as many batches at once as the encoder has sessions, as the indexer runs them
    let next = 0;
    const runBatches = async (): Promise<void> => {
      for (let i = next; i < sample.length; i = next) {
        next += machine.batchSize;
        await reference.embedPixels(sample.slice(i, i + machine.batchSize));
      }
    };
    await Promise.all(Array.from({ length: machine.modelSessions }, runBatches));
    cpuPerItem.push(cpuSeconds(cpu) / sample.length);
    return sample.length / ((performance.now() - start) / 1000);
  };

  // a whole pass first: the first passes of a session ran up to a fifth slower than later ones
  await encoderOnly();
  cpuPerItem.pop();
  const measures = [await encoderOnly()];
  const results: Record<string, unknown>[] = [];
  for (const run of runs) {
    const decodeThreads = run === 'pool' ? Math.max(1, machine.decodeThreads) : 0;
    const store = await openIndex(path.join(work, `index-${run}`), { model: encoder.info, create: true });
    let summary: IndexSummary;
    const collections = countCollections();
    const cpu = process.cpuUsage();
    try {
      summary = await indexArchive({ roots: [archive], store, encoder, followLinks: true, batchSize: machine.batchSize, decodeThreads });
    } finally {
      await store.close();
    }
    const garbageCollection = await collections.stop();
    const runCpuPerItem = cpuSeconds(cpu) / summary.embedded;
    measures.push(await encoderOnly());
    const reference = (measures.at(-2)! + measures.at(-1)!) / 2;
    const referenceCpu = (cpuPerItem.at(-2)! + cpuPerItem.at(-1)!) / 2;
    results.push({
      run,
      decodeThreads,
      items: summary.embedded,
      scenes: summary.scenes,
      seconds: summary.seconds,
      imagesPerSecond: summary.imagesPerSecond,
      encoderOnlyImagesPerSecond: reference,
      shareOfEncoderOnly: summary.imagesPerSecond / reference,
      cpuSecondsPerItem: runCpuPerItem,
      encoderOnlyCpuSecondsPerItem: referenceCpu,
      cpuShareOfEncoderOnly: referenceCpu / runCpuPerItem,
      timing: summary.timing,
      garbageCollection,
      loadAverage: loadAverage(),
    });
  }
  await encoder.close();
  if (reference !== encoder) await reference.close();
  process.stdout.write(
    `${JSON.stringify(
      {
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        loadAverageAtStart: loadAtStart,
        model: encoder.info.id,
        variant,
        onnxThreads: machine.onnxThreads,
        onnxSpinning: machine.onnxSpinning,
        modelSessions: machine.modelSessions,
        batch: machine.batchSize,
        images: chosen.length * orientations,
        orientations,
        scene: scene ? { ...scene, rsicdImages: sceneSide * sceneSide } : null,
        encoderOnlyImagesPerSecond: measures,
        encoderOnlyCpuSecondsPerItem: cpuPerItem,
        runs: results,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
