/**
 * Locate on a 10,000 x 10,000 px scene (issue 11). Prints one JSON object per part:
 *   indexed  an indexed scene (its 224 px tiles at 25 % overlap, 512-d vectors committed through the
 *            store with their places): item lookup + vectors + scoring + suppression + heat map, per
 *            query (min and median of --runs), with a random query vector
 *   fly      the same size of scene not in any index: read, tile, embed every window on the fly and
 *            score (one run); the model is --model, else the tiny test model (random weights, 32-d)
 * Usage: npx tsx bench/locate.ts [--part indexed,fly] [--size 10000] [--runs 10] [--model DIR] [--threads 2] [--dir DIR]
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { crsFromEpsg, placeOfWindow, planWindows, type Georeference } from '../src/geo/index.js';
import { locateInImage, locateInIndexedFile } from '../src/locate/index.js';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { openClip } from '../src/model/index.js';
import { openIndex, type CatalogChange } from '../src/store/index.js';
import { unitVector } from '../src/vector-math.js';
import { writeBigScene } from '../test/raster/big-scene.js';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'indexed,fly' },
    size: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '10' },
    model: { type: 'string' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'rsclip-bench-locate') },
  },
});
const size = Number(values.size);
const DIM = 512;

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function indexedPart(): Promise<Record<string, unknown>> {
  const rand = random(7);
  const indexDir = path.join(values.dir, `indexed-${size}`);
  const model = { id: 'bench/synthetic', dir: '/nonexistent', variant: 'fp32' as const, fingerprint: 'c'.repeat(64), embeddingDim: DIM, contextLength: 77, imageSize: 224, logitScale: undefined };
  const windows = planWindows(size, size, { inputSize: 224 });
  const geo: Georeference = { crs: crsFromEpsg(32633), geoTransform: [500_000, 10, 0, 4_650_000, 0, -10], width: size, height: size, source: 'geotiff' };
  if (!existsSync(indexDir)) {
    const store = await openIndex(indexDir, { model, create: true });
    const items = windows.map((w) => {
      const window = { x: w.x, y: w.y, width: w.width, height: w.height, scale: w.scale };
      return { key: w.key, window, place: placeOfWindow(geo, window), vector: unitVector(Float32Array.from({ length: DIM }, () => rand() - 0.5)) };
    });
    const change: CatalogChange = { kind: 'put', file: { root: '/bench', path: 'scene.tif', bytes: 1, mtimeMs: 1, contentHash: 'd'.repeat(64), width: size, height: size, format: 'tiff', plan: 'tiles' }, items, complete: true };
    await store.commit([change]);
    await store.close();
  }
  const store = await openIndex(indexDir, { readonly: true });
  try {
    const file = (await store.getItems([(await store.listItemIds())[0]!]))[0]!.file;
    const times: number[] = [];
    let tiles = 0;
    for (let r = 0; r < Number(values.runs); r++) {
      const query = unitVector(Float32Array.from({ length: DIM }, () => rand() - 0.5));
      const t0 = performance.now();
      const result = await locateInIndexedFile(store, file, query);
      times.push(performance.now() - t0);
      tiles = result.tiles.length;
    }
    return { part: 'indexed', size, tiles, dim: DIM, runs: times.length, minMs: Math.round(Math.min(...times)), medianMs: Math.round(median(times)) };
  } finally {
    await store.close();
  }
}

async function flyPart(): Promise<Record<string, unknown>> {
  const scene = path.join(values.dir, `scene-${size}.tif`);
  if (!existsSync(scene)) writeBigScene(scene, size);
  let modelDir = values.model;
  if (!modelDir) {
    modelDir = path.join(values.dir, 'tiny-model');
    if (!existsSync(path.join(modelDir, 'onnx'))) await writeRandomClipModel(modelDir, { size: 'tiny', seed: 0, quantize: 'int8' });
  }
  const encoder = await openClip(modelDir, { threads: Number(values.threads) });
  try {
    const [query] = await encoder.embedTexts(['a harbour']);
    const t0 = performance.now();
    const result = await locateInImage(encoder, scene, 'scene.tif', query!);
    const ms = performance.now() - t0;
    return { part: 'fly', size, model: encoder.info.id, tiles: result.tiles.length, totalMs: Math.round(ms), embedMs: Math.round(result.timings.embedMs), scoreMs: Math.round(result.timings.scoreMs), tilesPerSecond: Math.round(result.tiles.length / (ms / 1000)) };
  } finally {
    await encoder.close();
  }
}

mkdirSync(values.dir, { recursive: true });
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
for (const part of values.part.split(',')) {
  const result = part === 'indexed' ? await indexedPart() : part === 'fly' ? await flyPart() : undefined;
  if (!result) throw new Error(`unknown part ${part}: expected indexed or fly`);
  console.log(JSON.stringify({ ...result, cpu, loadAverage: os.loadavg()[0]!.toFixed(1) }));
}
