/**
 * The image encoder against this machine's peaks, and side-by-side comparisons of model
 * exports, variants and onnxruntime session options. Every configuration is timed in turn,
 * round after round (interleaved, so a busy machine slows them alike), on real images when
 * ../shared has them (RSICD test images through rsclip's preprocessing). Reported per
 * configuration: images/s (wall) and images per core-second (CPU time: steadier on a shared
 * machine), the GOP/s that makes, its share of the measured int8 or fp32 peak (bench/peak.ts),
 * text ms per query, and the cosine of its embeddings to the first model's fp32 ones.
 *
 *   npx tsx bench/encoder.ts --model DIR[,DIR2] [--variants fp32,int8] [--sessions default,nospin]
 *     [--threads N] [--batch 32] [--rounds 3] [--seconds 3] [--peaks] [--ops]
 * Sessions: default | nospin (threads sleep between parallel sections) | noarena | extended
 * (graph optimisation level) | basic. --ops also profiles each configuration's vision tower
 * (onnxruntime's per-node profile over `rounds` batches) and reports its time by operator type,
 * and the rate of its matrix products alone (the GEMM operators: linear layers and patch
 * embedding), against the peak with --peaks. Prints JSON.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openModelDirectory, preprocessImage, type ModelDirectory, type ModelVariant } from '../src/model/index.js';
import { OnnxSession, type OnnxSessionOptions } from '../src/model/onnx.js';
import { cosine, normalizeRows } from '../src/vector-math.js';
import { measurePeaks, type Peaks } from './peak.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    variants: { type: 'string', default: 'fp32,int8' },
    sessions: { type: 'string', default: 'default' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    peaks: { type: 'boolean', default: false },
    ops: { type: 'boolean', default: false },
  },
});
if (!args.model) throw new Error('usage: npx tsx bench/encoder.ts --model DIR[,DIR2] [--variants fp32,int8] [--sessions default,nospin] [--peaks]');
const threads = Number(args.threads);
const batch = Number(args.batch);
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const RSICD = path.resolve(import.meta.dirname, '../../shared/datasets/rsicd-test/images');
const SESSIONS: Record<string, Omit<OnnxSessionOptions, 'threads'>> = {
  default: {},
  nospin: { spinning: false },
  noarena: { memoryArena: false },
  extended: { optimization: 'extended' },
  basic: { optimization: 'basic' },
};

/** The vision tower's shape (CLIP ViT defaults where the config is silent). */
function visionShape(model: ModelDirectory): { width: number; patch: number; grid: number; tokens: number; layers: number; intermediate: number } {
  const v = model.config.vision_config;
  const width = v.hidden_size ?? 768;
  const patch = v.patch_size ?? 32;
  const grid = (v.image_size ?? 224) / patch;
  return { width, patch, grid, tokens: grid * grid + 1, layers: v.num_hidden_layers ?? 12, intermediate: v.intermediate_size ?? 4 * width };
}

/** Multiply-adds x 2 of one image's attention scores and weighted sums (products of activations, not weights). */
function attentionGopPerImage(model: ModelDirectory): number {
  const { width, tokens, layers } = visionShape(model);
  return (2 * layers * 2 * tokens * tokens * width) / 1e9;
}

/** Multiply-adds x 2 of one image through the vision tower (patch embedding, layers, projection). */
function gopPerImage(model: ModelDirectory): number {
  const { width, patch, grid, tokens, layers, intermediate } = visionShape(model);
  const linear = grid * grid * 3 * patch * patch * width + layers * tokens * (4 * width * width + 2 * width * intermediate) + width * model.config.projection_dim;
  return (2 * linear) / 1e9 + attentionGopPerImage(model);
}

/** The operators that compute the matrix products with weights, int8 or fp32. */
const GEMM_OPS = /^(DynamicQuantizeMatMul|MatMulInteger|MatMulIntegerToFloat|DynamicQuantizeLinear|QLinearMatMul|MatMul|FusedMatMul|Gemm|Conv)$/;

interface OperatorTimes {
  msPerImage: number;
  byOperator: { op: string; msPerImage: number; share: number }[];
  gemmShare: number;
  gemmGopsPerCoreSecond: number;
}

/** onnxruntime's per-node profile of `runs` batches (a warm-up run before them left out), summed by operator type. */
async function operatorTimes(config: Config, input: Float32Array[], runs: number): Promise<OperatorTimes> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsclip-ops-'));
  try {
    const profiled = await OnnxSession.open(config.model.onnx.vision, { threads, ...SESSIONS[config.session], profilePrefix: path.join(dir, 'vision') });
    const timed = { ...config, vision: profiled };
    await embed(timed, input);
    for (let r = 0; r < runs; r++) await embed(timed, input);
    await profiled.close();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
    type ProfileEvent = { cat: string; name: string; ts: number; dur: number; args: { op_name?: string } };
    const events = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as ProfileEvent[];
    const runStarts = events.filter((e) => e.name === 'model_run').map((e) => e.ts);
    const from = runStarts[runStarts.length - runs]!;
    const byOp = new Map<string, number>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from || !e.args.op_name) continue;
      byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
    }
    const images = runs * input.length;
    const totalUs = [...byOp.values()].reduce((a, b) => a + b, 0);
    const gemmUs = [...byOp].filter(([op]) => GEMM_OPS.test(op)).reduce((a, [, us]) => a + us, 0);
    return {
      msPerImage: round(totalUs / 1000 / images, 2),
      byOperator: [...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, msPerImage: round(us / 1000 / images, 3), share: round(us / totalUs, 3) })),
      gemmShare: round(gemmUs / totalUs, 3),
      gemmGopsPerCoreSecond: round(((gopPerImage(config.model) - attentionGopPerImage(config.model)) * images) / ((gemmUs / 1e6) * threads)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Up to `count` real images, preprocessed as rsclip does; seeded pixels where ../shared is absent. */
async function benchImages(model: ModelDirectory, count: number): Promise<{ pixels: Float32Array[]; source: string }> {
  const size = 3 * model.preprocess.cropHeight * model.preprocess.cropWidth;
  if (existsSync(RSICD)) {
    const names = readdirSync(RSICD).filter((n) => n.endsWith('.jpg')).sort();
    const step = Math.max(1, Math.floor(names.length / count));
    const picked = Array.from({ length: Math.min(count, names.length) }, (_, i) => names[i * step]!);
    const pixels = await Promise.all(picked.map(async (n) => (await preprocessImage(path.join(RSICD, n), model.preprocess)).pixels));
    return { pixels, source: `${pixels.length} RSICD test images` };
  }
  return { pixels: Array.from({ length: count }, (_, j) => Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + j) * 1.5)), source: 'synthetic pixels (../shared is absent)' };
}

interface Config {
  label: string;
  dir: string;
  model: ModelDirectory;
  variant: ModelVariant;
  session: string;
  vision: OnnxSession;
  text: OnnxSession;
  wall: number[];
  cpu: number[];
  textMs: number[];
  embeds: Float32Array[];
}

async function embed(config: Config, pixels: Float32Array[]): Promise<Float32Array[]> {
  const size = pixels[0]!.length;
  const data = new Float32Array(pixels.length * size);
  pixels.forEach((p, i) => data.set(p, i * size));
  const side = Math.round(Math.sqrt(size / 3));
  const out = await config.vision.run({ pixel_values: { type: 'float32', data, dims: [pixels.length, 3, side, side] } }, 'image_embeds');
  return normalizeRows(out.data, pixels.length, config.model.config.projection_dim);
}

/** One timing round: images per second (wall) and per core-second (CPU time of every thread). */
async function timeImages(config: Config, input: Float32Array[]): Promise<void> {
  await embed(config, input);
  let runs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (runs < 2 || performance.now() - t0 < seconds * 1000) {
    await embed(config, input);
    runs++;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  config.wall.push((runs * input.length) / wall);
  config.cpu.push((runs * input.length) / ((cpu.user + cpu.system) / 1e6));
}

async function timeText(config: Config): Promise<void> {
  const text = config.model.config.text_config;
  const vocab = text.vocab_size ?? 49408;
  const ids = BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i === 0 ? (text.bos_token_id ?? vocab - 2) : i === 7 ? (text.eos_token_id ?? vocab - 1) : 300 + ((i * 37) % (vocab - 400))));
  const feeds = { input_ids: { type: 'int64' as const, data: ids, dims: [1, 8] }, attention_mask: { type: 'int64' as const, data: new BigInt64Array(8).fill(1n), dims: [1, 8] } };
  const run = () => config.text.run(config.text.hasInput('attention_mask') ? feeds : { input_ids: feeds.input_ids }, 'text_embeds');
  await run();
  let runs = 0;
  const t0 = performance.now();
  while (runs < 5 || performance.now() - t0 < 500) {
    await run();
    runs++;
  }
  config.textMs.push((performance.now() - t0) / runs);
}

function withGemmShareOfPeak(times: OperatorTimes, peak: number | undefined): OperatorTimes & { gemmShareOfPeak?: number } {
  return peak ? { ...times, gemmShareOfPeak: round(times.gemmGopsPerCoreSecond / peak, 3) } : times;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Number(x.toFixed(d));

async function main(): Promise<void> {
  const dirs = args.model!.split(',');
  const configs: Config[] = [];
  for (const dir of dirs) {
    for (const variant of args.variants!.split(',') as ModelVariant[]) {
      for (const session of args.sessions!.split(',')) {
        const model = openModelDirectory(dir, { variant });
        const options = { threads, ...SESSIONS[session] };
        const label = `${dirs.length > 1 ? `${path.basename(dir)} ` : ''}${variant}${session === 'default' ? '' : ` ${session}`}`;
        configs.push({ label, dir, model, variant, session, vision: await OnnxSession.open(model.onnx.vision, options), text: await OnnxSession.open(model.onnx.text, options), wall: [], cpu: [], textMs: [], embeds: [] });
      }
    }
  }
  const images = await benchImages(configs[0]!.model, Math.max(batch, 16));
  const input = Array.from({ length: batch }, (_, i) => images.pixels[i % images.pixels.length]!);
  for (let r = 0; r < rounds; r++) {
    for (const config of configs) {
      process.stderr.write(`bench/encoder: round ${r + 1}/${rounds}: ${config.label}\n`);
      await timeImages(config, input);
      await timeText(config);
    }
  }
  for (const config of configs) config.embeds = await embed(config, images.pixels);
  const reference = configs.find((c) => c.variant === 'fp32') ?? configs[0]!;
  const peaks: Peaks | undefined = args.peaks ? await measurePeaks(threads) : undefined;
  const instruction = peaks && 'fp32' in peaks.instruction ? peaks.instruction : undefined;
  const operators = new Map<Config, OperatorTimes>();
  if (args.ops) for (const config of configs) operators.set(config, await operatorTimes(config, input, rounds));
  const results = configs.map((config) => {
    const perCore = median(config.cpu);
    const gops = perCore * gopPerImage(config.model);
    const peakOf = instruction ? (config.variant === 'int8' ? instruction.int8 : instruction.fp32) : undefined;
    const peak = peakOf?.gopsPerCoreSecond;
    const cosines = config.embeds.map((e, i) => cosine(e, reference.embeds[i]!));
    return {
      config: config.label,
      model: config.dir,
      variant: config.variant,
      session: config.session,
      imagesPerSecond: round(median(config.wall)),
      imagesPerSecondRounds: config.wall.map((x) => round(x)),
      imagesPerCoreSecond: round(perCore, 2),
      imagesPerCoreSecondRounds: config.cpu.map((x) => round(x, 2)),
      gopsPerCoreSecond: round(gops),
      ...(peak ? { shareOfPeak: round(gops / peak, 3), peakKind: `${config.variant} (${peakOf!.isa})` } : {}),
      textMsPerQuery8Tokens: round(median(config.textMs), 2),
      cosineToReference: { min: round(Math.min(...cosines), 5), mean: round(cosines.reduce((a, b) => a + b, 0) / cosines.length, 5) },
      ...(operators.has(config) ? { operators: withGemmShareOfPeak(operators.get(config)!, peak) } : {}),
    };
  });
  for (const config of configs) await Promise.all([config.vision.close(), config.text.close()]);
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'encoder',
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        loadAverage1m: round(os.loadavg()[0]!, 2),
        threads,
        batch,
        rounds,
        images: images.source,
        gopPerImage: round(gopPerImage(configs[0]!.model), 2),
        reference: reference.label,
        ...(peaks ? { peaks } : {}),
        results,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
