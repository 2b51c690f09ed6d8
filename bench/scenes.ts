/**
 * Scenes and places, the measures of issue 14. Each part runs in its own process (so peak RSS is
 * its own) and prints one JSON object:
 *   tiles   tiles per second indexing a large 8-bit scene (decode + tile + embed + commit) against the
 *           encoder's own rate on pixels already prepared, same model, batch and threads, measured
 *           before and after indexing (the machine is shared: the mean is the reference)
 *   memory  peak RSS while indexing a 20,000 x 20,000 px tiled 16-bit 4-band scene (bands 1,2,3, stretch)
 *   bbox    query latency (p50, p99) with a bbox filter over N synthetic geo items, by box size, and the
 *           R*Tree's (and the places') bytes per item
 * Usage: npx tsx bench/scenes.ts [--part tiles,memory,bbox] [--model DIR] [--variant int8] [--threads 2]
 *        [--scene-size 4096] [--memory-model DIR] [--items 1000000] [--dim 32] [--dir DIR]
 * Without --model the full-size ViT-B/32 with random weights (rsclip's exporter) is written to
 * $TMPDIR/rsclip-bench-vit-b-32 once (about 3 minutes). --memory-model defaults to --model.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { boxesToBBox, geometryBoxes, parseBboxPlace, planWindows, type AreaGeometry } from '../src/geo/index.js';
import { indexArchive } from '../src/indexer/index.js';
import { windowPixels } from '../src/indexer/scene-windows.js';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { openClip, type ModelVariant } from '../src/model/index.js';
import { Scene } from '../src/raster/index.js';
import { openIndex, type CatalogChange } from '../src/store/index.js';
import { writeGeoTiff } from '../test/fixtures/geotiff-writer.js';
import { writeBigScene } from '../test/raster/big-scene.js';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'tiles,memory,bbox' },
    model: { type: 'string' },
    variant: { type: 'string', default: 'int8' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    batch: { type: 'string', default: '32' },
    'scene-size': { type: 'string', default: '4096' },
    'memory-model': { type: 'string' },
    'memory-size': { type: 'string', default: '20000' },
    items: { type: 'string', default: '1000000' },
    dim: { type: 'string', default: '32' },
    queries: { type: 'string', default: '100' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'rsclip-bench-scenes') },
    child: { type: 'string' },
  },
});
const threads = Number(values.threads);
const batch = Number(values.batch);
const variant = values.variant as ModelVariant;

async function modelDir(): Promise<string> {
  if (values.model) return values.model;
  const dir = path.join(os.tmpdir(), 'rsclip-bench-vit-b-32');
  if (!existsSync(path.join(dir, 'onnx', 'vision_model_quantized.onnx'))) await writeRandomClipModel(dir, { size: 'vit-b-32', quantize: 'int8', writeCheckpoint: false });
  return dir;
}

const peakRssMiB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

/** An 8-bit RGB scene of textured 512 px blocks (8 distinct ones, so the writer compresses each once). */
function writeScene8(file: string, size: number): void {
  writeGeoTiff(file, {
    width: size, height: size, bands: 3, dataType: 'uint8', tile: 512, compression: 'deflate',
    geo: { epsg: 32633, origin: [300_000, 5_500_000], pixelSize: [10, 10] },
    pixel: (x, y, b) => (((x % 512) >> 3) * (b + 1) + ((y % 512) >> 3) * 3 + ((Math.floor(x / 512) + 3 * Math.floor(y / 512)) % 8) * 29 + ((x * 7 + y * 13) % 11)) % 256,
    blockKey: (level, column, row) => ((column + 1) * 512 <= size && (row + 1) * 512 <= size ? `${level}:${(column + 3 * row) % 8}` : `${level}:edge:${column}:${row}`),
  });
}

async function tilesPart(): Promise<Record<string, unknown>> {
  const size = Number(values['scene-size']);
  const archive = path.join(values.dir, `tiles-${size}`);
  mkdirSync(archive, { recursive: true });
  const file = path.join(archive, 'scene.tif');
  if (!existsSync(file)) writeScene8(file, size);
  const encoder = await openClip(await modelDir(), { variant, threads });
  // the encoder alone, on tiles of this scene already through the model's preprocessing
  const scene = await Scene.open(file);
  const sample = planWindows(size, size, { inputSize: 224 }).slice(0, 64);
  const pixels: Float32Array[] = [];
  for (const w of sample) pixels.push(await windowPixels(encoder, await scene.readWindow(w)));
  await scene.close();
  const work = Array.from({ length: 256 }, (_, i) => pixels[i % pixels.length]!);
  await encoder.embedPixels(work.slice(0, batch));
  const modelOnly = async (): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < work.length; i += batch) await encoder.embedPixels(work.slice(i, i + batch));
    return work.length / ((performance.now() - start) / 1000);
  };
  const before = await modelOnly();
  const indexDir = path.join(values.dir, `tiles-index-${process.pid}`);
  const store = await openIndex(indexDir, { model: encoder.info, create: true });
  const summary = await indexArchive({ roots: [archive], store, encoder, batchSize: batch });
  await store.close();
  const after = await modelOnly();
  await encoder.close();
  rmSync(indexDir, { recursive: true, force: true });
  const raw = (before + after) / 2;
  return {
    part: 'tiles',
    scene: { width: size, height: size, bands: 3, dataType: 'uint8', tiles: summary.embedded },
    model: encoder.info.id,
    variant,
    threads,
    batch,
    rawEncoderTilesPerSecond: +raw.toFixed(1),
    rawBeforeAndAfter: [+before.toFixed(1), +after.toFixed(1)],
    indexingTilesPerSecond: +summary.imagesPerSecond.toFixed(1),
    shareOfRawRate: +(summary.imagesPerSecond / raw).toFixed(3),
    modelBusyShare: +(summary.modelSeconds / summary.seconds).toFixed(3),
    seconds: +summary.seconds.toFixed(1),
    peakRssMiB: peakRssMiB(),
  };
}

async function memoryPart(): Promise<Record<string, unknown>> {
  const size = Number(values['memory-size']);
  const archive = path.join(values.dir, `memory-${size}`);
  mkdirSync(archive, { recursive: true });
  const file = path.join(archive, 'scene16.tif');
  if (!existsSync(file)) writeBigScene(file, size);
  const encoder = await openClip(values['memory-model'] ?? (await modelDir()), { variant, threads });
  const indexDir = path.join(values.dir, `memory-index-${process.pid}`);
  const store = await openIndex(indexDir, { model: encoder.info, create: true });
  let rssSampleMiB = 0;
  const timer = setInterval(() => (rssSampleMiB = Math.max(rssSampleMiB, Math.round(process.memoryUsage.rss() / 2 ** 20))), 200);
  const summary = await indexArchive({ roots: [archive], store, encoder, batchSize: batch, bands: [1, 2, 3] });
  clearInterval(timer);
  await store.close();
  await encoder.close();
  rmSync(indexDir, { recursive: true, force: true });
  return {
    part: 'memory',
    scene: { width: size, height: size, bands: 4, dataType: 'uint16', fullDecodeMiB: Math.round((size * size * 8) / 2 ** 20) },
    model: encoder.info.id,
    variant,
    tiles: summary.embedded,
    nodataWindows: summary.nodataWindows,
    tilesPerSecond: +summary.imagesPerSecond.toFixed(1),
    seconds: +summary.seconds.toFixed(1),
    peakRssMiB: peakRssMiB(),
  };
}

/** A seeded generator (the same items and boxes every run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))]!;
}

async function bboxPart(): Promise<Record<string, unknown>> {
  const n = Number(values.items);
  const dim = Number(values.dim);
  const rand = random(42);
  const indexDir = path.join(values.dir, `bbox-index-${n}-${dim}`);
  const model = { id: 'bench/synthetic', dir: '/nonexistent', variant: 'fp32' as const, fingerprint: 'b'.repeat(64), embeddingDim: dim, contextLength: 77, imageSize: 224, logitScale: undefined };
  const built = existsSync(indexDir);
  let buildSeconds = 0;
  if (!built) {
    const t0 = performance.now();
    const store = await openIndex(indexDir, { model, create: true, checkpointIntervalMs: 3_600_000 });
    // scenes of 1,000 tiles of 0.02 degrees (about 2 km), scattered over the land latitudes
    const perScene = 1000;
    for (let s = 0; s < n / perScene; s++) {
      const lon0 = -180 + rand() * 359;
      const lat0 = -60 + rand() * 130;
      const items = Array.from({ length: perScene }, (_, i) => {
        const west = Math.min(179.97, lon0 + (i % 32) * 0.015);
        const north = Math.min(89.9, lat0 + Math.floor(i / 32) * 0.015);
        const footprint: AreaGeometry = { type: 'Polygon', coordinates: [[[west, north - 0.02], [west + 0.02, north - 0.02], [west + 0.02, north], [west, north], [west, north - 0.02]]] };
        const vector = Float32Array.from({ length: dim }, () => rand() - 0.5);
        return {
          key: `s1:${i}`,
          window: { x: (i % 32) * 168, y: Math.floor(i / 32) * 168, width: 224, height: 224, scale: 1 },
          place: { footprint, bbox: boxesToBBox(geometryBoxes(footprint))!, center: [west + 0.01, north - 0.01] as [number, number], nativeBounds: [0, 0, 1, 1] as [number, number, number, number], gsd: 10 },
          vector,
        };
      });
      const change: CatalogChange = { kind: 'put', file: { root: '/bench', path: `scene${s}.tif`, bytes: 1, mtimeMs: 1, contentHash: `h${s}`, width: 5500, height: 5500, format: 'tiff', plan: 'tiles' }, items, complete: true };
      await store.commit([change]);
    }
    await store.close();
    buildSeconds = (performance.now() - t0) / 1000;
  }
  const store = await openIndex(indexDir, { readonly: true });
  const count = await store.countItems();
  const results: Record<string, unknown>[] = [];
  for (const side of [0.5, 5, 30]) {
    const latencies: number[] = [];
    let matched = 0;
    let allowed = 0;
    for (let q = 0; q < Number(values.queries); q++) {
      // boxes centred on an item's place, so that small ones meet a scene
      const [item] = await store.getItems([1 + Math.floor(rand() * count)]);
      const [lon, lat] = item!.place!.center;
      const west = Math.max(-180, lon - side / 2);
      const south = Math.max(-90, lat - side / 2);
      const filter = { bbox: parseBboxPlace(`${west},${south},${Math.min(180, west + side)},${Math.min(90, south + side)}`) };
      const query = Float32Array.from({ length: dim }, () => rand() - 0.5);
      const t0 = performance.now();
      const hits = await store.search(query, 20, { filter });
      latencies.push(performance.now() - t0);
      matched += hits.length;
      allowed += await store.countItems({ filter });
    }
    latencies.sort((a, b) => a - b);
    results.push({ boxDegrees: side, queries: latencies.length, meanItemsInBox: Math.round(allowed / latencies.length), meanHits: matched / latencies.length, p50Ms: +percentile(latencies, 50).toFixed(2), p99Ms: +percentile(latencies, 99).toFixed(2) });
  }
  const items = count;
  await store.close();
  const db = new Database(path.join(indexDir, 'catalog.sqlite'), { readonly: true });
  const bytes = (like: string) => (db.prepare('SELECT coalesce(sum(pgsize), 0) AS s FROM dbstat WHERE name LIKE ?').get(like) as { s: number }).s;
  const rtree = bytes('item_boxes%');
  const places = bytes('item_places%');
  db.close();
  return {
    part: 'bbox',
    items,
    dim,
    buildSeconds: built ? 'reused' : +buildSeconds.toFixed(1),
    latencyByBoxSize: results,
    rtreeBytesPerItem: +(rtree / items).toFixed(1),
    placeBytesPerItem: +(places / items).toFixed(1),
    peakRssMiB: peakRssMiB(),
  };
}

const PARTS: Record<string, () => Promise<Record<string, unknown>>> = { tiles: tilesPart, memory: memoryPart, bbox: bboxPart };

if (values.child) {
  console.log(JSON.stringify(await PARTS[values.child]!()));
} else {
  mkdirSync(values.dir, { recursive: true });
  const args = process.argv.slice(2);
  const results = values.part.split(',').map((part) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, ...args, '--child', part], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    return line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : { part, error: run.stderr.slice(-1500) };
  });
  console.log(JSON.stringify({ cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadAverage: os.loadavg().map((l) => +l.toFixed(1)), results }, null, 2));
}
