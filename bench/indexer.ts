/**
 * Indexer throughput against the raw encoder, HNSW insert rate, and per-image costs
 * extrapolated to 1M images.
 * Usage: npx tsx bench/indexer.ts (--model DIR | --random-vit-b32) [--images DIR (default ../shared/datasets/rsicd-test/images)]
 *        [--batch 32] [--threads N] [--decoders 4] [--limit N] [--hnsw-n 20000] [--hnsw-dim 512]
 * --random-vit-b32 builds a full-size ViT-B/32 vision tower with random weights (the cost of the real
 * clip-rsicd-v2 image encoder) with rsclip's own exporter, next to the tiny model's text side.
 * Prints JSON.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { indexArchive } from '../src/indexer/index.js';
import { openClip, type ClipConfig } from '../src/model/index.js';
import type { Tensor, TensorMap } from '../src/model/checkpoint/index.js';
import { buildTextModel } from '../src/model/export/clip-text.js';
import { buildVisionModel } from '../src/model/export/clip-vision.js';
import { encodeModel } from '../src/model/export/onnx-proto.js';
import { DEFAULT_HNSW_PARAMS, HnswIndex, openIndex } from '../src/store/index.js';

const SHARED = path.resolve(process.env.RSCLIP_SHARED ?? path.join(import.meta.dirname, '../../shared'));
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    images: { type: 'string', default: path.join(SHARED, 'datasets/rsicd-test/images') },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    decoders: { type: 'string', default: '4' },
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

/** Transformers CLIPModel state-dict names and shapes of one encoder layer. */
function layerShapes(prefix: string, width: number, intermediate: number): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) out.push([`${prefix}.self_attn.${proj}.weight`, [width, width]], [`${prefix}.self_attn.${proj}.bias`, [width]]);
  for (const ln of ['layer_norm1', 'layer_norm2']) out.push([`${prefix}.${ln}.weight`, [width]], [`${prefix}.${ln}.bias`, [width]]);
  out.push([`${prefix}.mlp.fc1.weight`, [intermediate, width]], [`${prefix}.mlp.fc1.bias`, [intermediate]]);
  out.push([`${prefix}.mlp.fc2.weight`, [width, intermediate]], [`${prefix}.mlp.fc2.bias`, [width]]);
  return out;
}

/** A model directory with a random ViT-B/32 vision tower (88 M parameters) and the tiny model's tokenizer. */
function writeRandomVitB32(tinyDir: string, outDir: string): string {
  const tiny = JSON.parse(readFileSync(path.join(tinyDir, 'config.json'), 'utf8')) as ClipConfig;
  const vision = { ...tiny.vision_config, hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, image_size: 224, patch_size: 32 };
  const config: ClipConfig = { ...tiny, projection_dim: 512, vision_config: vision };
  const t = tiny.text_config;
  const shapes: [string, number[]][] = [
    ['vision_model.embeddings.patch_embedding.weight', [768, 3, 32, 32]],
    ['vision_model.embeddings.class_embedding', [768]],
    ['vision_model.embeddings.position_embedding.weight', [50, 768]],
    ['vision_model.pre_layrnorm.weight', [768]],
    ['vision_model.pre_layrnorm.bias', [768]],
    ...Array.from({ length: 12 }, (_, i) => layerShapes(`vision_model.encoder.layers.${i}`, 768, 3072)).flat(),
    ['vision_model.post_layernorm.weight', [768]],
    ['vision_model.post_layernorm.bias', [768]],
    ['visual_projection.weight', [512, 768]],
    ['text_model.embeddings.token_embedding.weight', [t.vocab_size ?? 49408, t.hidden_size]],
    ['text_model.embeddings.position_embedding.weight', [t.max_position_embeddings ?? 77, t.hidden_size]],
    ...Array.from({ length: t.num_hidden_layers }, (_, i) => layerShapes(`text_model.encoder.layers.${i}`, t.hidden_size, t.intermediate_size ?? 2048)).flat(),
    ['text_model.final_layer_norm.weight', [t.hidden_size]],
    ['text_model.final_layer_norm.bias', [t.hidden_size]],
    ['text_projection.weight', [512, t.hidden_size]],
  ];
  const tensors: TensorMap = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isNorm = name.includes('norm') && name.endsWith('.weight');
    tensors.set(name, { shape, data: Float32Array.from({ length: size }, () => (isNorm ? 1 : (Math.random() - 0.5) * 0.04)) });
  }
  mkdirSync(path.join(outDir, 'onnx'), { recursive: true });
  writeFileSync(path.join(outDir, 'onnx', 'vision_model.onnx'), encodeModel(buildVisionModel(config, tensors, 'fp32')));
  writeFileSync(path.join(outDir, 'onnx', 'text_model.onnx'), encodeModel(buildTextModel(config, tensors, 'fp32')));
  writeFileSync(path.join(outDir, 'config.json'), JSON.stringify({ ...config, _name_or_path: 'random-vit-b32' }, null, 2));
  for (const f of ['preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(tinyDir, f), path.join(outDir, f));
  return outDir;
}

const modelDir = values['random-vit-b32']
  ? writeRandomVitB32(path.join(SHARED, 'golden/tiny-clip'), path.join(work, 'random-vit-b32'))
  : values.model!;
// the archive: links to the source images (optionally the first `limit`)
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
let t0 = performance.now();
for (let i = 0; i < pixels.length; i += batch) await encoder.embedPixels(pixels.slice(i, i + batch));
const modelOnlySeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
for (let i = 0; i < files.length; i += batch) await encoder.embedImages(files.slice(i, i + batch));
const sequentialSeconds = (performance.now() - t0) / 1000;

// 2. end to end: a fresh index of the same images
const indexDir = path.join(work, 'index');
const summary = await indexArchive({ roots: [archive], index: indexDir, model: encoder, batchSize: batch, decoders });
const store = openIndex(indexDir, { readonly: true });
const stats = store.stats();
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
const heapBefore = process.memoryUsage().rss;
const hnsw = HnswIndex.create(hnswDim, DEFAULT_HNSW_PARAMS, hnswN);
t0 = performance.now();
vectors.forEach((v, i) => hnsw.add(i, v));
const insertSeconds = (performance.now() - t0) / 1000;
const hnswRssPerItem = (process.memoryUsage().rss - heapBefore) / hnswN;
const hnswFile = path.join(work, 'synthetic.hnsw');
await hnsw.save(hnswFile);
const { size: hnswFileBytes } = await import('node:fs/promises').then((fs) => fs.stat(hnswFile));
t0 = performance.now();
for (let i = 0; i < 200; i++) hnsw.searchBestFirst(vectors[i]!, 10, { ef: 64 });
const searchMs = (performance.now() - t0) / 200;

const n = summary.embedded;
const modelOnly = n / modelOnlySeconds;
const catalogPerImage = stats.bytesOnDisk.catalog / n;
const hnswPerImageSmall = stats.bytesOnDisk.hnsw / n;
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
        decodeThenModelImagesPerSecond: files.length / sequentialSeconds,
      },
      indexing: {
        endToEndImagesPerSecond: summary.imagesPerSecond,
        seconds: summary.seconds,
        modelBusyShare: summary.modelSeconds / summary.seconds,
        shareOfModelOnlyRate: summary.imagesPerSecond / modelOnly,
        shareOfDecodeThenModelRate: summary.imagesPerSecond / (files.length / sequentialSeconds),
      },
      hnsw: { n: hnswN, dim: hnswDim, ...DEFAULT_HNSW_PARAMS, insertsPerSecond: hnswN / insertSeconds, searchMsAtEf64: searchMs, fileBytesPerItem: hnswPerItem512, rssBytesPerItem: hnswRssPerItem },
      perImage: {
        catalogBytes: catalogPerImage,
        hnswFileBytes: hnswPerImageSmall,
      },
      oneMillionImagesAtDim512: {
        catalogGB: (catalogPerImage512 * million) / 1e9,
        hnswFileGB: (hnswPerItem512 * million) / 1e9,
        hnswRamGB: (Math.max(hnswRssPerItem, hnswPerItem512) * million) / 1e9,
        hnswBuildHoursAlone: million / (hnswN / insertSeconds) / 3600,
        indexingHoursAtThisEncoderRate: million / summary.imagesPerSecond / 3600,
      },
    },
    null,
    2,
  )}\n`,
);
rmSync(work, { recursive: true, force: true });
