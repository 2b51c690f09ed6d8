/**
 * Exporting ../shared/golden/tiny-clip (a transformers CLIPModel with random weights) with
 * rsclip's own exporter must reproduce what PyTorch computed for it (golden embeds/) and
 * what the golden ONNX files compute, within 1e-5.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exportCheckpointDirectory } from '../../../src/model/export/index.js';
import { openModelDirectory } from '../../../src/model/model-dir.js';
import { OnnxSession } from '../../../src/model/onnx.js';
import { describeShared, readF32, sharedPath } from '../../fixtures/shared.js';

const IMAGES = ['stadium_1.jpg', 'big.jpg', 'wide.png', 'tall.jpg', 'small.png', 'gray.png', 'rgba.png', 'ucm_like.tif'];
const TOLERANCE = 1e-5;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

async function imageEmbeds(onnxFile: string): Promise<Float32Array> {
  const session = await OnnxSession.open(onnxFile, { threads: 1 });
  const pixels = new Float32Array(IMAGES.length * 3 * 224 * 224);
  for (const [i, name] of IMAGES.entries()) pixels.set(await readF32(sharedPath('golden/pixels', `${name}.pil.f32`)), i * 3 * 224 * 224);
  const out = await session.run({ pixel_values: { type: 'float32', data: pixels, dims: [IMAGES.length, 3, 224, 224] } }, 'image_embeds');
  await session.close();
  return out.data;
}

async function textEmbeds(onnxFile: string, withMask = true): Promise<Float32Array> {
  const { input_ids: ids } = JSON.parse(readFileSync(sharedPath('golden/embeds/text_inputs.json'), 'utf8')) as { input_ids: number[][] };
  const rows = ids.length;
  const cols = ids[0]!.length;
  const session = await OnnxSession.open(onnxFile, { threads: 1 });
  const feeds = {
    input_ids: { type: 'int64' as const, data: BigInt64Array.from(ids.flat().map((v) => BigInt(v))), dims: [rows, cols] },
    ...(withMask ? { attention_mask: { type: 'int64' as const, data: new BigInt64Array(rows * cols).fill(1n), dims: [rows, cols] } } : {}),
  };
  const out = await session.run(feeds, 'text_embeds');
  await session.close();
  return out.data;
}

async function goldenImageEmbeds(): Promise<Float32Array> {
  const all = new Float32Array(IMAGES.length * 16);
  for (const [i, name] of IMAGES.entries()) all.set(await readF32(sharedPath('golden/embeds', `image.${name}.f32`)), i * 16);
  return all;
}

describeShared('exporting golden tiny-clip', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'rsclip-export-golden-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** A checkpoint directory holding only `weights` (and the config/tokenizer/preprocessor files). */
  function checkpointWith(weights: string): string {
    const dir = path.join(work, `ckpt-${weights}`);
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', weights]) {
      cpSync(sharedPath('golden/tiny-clip', f), path.join(dir, f));
    }
    return dir;
  }

  for (const weights of ['model.safetensors', 'pytorch_model.bin']) {
    it(`from ${weights}: image and text embeddings within 1e-5 of PyTorch and of the golden ONNX files`, async () => {
      const out = path.join(work, `model-${weights}`);
      const result = await exportCheckpointDirectory(checkpointWith(weights), out);
      expect(result.files).toEqual(expect.arrayContaining(['onnx/vision_model.onnx', 'onnx/text_model.onnx', 'config.json', 'tokenizer.json', 'preprocessor_config.json', 'rsclip.json']));
      expect(result.logitScale).toBeCloseTo(14.2849, 3);
      const model = openModelDirectory(out);
      expect(model.config).toEqual(JSON.parse(readFileSync(sharedPath('golden/tiny-clip/config.json'), 'utf8')));

      const images = await imageEmbeds(model.onnx.vision);
      expect(maxAbsDiff(images, await goldenImageEmbeds())).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(images, await imageEmbeds(sharedPath('golden/tiny-clip/onnx/vision_model.onnx')))).toBeLessThanOrEqual(TOLERANCE);

      const texts = await textEmbeds(model.onnx.text);
      expect(maxAbsDiff(texts, await readF32(sharedPath('golden/embeds/text.f32')))).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(texts, await textEmbeds(sharedPath('golden/tiny-clip/onnx/text_model.onnx')))).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('leaves nothing behind when the export fails', async () => {
    const dir = checkpointWith('model.safetensors');
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vision_config: { hidden_size: number } };
    config.vision_config.hidden_size = 64;
    const { writeFileSync, readdirSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const out = path.join(work, 'broken');
    await expect(exportCheckpointDirectory(dir, out)).rejects.toThrow(/vision_model\.embeddings\.patch_embedding\.weight has shape \[48, 3, 32, 32\], expected \[64, 3, 32, 32\]/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((f) => f.startsWith('broken'))).toEqual([]);
  });
});
