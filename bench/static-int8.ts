/**
 * Static int8 with calibration on real images, measured against the dynamic int8 rsclip ships.
 * The exported int8 vision graph quantises each MatMul input per call (DynamicQuantizeMatMul:
 * a pass for min/max, then the int8 GEMM). Here the input ranges are calibrated once on RSICD
 * images (min/max per MatMul over the calibration set) and each node becomes QuantizeLinear
 * with those fixed ranges + MatMulIntegerToFloat (the same int8 GEMM without the range pass).
 * Reported: images per core-second of both graphs, timed interleaved, and the cosine of each to
 * the fp32 embeddings on held-out images (rsclip's bar: >= 0.999).
 *
 *   npx tsx bench/static-int8.ts --model DIR [--calibration 64] [--held-out 64] [--threads 2] [--rounds 3]
 * Needs ../shared (the RSICD test images).
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { floatTensor, MS_DOMAIN } from '../src/model/export/graph-builder.js';
import { decodeModel, encodeModel, OnnxDataType, type ModelProto, type NodeProto, type ValueInfoProto } from '../src/model/export/onnx-proto.js';
import { openModelDirectory, preprocessImage } from '../src/model/index.js';
import { OnnxSession } from '../src/model/onnx.js';
import { cosine, normalizeRows } from '../src/vector-math.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    calibration: { type: 'string', default: '64' },
    'held-out': { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
  },
});
if (!args.model) throw new Error('usage: npx tsx bench/static-int8.ts --model DIR');
const threads = Number(args.threads);
const RSICD = path.resolve(import.meta.dirname, '../../shared/datasets/rsicd-test/images');
const BATCH = 16;

async function images(from: number, count: number, step: number): Promise<Float32Array[]> {
  const model = openModelDirectory(args.model!, { variant: 'fp32' });
  const names = readdirSync(RSICD).filter((n) => n.endsWith('.jpg')).sort();
  return Promise.all(Array.from({ length: count }, (_, i) => preprocessImage(path.join(RSICD, names[(from + i * step) % names.length]!), model.preprocess).then((p) => p.pixels)));
}

async function run(session: OnnxSession, pixels: Float32Array[]): Promise<Float32Array> {
  const data = new Float32Array(pixels.length * pixels[0]!.length);
  pixels.forEach((p, i) => data.set(p, i * p.length));
  return (await session.run({ pixel_values: { type: 'float32', data, dims: [pixels.length, 3, 224, 224] } }, 'image_embeds')).data;
}

/** The ranges of every DynamicQuantizeMatMul input over the calibration images. */
async function calibrate(graph: ModelProto, dir: string, pixels: Float32Array[]): Promise<Map<string, { min: number; max: number }>> {
  const nodes = graph.graph.node.filter((n) => n.opType === 'DynamicQuantizeMatMul');
  const probe = structuredClone(graph);
  // outputs of unknown shape (valueInfo would declare a fixed rank)
  for (const node of nodes) probe.graph.output.push({ name: node.input[0]!, type: { tensorType: { elemType: OnnxDataType.FLOAT } } } as ValueInfoProto);
  const file = path.join(dir, 'probe.onnx');
  writeFileSync(file, encodeModel(probe));
  const session = await OnnxSession.open(file, { threads });
  const ranges = new Map<string, { min: number; max: number }>();
  const names = nodes.map((n) => n.input[0]!);
  for (let i = 0; i < pixels.length; i += BATCH) {
    const batch = pixels.slice(i, i + BATCH);
    const data = new Float32Array(batch.length * batch[0]!.length);
    batch.forEach((p, j) => data.set(p, j * p.length));
    const outputs = await session.runOutputs({ pixel_values: { type: 'float32', data, dims: [batch.length, 3, 224, 224] } }, names);
    for (const name of names) {
      const range = ranges.get(name) ?? { min: 0, max: 0 };
      for (const v of outputs[name]!.data) {
        if (v < range.min) range.min = v;
        if (v > range.max) range.max = v;
      }
      ranges.set(name, range);
    }
  }
  await session.close();
  return ranges;
}

/** The graph with each DynamicQuantizeMatMul replaced by QuantizeLinear (calibrated range) + MatMulIntegerToFloat. */
function staticGraph(graph: ModelProto, ranges: Map<string, { min: number; max: number }>): ModelProto {
  const out = structuredClone(graph);
  const nodes: NodeProto[] = [];
  for (const node of out.graph.node) {
    if (node.opType !== 'DynamicQuantizeMatMul') {
      nodes.push(node);
      continue;
    }
    const [x, w, scale, zero, bias] = node.input;
    const { min, max } = ranges.get(x!)!;
    const aScale = (max - min) / 255 || 1;
    const aZero = Math.max(0, Math.min(255, Math.round(-min / aScale)));
    const s = `${node.name}.a_scale`;
    const z = `${node.name}.a_zero_point`;
    out.graph.initializer.push(floatTensor(s, [], Float32Array.of(aScale)), { name: z, dims: [], dataType: OnnxDataType.UINT8, rawData: Uint8Array.of(aZero) });
    nodes.push({ input: [x!, s, z], output: [`${node.name}.xq`], name: `${node.name}.quantize`, opType: 'QuantizeLinear', attribute: [] });
    nodes.push({ input: [`${node.name}.xq`, w!, s, scale!, z, zero!, ...(bias ? [bias] : [])], output: node.output, name: node.name, opType: 'MatMulIntegerToFloat', domain: MS_DOMAIN, attribute: [] });
  }
  out.graph.node = nodes;
  return out;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-static-int8-'));
  try {
    const model = openModelDirectory(args.model!, { variant: 'int8' });
    const dynamicGraph = decodeModel(readFileSync(model.onnx.vision));
    const calibrationImages = await images(0, Number(args.calibration), 17);
    const heldOut = await images(8, Number(args['held-out']), 13);
    const ranges = await calibrate(dynamicGraph, work, calibrationImages);
    const staticFile = path.join(work, 'static.onnx');
    writeFileSync(staticFile, encodeModel(staticGraph(dynamicGraph, ranges)));
    const fp32 = await OnnxSession.open(openModelDirectory(args.model!, { variant: 'fp32' }).onnx.vision, { threads });
    const variants = [
      { name: 'dynamic int8', session: await OnnxSession.open(model.onnx.vision, { threads }), perCore: [] as number[] },
      { name: 'static int8 (calibrated)', session: await OnnxSession.open(staticFile, { threads }), perCore: [] as number[] },
    ];
    const dim = model.config.projection_dim;
    const reference: Float32Array[] = [];
    for (let i = 0; i < heldOut.length; i += BATCH) reference.push(...normalizeRows(await run(fp32, heldOut.slice(i, i + BATCH)), Math.min(BATCH, heldOut.length - i), dim));
    const input = heldOut.slice(0, BATCH * 2);
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const v of variants) {
        await run(v.session, input);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        let n = 0;
        while (n < 2 || performance.now() - t0 < Number(args.seconds) * 1000) {
          await run(v.session, input);
          n++;
        }
        const cpu = process.cpuUsage(cpu0);
        v.perCore.push((n * input.length) / ((cpu.user + cpu.system) / 1e6));
      }
    }
    const results = [];
    for (const v of variants) {
      const embeds: Float32Array[] = [];
      for (let i = 0; i < heldOut.length; i += BATCH) embeds.push(...normalizeRows(await run(v.session, heldOut.slice(i, i + BATCH)), Math.min(BATCH, heldOut.length - i), dim));
      const cos = embeds.map((e, i) => cosine(e, reference[i]!));
      results.push({ graph: v.name, imagesPerCoreSecondRounds: v.perCore.map((x) => Number(x.toFixed(2))), cosineToFp32: { min: Number(Math.min(...cos).toFixed(5)), mean: Number((cos.reduce((a, b) => a + b) / cos.length).toFixed(5)) } });
      await v.session.close();
    }
    await fp32.close();
    process.stdout.write(`${JSON.stringify({ bench: 'static-int8', model: args.model, threads, loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)), calibrationImages: calibrationImages.length, heldOutImages: heldOut.length, results }, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
