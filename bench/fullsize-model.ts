/**
 * Full-size ViT-B/32 from rsclip's own exporter (random weights, real architecture),
 * fp32 and int8: images/s at batch 1/8/32, text ms per query at 5/20/77 tokens, session
 * load time and RSS, plus int8-vs-fp32 cosine on the golden pixels (random pixels when
 * ../shared is absent). Each variant runs in its own child process so RSS is its own.
 *
 *   npx tsx bench/fullsize-model.ts [--model DIR] [--threads 2] [--variants fp32,int8]
 *
 * Without --model it writes the random model to a temp folder (about 3 minutes) and keeps
 * it at $TMPDIR/rsclip-bench-vit-b-32 for the next run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { openModelDirectory, type ModelVariant } from '../src/model/model-dir.js';
import { OnnxSession } from '../src/model/onnx.js';

const IMAGE_BATCHES = [1, 8, 32];
const TEXT_LENGTHS = [5, 20, 77];
const GOLDEN = path.resolve(import.meta.dirname, '../../shared/golden');
const GOLDEN_IMAGES = ['stadium_1.jpg', 'big.jpg', 'wide.png', 'tall.jpg', 'small.png', 'gray.png', 'rgba.png', 'ucm_like.tif'];
const PIXELS_PER_IMAGE = 3 * 224 * 224;

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    threads: { type: 'string', default: '2' },
    variants: { type: 'string', default: 'fp32,int8' },
    child: { type: 'string' },
  },
});
const threads = Number(args.threads);

/** 8 images: the golden pixel arrays when ../shared exists, else seeded pseudo-random pixels. */
function benchPixels(): { data: Float32Array; source: string } {
  const data = new Float32Array(8 * PIXELS_PER_IMAGE);
  if (existsSync(path.join(GOLDEN, 'pixels'))) {
    GOLDEN_IMAGES.forEach((name, i) => {
      const buf = readFileSync(path.join(GOLDEN, 'pixels', `${name}.pil.f32`));
      data.set(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)), i * PIXELS_PER_IMAGE);
    });
    return { data, source: 'golden pixels' };
  }
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return { data, source: 'pseudo-random pixels' };
}

function repeatImages(pixels: Float32Array, batch: number): Float32Array {
  const out = new Float32Array(batch * PIXELS_PER_IMAGE);
  for (let i = 0; i < batch; i++) out.set(pixels.subarray((i % 8) * PIXELS_PER_IMAGE, ((i % 8) + 1) * PIXELS_PER_IMAGE), i * PIXELS_PER_IMAGE);
  return out;
}

/**
 * Wall ms per run, and process CPU ms per run (all ORT threads). On a shared machine the
 * CPU time is the steadier figure: `threads * 1000 / cpuMs` estimates the unloaded rate.
 */
async function timeRuns(minRuns: number, minSeconds: number, run: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  await run();
  let runs = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (runs < minRuns || performance.now() - start < minSeconds * 1000) {
    await run();
    runs++;
  }
  const cpu = process.cpuUsage(cpuStart);
  return { wallMs: (performance.now() - start) / runs, cpuMs: (cpu.user + cpu.system) / 1000 / runs };
}

interface VariantResult {
  variant: ModelVariant;
  sessionLoadMs: { vision: number; text: number };
  imagesPerSecond: Record<string, number>;
  /** threads / CPU seconds per image: the rate if the cores were not shared. */
  imagesPerSecondFromCpuTime: Record<string, number>;
  textMsPerQuery: Record<string, number>;
  /** CPU ms per query / threads. */
  textMsPerQueryFromCpuTime: Record<string, number>;
  rssMB: number;
  imageEmbeds: number[];
  textEmbeds: number[];
}

async function benchVariant(dir: string, variant: ModelVariant): Promise<VariantResult> {
  const model = openModelDirectory(dir, { variant });
  let t = performance.now();
  const vision = await OnnxSession.open(model.onnx.vision, { threads });
  const visionLoad = performance.now() - t;
  t = performance.now();
  const text = await OnnxSession.open(model.onnx.text, { threads });
  const textLoad = performance.now() - t;

  const { data: pixels } = benchPixels();
  const imagesPerSecond: Record<string, number> = {};
  const imagesPerSecondFromCpuTime: Record<string, number> = {};
  for (const batch of IMAGE_BATCHES) {
    const data = repeatImages(pixels, batch);
    const t = await timeRuns(batch === 1 ? 8 : 2, 3, () => vision.run({ pixel_values: { type: 'float32', data, dims: [batch, 3, 224, 224] } }, 'image_embeds'));
    imagesPerSecond[`batch${batch}`] = Number(((1000 * batch) / t.wallMs).toFixed(2));
    imagesPerSecondFromCpuTime[`batch${batch}`] = Number(((1000 * batch * threads) / t.cpuMs).toFixed(2));
  }
  const imageEmbeds = (await vision.run({ pixel_values: { type: 'float32', data: pixels, dims: [8, 3, 224, 224] } }, 'image_embeds')).data;

  const vocab = model.config.text_config.vocab_size ?? 49408;
  const eos = model.config.text_config.eos_token_id ?? vocab - 1;
  const bos = model.config.text_config.bos_token_id ?? vocab - 2;
  const textMsPerQuery: Record<string, number> = {};
  const textMsPerQueryFromCpuTime: Record<string, number> = {};
  const textEmbeds: number[] = [];
  for (const length of TEXT_LENGTHS) {
    const ids = BigInt64Array.from({ length }, (_, i) => BigInt(i === 0 ? bos : i === length - 1 ? eos : 300 + ((i * 37) % (vocab - 400))));
    const feeds = {
      input_ids: { type: 'int64' as const, data: ids, dims: [1, length] },
      attention_mask: { type: 'int64' as const, data: new BigInt64Array(length).fill(1n), dims: [1, length] },
    };
    const t = await timeRuns(10, 2, () => text.run(feeds, 'text_embeds'));
    textMsPerQuery[`tokens${length}`] = Number(t.wallMs.toFixed(2));
    textMsPerQueryFromCpuTime[`tokens${length}`] = Number((t.cpuMs / threads).toFixed(2));
    textEmbeds.push(...(await text.run(feeds, 'text_embeds')).data);
  }
  const rssMB = Math.round(process.memoryUsage().rss / 1e6);
  await vision.close();
  await text.close();
  return {
    variant,
    sessionLoadMs: { vision: Math.round(visionLoad), text: Math.round(textLoad) },
    imagesPerSecond,
    imagesPerSecondFromCpuTime,
    textMsPerQuery,
    textMsPerQueryFromCpuTime,
    rssMB,
    imageEmbeds: [...imageEmbeds],
    textEmbeds,
  };
}

function rowCosines(a: number[], b: number[], dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / dim; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      dot += a[i]! * b[i]!;
      na += a[i]! * a[i]!;
      nb += b[i]! * b[i]!;
    }
    out.push(Number((dot / Math.sqrt(na * nb)).toFixed(5)));
  }
  return out;
}

async function main(): Promise<void> {
  if (args.child) {
    process.stdout.write(JSON.stringify(await benchVariant(args.model!, args.child as ModelVariant)));
    return;
  }
  let dir = args.model;
  let exportSeconds: number | undefined;
  if (!dir) {
    dir = path.join(os.tmpdir(), 'rsclip-bench-vit-b-32');
    if (!existsSync(dir)) {
      const start = performance.now();
      await writeRandomClipModel(dir, { size: 'vit-b-32', seed: 0, quantize: 'int8', writeCheckpoint: false, onProgress: (m) => process.stderr.write(`${m}\n`) });
      exportSeconds = Number(((performance.now() - start) / 1000).toFixed(1));
    }
  }
  const results: VariantResult[] = [];
  for (const variant of args.variants!.split(',') as ModelVariant[]) {
    process.stderr.write(`benchmarking ${variant}...\n`);
    const out = execFileSync(process.execPath, [...process.execArgv, import.meta.filename, '--model', dir, '--threads', String(threads), '--child', variant], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    results.push(JSON.parse(out) as VariantResult);
  }
  const fp32 = results.find((r) => r.variant === 'fp32');
  const dim = openModelDirectory(dir).config.projection_dim;
  const report = {
    bench: 'fullsize-model',
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
    threads,
    model: dir,
    exportSeconds,
    pixels: benchPixels().source,
    imageBatches: IMAGE_BATCHES,
    textLengths: TEXT_LENGTHS,
    variants: results.map(({ imageEmbeds, textEmbeds, ...rest }) => ({
      ...rest,
      ...(fp32 && rest.variant !== 'fp32'
        ? {
            imageCosineVsFp32: rowCosines(imageEmbeds, fp32.imageEmbeds, dim),
            textCosineVsFp32: rowCosines(textEmbeds, fp32.textEmbeds, dim),
          }
        : {}),
    })),
  };
  console.log(JSON.stringify(report, null, 2));
}

await main();
