/**
 * int8 towers against fp32 on a mid-size random CLIP ('small': width 256, 4 layers per
 * tower); the full-size ViT-B/32 check (cosine >= 0.999 there) is in bench/fullsize-model.ts,
 * whose export alone takes minutes on two shared cores.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizePerColumn, WEIGHT_LEVELS } from '../../../src/model/export/quantize.js';
import { writeRandomClipModel } from '../../../src/model/export/index.js';
import { openModelDirectory } from '../../../src/model/model-dir.js';
import { OnnxSession } from '../../../src/model/onnx.js';
import { hasShared, readF32, sharedPath } from '../../fixtures/shared.js';

const GOLDEN_IMAGES = ['stadium_1.jpg', 'big.jpg', 'wide.png', 'tall.jpg', 'small.png', 'gray.png', 'rgba.png', 'ucm_like.tif'];
const PIXELS = 3 * 224 * 224;

/** The 8 golden pixel arrays, or pseudo-random pixels of the same range without ../shared. */
async function eightImages(): Promise<Float32Array> {
  const data = new Float32Array(8 * PIXELS);
  if (hasShared) {
    for (const [i, name] of GOLDEN_IMAGES.entries()) data.set(await readF32(sharedPath('golden/pixels', `${name}.pil.f32`)), i * PIXELS);
    return data;
  }
  let s = 3;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return data;
}

function cosines(a: Float32Array, b: Float32Array, dim: number): number[] {
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
    out.push(dot / Math.sqrt(na * nb));
  }
  return out;
}

describe('quantizePerColumn', () => {
  it('maps each column max to ±63 (7 bits: no 16-bit saturation on CPUs without VNNI) and rounds the rest within half a step', () => {
    const w = Float32Array.from([0.5, -2, 0.2, 0.9, -0.1, 0.5]); // [3, 2]
    const q = quantizePerColumn(w, 3, 2);
    expect(WEIGHT_LEVELS).toBe(63);
    expect([...q.scales]).toEqual([Math.fround(0.5 / 63), Math.fround(2 / 63)]);
    expect([...q.values]).toEqual([63, -63, 25, 28, -13, 16]);
    for (let i = 0; i < w.length; i++) expect(Math.abs(q.values[i]! * q.scales[i % 2]! - w[i]!)).toBeLessThanOrEqual(q.scales[i % 2]! / 2 + 1e-7);
  });

  it('gives an all-zero column a usable scale', () => {
    const q = quantizePerColumn(new Float32Array(4), 2, 2);
    expect([...q.scales]).toEqual([1, 1]);
    expect([...q.values]).toEqual([0, 0, 0, 0]);
  });
});

describe('int8 towers of a mid-size random CLIP', () => {
  let work: string;
  let dir: string;
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'rsclip-int8-'));
    dir = await writeRandomClipModel(path.join(work, 'small'), { size: 'small', seed: 3, quantize: 'int8', writeCheckpoint: false });
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(`image embeddings have cosine >= 0.99 with fp32 on 8 ${hasShared ? 'golden pixel arrays' : 'pseudo-random pixel arrays'}, and the int8 file is much smaller`, async () => {
    const model = openModelDirectory(dir, { variant: 'int8' });
    const pixels = await eightImages();
    const run = async (file: string): Promise<Float32Array> => {
      const s = await OnnxSession.open(file, { threads: 1 });
      const out = await s.run({ pixel_values: { type: 'float32', data: pixels, dims: [8, 3, 224, 224] } }, 'image_embeds');
      await s.close();
      return out.data;
    };
    const c = cosines(await run(model.onnx.vision), await run(path.join(dir, 'onnx/vision_model.onnx')), model.config.projection_dim);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(0.99);
    const size = (f: string): number => readFileSync(f).length;
    expect(size(model.onnx.vision)).toBeLessThan(size(path.join(dir, 'onnx/vision_model.onnx')) / 2);
  });

  it('text embeddings have cosine >= 0.99 with fp32', async () => {
    const model = openModelDirectory(dir, { variant: 'int8' });
    const bos = model.config.text_config.bos_token_id!;
    const eos = model.config.text_config.eos_token_id!;
    const rows = [5, 20, 77].map((n) => Array.from({ length: 77 }, (_, i) => (i === 0 ? bos : i >= n - 1 ? eos : 260 + ((i * 31) % 300))));
    const run = async (file: string): Promise<Float32Array> => {
      const s = await OnnxSession.open(file, { threads: 1 });
      const dims = [rows.length, 77];
      const out = await s.run({
        input_ids: { type: 'int64', data: BigInt64Array.from(rows.flat().map((v) => BigInt(v))), dims },
        attention_mask: { type: 'int64', data: new BigInt64Array(rows.length * 77).fill(1n), dims },
      }, 'text_embeds');
      await s.close();
      return out.data;
    };
    expect(existsSync(model.onnx.text)).toBe(true);
    const c = cosines(await run(model.onnx.text), await run(path.join(dir, 'onnx/text_model.onnx')), model.config.projection_dim);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(0.99);
  });
});
