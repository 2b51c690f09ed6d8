import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../src/model/checkpoint/safetensors.js';
import { RANDOM_CLIP_SIZES, decodeModel, exportClip, exportCheckpointDirectory, writeRandomClipModel } from '../../../src/model/export/index.js';
import { openModelDirectory, type ClipConfig } from '../../../src/model/model-dir.js';
import { OnnxSession } from '../../../src/model/onnx.js';
import { tinyModelDir } from '../../fixtures/model.js';

async function runText(file: string, ids: number[][], mask?: number[][]): Promise<Float32Array> {
  const session = await OnnxSession.open(file, { threads: 1 });
  const dims = [ids.length, ids[0]!.length];
  const out = await session.run({
    input_ids: { type: 'int64', data: BigInt64Array.from(ids.flat().map((v) => BigInt(v))), dims },
    attention_mask: { type: 'int64', data: BigInt64Array.from((mask ?? ids.map((r) => r.map(() => 1))).flat().map((v) => BigInt(v))), dims },
  }, 'text_embeds');
  await session.close();
  return out.data;
}

async function runVision(file: string, pixels: Float32Array, batch: number): Promise<Float32Array> {
  const session = await OnnxSession.open(file, { threads: 1 });
  const out = await session.run({ pixel_values: { type: 'float32', data: pixels, dims: [batch, 3, 224, 224] } }, 'image_embeds');
  await session.close();
  return out.data;
}

function pseudoRandomPixels(count: number, seed: number): Float32Array {
  const data = new Float32Array(count * 3 * 224 * 224);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return data;
}

function expectClose(a: Float32Array, b: Float32Array, tolerance: number): void {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  expect(max).toBeLessThanOrEqual(tolerance);
}

describe('writeRandomClipModel', () => {
  let work: string;
  let model: string;
  let config: ClipConfig;
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'rsclip-random-model-'));
    model = await tinyModelDir();
    config = openModelDirectory(model).config;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes a complete model directory with fp32 and int8 towers, a BPE vocabulary matching vocab_size and the logit scale', () => {
    const dir = openModelDirectory(model, { variant: 'int8' });
    expect(dir.availableVariants).toEqual(['fp32', 'int8']);
    expect(dir.tokenizer.kind).toBe('bpe');
    const vocab = JSON.parse(readFileSync(path.join(model, 'vocab.json'), 'utf8')) as Record<string, number>;
    const ids = Object.values(vocab).sort((a, b) => a - b);
    expect(ids).toEqual(ids.map((_, i) => i));
    expect(config.text_config.vocab_size).toBe(ids.length);
    expect(vocab['<|endoftext|>']).toBe(config.text_config.eos_token_id);
    expect(vocab['<|startoftext|>']).toBe(config.text_config.bos_token_id);
    const merges = readFileSync(path.join(model, 'merges.txt'), 'utf8').trim().split('\n');
    expect(merges[0]).toBe('#version: 0.2');
    expect(ids.length).toBe(512 + (merges.length - 1) + 2);
    expect(config.vision_config).toMatchObject({ hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 4, image_size: 224, patch_size: 32 });
    expect(config.text_config).toMatchObject({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 77 });
    expect(config.projection_dim).toBe(16);
    const settings = JSON.parse(readFileSync(path.join(model, 'rsclip.json'), 'utf8')) as { logitScale: number };
    expect(settings.logitScale).toBeCloseTo(1 / 0.07, 4);
  });

  it('writes ONNX graphs with opset 17, dynamic batch and sequence axes, and int8 MatMul weights in the quantised variant', () => {
    const text = decodeModel(readFileSync(path.join(model, 'onnx/text_model.onnx')));
    expect(text.opsetImport).toContainEqual({ domain: '', version: 17 });
    const dims = text.graph.input.map((i) => i.type.tensorType.shape.dim.map((d) => ('dimParam' in d && d.dimParam ? d.dimParam : (d as { dimValue: number }).dimValue)));
    expect(text.graph.input.map((i) => i.name)).toEqual(['input_ids', 'attention_mask']);
    expect(dims).toEqual([['batch_size', 'sequence_length'], ['batch_size', 'sequence_length']]);
    expect(text.graph.output.map((o) => o.name)).toEqual(['text_embeds']);
    const q = decodeModel(readFileSync(path.join(model, 'onnx/vision_model_quantized.onnx')));
    const ops = q.graph.node.map((n) => n.opType);
    // per layer: out_proj, fc1, fc2 (q, k and v are QAttention's); plus the patch embedding and the projection
    expect(ops.filter((o) => o === 'DynamicQuantizeMatMul')).toHaveLength(2 * 3 + 2);
    expect(ops.filter((o) => o === 'QAttention')).toHaveLength(2);
    expect(ops).not.toContain('MultiHeadAttention');
    expect(ops).not.toContain('Conv');
    const floatMatMulWeights = q.graph.node.filter((n) => n.opType === 'MatMul' && q.graph.initializer.some((t) => n.input.includes(t.name)));
    expect(floatMatMulWeights).toEqual([]);
    // QuickGELU as SiLU of fc1's scaled product: each layer's Sigmoid reads that product itself
    const producer = new Map(q.graph.node.flatMap((n) => n.output.map((o) => [o, n.opType] as const)));
    expect(q.graph.node.filter((n) => n.opType === 'Sigmoid').map((n) => producer.get(n.input[0]!))).toEqual(['DynamicQuantizeMatMul', 'DynamicQuantizeMatMul']);
    // the text tower's attention is causal QAttention, and no mask is built for it
    const textNodes = decodeModel(readFileSync(path.join(model, 'onnx/text_model_quantized.onnx'))).graph.node;
    const textOps = textNodes.map((n) => n.opType);
    expect(textOps.filter((o) => o === 'DynamicQuantizeMatMul')).toHaveLength(2 * 3 + 1);
    const causality = (nodes: typeof textNodes) => nodes.filter((n) => n.opType === 'QAttention').map((n) => n.attribute.find((a) => a.name === 'unidirectional')?.i);
    expect(causality(textNodes)).toEqual([1, 1]);
    expect(causality(q.graph.node)).toEqual([0, 0]);
    expect(textOps).not.toContain('MultiHeadAttention');
    expect(textOps).not.toContain('Where');
  });

  it('is deterministic for a seed and different for another seed', async () => {
    const again = await writeRandomClipModel(path.join(work, 'seed0'), { size: 'tiny', seed: 0 });
    const other = await writeRandomClipModel(path.join(work, 'seed1'), { size: 'tiny', seed: 1 });
    expect(readFileSync(path.join(again, 'onnx/vision_model.onnx'))).toEqual(readFileSync(path.join(model, 'onnx/vision_model.onnx')));
    expect(readFileSync(path.join(other, 'model.safetensors'))).not.toEqual(readFileSync(path.join(again, 'model.safetensors')));
  });

  it('refuses to replace an existing directory unless asked', async () => {
    await expect(writeRandomClipModel(path.join(work, 'seed0'), { size: 'tiny' })).rejects.toThrow(/already exists/);
    await expect(writeRandomClipModel(path.join(work, 'bad'), { size: { ...RANDOM_CLIP_SIZES.tiny, projectionDim: 0 } })).rejects.toThrow(/Expected positive integer for projectionDim but received 0/);
    expect(existsSync(path.join(work, 'bad'))).toBe(false);
  });

  it('re-exports from its own model.safetensors to the same graphs (the directory doubles as a checkpoint)', async () => {
    const out = path.join(work, 're-export');
    await exportCheckpointDirectory(model, out);
    expect(readFileSync(path.join(out, 'onnx/text_model.onnx'))).toEqual(readFileSync(path.join(model, 'onnx/text_model.onnx')));
    expect(readFileSync(path.join(out, 'config.json'), 'utf8')).toBe(readFileSync(path.join(model, 'config.json'), 'utf8'));
  });

  it('gives embeddings that depend on the image, with dynamic batch: a batch equals its images one by one', async () => {
    const pixels = pseudoRandomPixels(3, 7);
    const batch = await runVision(path.join(model, 'onnx/vision_model.onnx'), pixels, 3);
    const second = await runVision(path.join(model, 'onnx/vision_model.onnx'), pixels.subarray(3 * 224 * 224, 2 * 3 * 224 * 224), 1);
    expectClose(batch.subarray(16, 32), second, 1e-5);
    expect(Math.abs(batch[0]! - batch[16]!)).toBeGreaterThan(1e-4);
  });

  it('pools the text at the first end token; padding (masked or not) does not change the embedding', async () => {
    const eos = config.text_config.eos_token_id!;
    const bos = config.text_config.bos_token_id!;
    const file = path.join(model, 'onnx/text_model.onnx');
    const short = await runText(file, [[bos, 300, 301, eos]]);
    const padded = await runText(file, [[bos, 300, 301, eos, eos, eos], [bos, 302, eos, eos, eos, eos]], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]]);
    const paddedUnmasked = await runText(file, [[bos, 300, 301, eos, eos, eos]]);
    expectClose(padded.subarray(0, 16), short, 1e-5);
    expectClose(paddedUnmasked, short, 1e-5);
    expect(Math.abs(padded[0]! - padded[16]!)).toBeGreaterThan(1e-5);
  });

  it('exports a 2021-era config (tower values in *_config_dict, no eos_token_id) as transformers resolves it', async () => {
    const old = path.join(work, 'old-config');
    cpSync(model, old, { recursive: true });
    const pick = (c: Record<string, unknown>, keys: string[]): Record<string, unknown> => Object.fromEntries(keys.map((k) => [k, c[k]]));
    const text = pick(config.text_config, ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'vocab_size']);
    const vision = pick(config.vision_config, ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'image_size', 'patch_size']);
    writeFileSync(path.join(old, 'config.json'), JSON.stringify({ model_type: 'clip', projection_dim: 16, text_config: {}, vision_config: {}, text_config_dict: text, vision_config_dict: vision }));
    const out = path.join(work, 'old-config-export');
    await exportCheckpointDirectory(old, out);
    const bos = config.text_config.bos_token_id!;
    const eos = config.text_config.eos_token_id!;
    // eos_token_id defaults to 2 (argmax pooling), which finds the end token when it is the largest id.
    expectClose(await runText(path.join(out, 'onnx/text_model.onnx'), [[bos, 300, eos, eos]]), await runText(path.join(model, 'onnx/text_model.onnx'), [[bos, 300, eos, eos]]), 1e-6);
  });

  it('pools at argmax(input_ids) for legacy configs with eos_token_id 2', async () => {
    const tensors = await readSafetensors(path.join(model, 'model.safetensors'));
    const legacy: ClipConfig = { ...config, text_config: { ...config.text_config, eos_token_id: 2 } };
    const dir = path.join(work, 'legacy');
    await exportClip({ config: legacy, tensors, outDir: dir });
    const bos = config.text_config.bos_token_id!;
    const eos = config.text_config.eos_token_id!;
    const file = path.join(dir, 'onnx/text_model.onnx');
    // The largest id is the end token, so argmax finds it like the eos search does...
    expectClose(await runText(file, [[bos, 300, eos, eos]]), await runText(path.join(model, 'onnx/text_model.onnx'), [[bos, 300, eos, eos]]), 1e-6);
    // ...but without an end token argmax picks the start token (the largest id, here at position 1),
    // while the eos search finds none and pools position 0, as transformers does.
    const noEnd = [[300, bos, 301]];
    expectClose(await runText(file, noEnd), await runText(file, [[300, bos]]), 1e-6);
    expectClose(await runText(path.join(model, 'onnx/text_model.onnx'), noEnd), await runText(path.join(model, 'onnx/text_model.onnx'), [[300]]), 1e-6);
  });
});
