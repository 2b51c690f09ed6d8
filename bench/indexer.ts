/**
 * Indexer throughput against the raw encoder, HNSW insert rate, and per-image costs
 * extrapolated to 1M images.
 * Usage: npx tsx bench/indexer.ts (--model DIR | --random-vit-b32) [--images DIR (default ../shared/datasets/rsicd-test/images)]
 *        [--batch 32] [--threads N] [--decoders 4] [--decode-threads N] [--limit N] [--hnsw-n 20000] [--hnsw-dim 512]
 * --random-vit-b32 generates a full-size ViT-B/32 CLIP with random weights (the cost of the real
 * clip-rsicd-v2 image encoder) with rsclip's own generator.
 * --decode-threads: the indexer's decode pool (default: from the machine; 0: the main thread).
 * bench/indexer-pool.ts compares indexing with and without the pool on RSICD and a tiled scene.
 * Prints JSON.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { indexArchive } from '../src/indexer/index.js';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { openClip } from '../src/model/index.js';
import { HnswIndex } from '../src/store/hnsw-index.js';
import { ENGINE_DEFAULTS, openIndex } from '../src/store/index.js';

const SHARED = path.resolve(process.env.RSCLIP_SHARED ?? path.join(import.meta.dirname, '../../shared'));
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    images: { type: 'string', default: path.join(SHARED, 'datasets/rsicd-test/images') },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    decoders: { type: 'string', default: '4' },
    'decode-threads': { type: 'string' },
    limit: { type: 'string', default: '0' },
    'hnsw-n': { type: 'string', default: '20000' },
    'hnsw-dim': { type: 'string', default: '512' },
    'random-vit-b32': { type: 'boolean', default: false },
  },
});
if (!values.model && !values['random-vit-b32']) throw new Error('usage: npx tsx bench/indexer.ts (--model DIR | --random-vit-b32) [--images DIR] [--batch N] [--threads N]');
const batch = Number(values.batch);
const threads = Number(values.threads);
const decoders = Number(values.decoders);
const limit = Number(values.limit);

const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-indexer-'));

const modelDir = values['random-vit-b32']
  ? await writeRandomClipModel(path.join(work, 'random-vit-b32'), { size: 'vit-b-32', writeCheckpoint: false })
  : values.model!;
// the archive: links to the source images (optionally the first `limit`), followed though they lead outside it
const archive = path.join(work, 'archive');
mkdirSync(archive);
const names = readdirSync(values.images).filter((n) => /\.(jpe?g|png|tiff?|webp)$/i.test(n)).sort();
const chosen = limit > 0 ? names.slice(0, limit) : names;
for (const name of chosen) symlinkSync(path.join(values.images, name), path.join(archive, name));
const files = chosen.map((n) => path.join(archive, n));

const encoder = await openClip(modelDir, { threads });

// 1. raw encoder: model only (pixels ready), and decode + model without overlap, same batch and threads
const pixels = await Promise.all(files.map(async (f) => (await encoder.preprocess(f)).pixels));
await encoder.embedPixels(pixels.slice(0, batch)); // warm-up
async function modelOnlyRate(): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < pixels.length; i += batch) await encoder.embedPixels(pixels.slice(i, i + batch));
  return pixels.length / ((performance.now() - start) / 1000);
}
// measured before and after indexing: on a shared machine the load drifts, the mean is the reference
const modelOnlyBefore = await modelOnlyRate();
let t0 = performance.now();
for (let i = 0; i < files.length; i += batch) await encoder.embedImages(files.slice(i, i + batch));
const sequentialSeconds = (performance.now() - t0) / 1000;

// 2. end to end: a fresh index of the same images
const indexDir = path.join(work, 'index');
const writer = await openIndex(indexDir, { model: encoder.info, create: true });
const decodeThreads = values['decode-threads'] === undefined ? {} : { decodeThreads: Number(values['decode-threads']) };
const summary = await indexArchive({ roots: [archive], store: writer, encoder, followLinks: true, batchSize: batch, decoders, ...decodeThreads });
await writer.close();
const modelOnlyAfter = await modelOnlyRate();
const store = await openIndex(indexDir, { readonly: true });
const bytesOnDisk = (await store.stats()).details.bytesOnDisk as { catalog: number; hnsw: number };
await store.close();
await encoder.close();

// 3. HNSW inserts at the default build parameters, synthetic unit vectors
const hnswN = Number(values['hnsw-n']);
const hnswDim = Number(values['hnsw-dim']);
const vectors = Array.from({ length: hnswN }, () => {
  const v = Float32Array.from({ length: hnswDim }, () => Math.random() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
});
const hnsw = HnswIndex.create(hnswDim, ENGINE_DEFAULTS.hnswlib, hnswN);
t0 = performance.now();
vectors.forEach((v, i) => hnsw.add(i, v));
const insertSeconds = (performance.now() - t0) / 1000;
const hnswFile = path.join(work, 'synthetic.hnsw');
await hnsw.save(hnswFile);
const { size: hnswFileBytes } = await import('node:fs/promises').then((fs) => fs.stat(hnswFile));
t0 = performance.now();
for (let i = 0; i < 200; i++) hnsw.searchBestFirst(vectors[i]!, 10, { ef: 64 });
const searchMs = (performance.now() - t0) / 200;

const n = summary.embedded;
const modelOnly = (modelOnlyBefore + modelOnlyAfter) / 2;
const catalogPerImage = bytesOnDisk.catalog / n;
const hnswPerImageSmall = bytesOnDisk.hnsw / n;
const hnswPerItem512 = hnswFileBytes / hnswN;
// SQLite holds the vector (4 x dim) plus the row; scale the measured row overhead to dim 512
const catalogPerImage512 = catalogPerImage + 4 * (hnswDim - store.meta.embeddingDim);
const million = 1_000_000;
process.stdout.write(
  `${JSON.stringify(
    {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      model: store.meta.modelId,
      embeddingDim: store.meta.embeddingDim,
      images: n,
      batch,
      threads,
      decoders,
      rawEncoder: {
        modelOnlyImagesPerSecond: modelOnly,
        modelOnlyBeforeAndAfterIndexing: [modelOnlyBefore, modelOnlyAfter],
        decodeThenModelImagesPerSecond: files.length / sequentialSeconds,
      },
      indexing: {
        endToEndImagesPerSecond: summary.imagesPerSecond,
        seconds: summary.seconds,
        modelBusyShare: summary.modelSeconds / summary.seconds,
        shareOfModelOnlyRate: summary.imagesPerSecond / modelOnly,
        shareOfDecodeThenModelRate: summary.imagesPerSecond / (files.length / sequentialSeconds),
        timing: summary.timing,
      },
      hnsw: { n: hnswN, dim: hnswDim, M: ENGINE_DEFAULTS.hnswlib.M, efConstruction: ENGINE_DEFAULTS.hnswlib.efConstruction, seed: ENGINE_DEFAULTS.hnswlib.seed, insertsPerSecond: hnswN / insertSeconds, searchMsAtEf64: searchMs, fileBytesPerItem: hnswPerItem512 },
      perImage: {
        catalogBytes: catalogPerImage,
        hnswFileBytes: hnswPerImageSmall,
      },
      oneMillionImagesAtDim512: {
        catalogGB: (catalogPerImage512 * million) / 1e9,
        hnswFileGB: (hnswPerItem512 * million) / 1e9,
        // hnswlib's file is a dump of its memory layout, so the graph needs about its file size in RAM
        hnswRamGB: (hnswPerItem512 * million) / 1e9,
        hnswBuildHoursAlone: million / (hnswN / insertSeconds) / 3600,
        indexingHoursAtThisEncoderRate: million / summary.imagesPerSecond / 3600,
      },
    },
    null,
    2,
  )}\n`,
);
rmSync(work, { recursive: true, force: true });
