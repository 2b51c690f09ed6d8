import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openClip, tokenizeTexts, type ClipEncoder } from '../../src/model/index.js';
import { ThreadedSession } from '../../src/model/session-thread.js';
import { tinyModelDir } from '../fixtures/model.js';
import { GOLDEN_DIR, describeShared, readF32 } from '../fixtures/shared.js';
import { expectRsclipError } from '../fixtures/errors.js';

function unit(v: Float32Array | number[]): Float32Array {
  const out = Float32Array.from(v);
  const n = Math.hypot(...out);
  return out.map((x) => x / n);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}


describe('openClip on a tiny model', () => {
  let encoder: ClipEncoder;
  let work: string;

  beforeAll(async () => {
    encoder = await openClip(await tinyModelDir(), { threads: 1 });
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-encoder-'));
  });
  afterAll(async () => {
    await encoder.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('returns one unit vector of embeddingDim per text, the same for the same text in any batch', async () => {
    const [a, b, c] = await encoder.embedTexts(['a stadium next to a river', 'dense residential area', 'a stadium next to a river']);
    for (const v of [a!, b!, c!]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(encoder.info.embeddingDim);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
    expect(maxAbsDiff(a!, c!)).toBeLessThan(1e-6);
    const [alone] = await encoder.embedTexts(['a stadium next to a river']);
    // padding to the longest text in a batch must not change a shorter text's embedding
    expect(maxAbsDiff(alone!, a!)).toBeLessThan(1e-5);
    expect(dot(a!, b!)).toBeLessThan(0.99999);
  });

  it('embeds pixels in batches larger than maxImageBatch identically to one by one', async () => {
    const small = await openClip(await tinyModelDir(), { threads: 1, maxImageBatch: 2 });
    try {
      const size = 3 * small.info.imageSize * small.info.imageSize;
      const images = [0.1, -0.5, 0.9].map((seed) => Float32Array.from({ length: size }, (_, i) => Math.sin(i * seed)));
      const batched = await small.embedPixels(images);
      expect(small.runCount.image).toBe(2);
      for (const [i, image] of images.entries()) {
        const [one] = await encoder.embedPixels([image]);
        expect(maxAbsDiff(one!, batched[i]!)).toBeLessThan(1e-5);
      }
    } finally {
      await small.close();
    }
  });

  it('embeds handed-over pixels as copied ones, batch after batch in the model thread, and moves them there', async () => {
    const size = 3 * encoder.info.imageSize * encoder.info.imageSize;
    const batches = [[0.2, 0.3], [0.7, -0.1], [0.4]].map((seeds) => seeds.map((seed) => Float32Array.from({ length: size }, (_, i) => Math.cos(i * seed))));
    const expected = await Promise.all(batches.map((batch) => encoder.embedPixels(batch)));
    // equal-sized batches reuse the model thread's batch buffer (the thread runs one batch at a time, in the order asked)
    const handed = await Promise.all(batches.map((batch) => encoder.embedPixels(batch.map((p) => p.slice()), { handOver: true })));
    const again = [];
    for (const batch of batches) again.push(await encoder.embedPixels(batch.map((p) => p.slice()), { handOver: true }));
    for (const [b, batch] of batches.entries()) {
      for (const i of batch.keys()) {
        expect(maxAbsDiff(handed[b]![i]!, expected[b]![i]!)).toBeLessThan(1e-6);
        expect(maxAbsDiff(again[b]![i]!, expected[b]![i]!)).toBeLessThan(1e-6);
      }
    }
    const moved = batches[0]!.map((p) => p.slice());
    await encoder.embedPixels(moved, { handOver: true });
    expect(moved.every((p) => p.length === 0)).toBe(true);
    const twice = batches[2]![0]!.slice();
    const [first, second] = await encoder.embedPixels([twice, twice], { handOver: true });
    expect(maxAbsDiff(first!, expected[2]![0]!)).toBeLessThan(1e-6);
    expect(maxAbsDiff(second!, expected[2]![0]!)).toBeLessThan(1e-6);
    expect(batches[0]!.every((p) => p.length === size)).toBe(true);
  });

  it('refuses an empty text list, an empty image list and wrong pixel sizes with BAD_INPUT', async () => {
    await expectRsclipError(encoder.embedTexts([]), 'BAD_INPUT', /no texts/);
    await expectRsclipError(encoder.embedImages([]), 'BAD_INPUT', /no images/);
    await expectRsclipError(encoder.embedPixels([new Float32Array(10)]), 'BAD_INPUT', /pixels length/);
  });

  it('reports a non-image file and a truncated JPEG as IMAGE_UNREADABLE naming the file', async () => {
    const text = path.join(work, 'notes.jpg');
    writeFileSync(text, 'this is not an image');
    await expectRsclipError(encoder.embedImages([text]), 'IMAGE_UNREADABLE', /notes\.jpg/);
    const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 37) % 256));
    const jpeg = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const truncated = path.join(work, 'truncated.jpg');
    writeFileSync(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await expectRsclipError(encoder.embedImages([truncated]), 'IMAGE_UNREADABLE', /truncated\.jpg/);
  });

  it('has a stable fingerprint that changes with the preprocessing config', async () => {
    const again = await openClip(await tinyModelDir());
    expect(again.info.fingerprint).toBe(encoder.info.fingerprint);
    await again.close();
    const copy = path.join(work, 'model-copy');
    cpSync(await tinyModelDir(), copy, { recursive: true });
    const pre = JSON.parse(readFileSync(path.join(copy, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(copy, 'preprocessor_config.json'), JSON.stringify({ ...pre, resample: 2 }));
    const changed = await openClip(copy);
    expect(changed.info.fingerprint).not.toBe(encoder.info.fingerprint);
    await changed.close();
  });

  it('reports the logit scale the exporter recorded in rsclip.json', () => {
    // the generator's logit_scale is CLIP's initial value, ln(1 / 0.07)
    expect(encoder.info.logitScale).toBeCloseTo(1 / 0.07, 3);
  });

  it('opens both towers with the onnxruntime options it was given: threads, and threads asleep between parallel sections', async () => {
    const opened = vi.spyOn(ThreadedSession, 'open');
    const e = await openClip(await tinyModelDir(), { threads: 1, spinning: false });
    try {
      await e.embedTexts(['a river']);
      await e.embedImages([await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } }).png().toBuffer()]);
      expect(opened.mock.calls.map(([file, options]) => [path.basename(file), options])).toEqual([
        ['text_model.onnx', { threads: 1, spinning: false }],
        ['vision_model.onnx', { threads: 1, spinning: false }],
      ]);
    } finally {
      opened.mockRestore();
      await e.close();
    }
  });

  it('runs batches side by side on as many vision sessions as asked, with the same vectors', async () => {
    const images = await Promise.all([0, 1, 2, 3].map((i) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 60 * i, g: 90, b: 200 - 40 * i } } }).png().toBuffer()));
    const pixels = await Promise.all(images.map(async (image) => (await encoder.preprocess(image)).pixels));
    const alone = await encoder.embedPixels(pixels);
    const opened = vi.spyOn(ThreadedSession, 'open');
    const runs = vi.spyOn(ThreadedSession.prototype, 'run');
    const e = await openClip(await tinyModelDir(), { threads: 1, visionSessions: 2 });
    try {
      const together = await Promise.all([e.embedPixels(pixels.slice(0, 2)), e.embedPixels(pixels.slice(2))]);
      expect(together.flat()).toEqual(alone);
      expect(e.visionSessions).toBe(2);
      expect(opened.mock.calls.map(([file, options]) => [path.basename(file), options])).toEqual([
        ['vision_model.onnx', { threads: 1 }],
        ['vision_model.onnx', { threads: 1 }],
      ]);
      // the second batch went to the session the first left free
      expect(new Set(runs.mock.contexts).size).toBe(2);
    } finally {
      opened.mockRestore();
      runs.mockRestore();
      await e.close();
    }
    await expect(openClip(await tinyModelDir(), { visionSessions: 0 })).rejects.toThrow(/visionSessions/);
  });

  it('fails after close', async () => {
    const e = await openClip(await tinyModelDir());
    await e.close();
    await expectRsclipError(e.embedTexts(['x']), 'BAD_INPUT', /closed/);
  });
});

describe('model directory errors', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-modeldir-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('a missing directory is MODEL_NOT_FOUND with a hint', async () => {
    await expectRsclipError(openClip(path.join(work, 'nope')), 'MODEL_NOT_FOUND', /model directory not found/);
  });

  it('a file where the directory belongs is named as such, and an ONNX file points at its folder', async () => {
    const onnx = path.join(work, 'vision_model.onnx');
    writeFileSync(onnx, 'not a model');
    const error = await openClip(onnx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEL_NOT_FOUND', message: `${onnx} is a file, not a model directory` });
    expect((error as { hint?: string }).hint).toContain(`(${work}?)`);
  });

  it.each([
    ['config.json', /no config\.json/],
    ['preprocessor_config.json', /no preprocessor_config\.json/],
    ['onnx/vision_model.onnx', /no onnx\/vision_model\.onnx/],
    ['onnx/text_model.onnx', /no onnx\/text_model\.onnx/],
  ])('a model directory without %s names the file', async (file, pattern) => {
    const dir = path.join(work, `missing-${file.replace(/\W/g, '_')}`);
    cpSync(await tinyModelDir(), dir, { recursive: true });
    rmSync(path.join(dir, file));
    await expectRsclipError(openClip(dir), 'MODEL_INVALID', pattern);
  });

  it('a malformed config.json and a missing variant are MODEL_INVALID', async () => {
    const dir = path.join(work, 'malformed');
    cpSync(await tinyModelDir(), dir, { recursive: true });
    await expectRsclipError(openClip(dir, { variant: 'fp16' }), 'MODEL_INVALID', /_fp16\.onnx/);
    writeFileSync(path.join(dir, 'config.json'), '{ "projection_dim": ');
    await expectRsclipError(openClip(dir), 'MODEL_INVALID', /config\.json is not valid JSON/);
    writeFileSync(path.join(dir, 'config.json'), '{ "model_type": "bert", "projection_dim": 16 }');
    await expectRsclipError(openClip(dir), 'MODEL_INVALID', /not a CLIP config/);
  });

  it('a corrupt ONNX file is MODEL_INVALID naming it', async () => {
    const dir = path.join(work, 'corrupt-onnx');
    cpSync(await tinyModelDir(), dir, { recursive: true });
    writeFileSync(path.join(dir, 'onnx/text_model.onnx'), 'garbage');
    const encoder = await openClip(dir);
    await expectRsclipError(encoder.embedTexts(['x']), 'MODEL_INVALID', /text_model\.onnx/);
    await encoder.close();
  });
});

describeShared('encoder against the Python reference (golden tiny-clip)', () => {
  const modelDir = path.join(GOLDEN_DIR, 'tiny-clip');
  let encoder: ClipEncoder;
  let manifest: { image_order: string[]; logit_scale: number };
  let textInputs: { texts: string[]; input_ids: number[][] };

  beforeAll(async () => {
    encoder = await openClip(modelDir, { threads: 1 });
    manifest = JSON.parse(await readFile(path.join(GOLDEN_DIR, 'manifest.json'), 'utf8')) as typeof manifest;
    textInputs = JSON.parse(await readFile(path.join(GOLDEN_DIR, 'embeds/text_inputs.json'), 'utf8')) as typeof textInputs;
  });
  afterAll(() => encoder.close());

  it('image embeddings from the golden pixels are within 1e-4 of the reference', async () => {
    const pixels = await Promise.all(manifest.image_order.map((name) => readF32(path.join(GOLDEN_DIR, 'pixels', `${name}.pil.f32`))));
    const ours = await encoder.embedPixels(pixels);
    for (const [i, name] of manifest.image_order.entries()) {
      const golden = unit(await readF32(path.join(GOLDEN_DIR, 'embeds', `image.${name}.f32`)));
      expect(maxAbsDiff(ours[i]!, golden), name).toBeLessThan(1e-4);
    }
  });

  it('text embeddings of the 100 golden texts are within 1e-4, and their ids are the golden ids', async () => {
    const ours = await encoder.embedTexts(textInputs.texts);
    const golden = await readF32(path.join(GOLDEN_DIR, 'embeds/text.f32'));
    const dim = encoder.info.embeddingDim;
    let worst = 0;
    for (let i = 0; i < textInputs.texts.length; i++) worst = Math.max(worst, maxAbsDiff(ours[i]!, unit(golden.subarray(i * dim, (i + 1) * dim))));
    expect(worst).toBeLessThan(1e-4);
    const ids = await tokenizeTexts(modelDir, textInputs.texts);
    for (const [i, golden] of textInputs.input_ids.entries()) {
      // golden ids are padded to 77 with the end token (49407): ours are the unpadded prefix
      const ours = ids[i]!;
      expect(ours).toEqual(golden.slice(0, ours.length));
      expect(golden.slice(ours.length).every((id) => id === 49407)).toBe(true);
    }
  });

  it('image embeddings through our own preprocessing have cosine >= 0.999 with the reference', async () => {
    const ours = await encoder.embedImages(manifest.image_order.map((name) => path.join(GOLDEN_DIR, 'images', name)));
    for (const [i, name] of manifest.image_order.entries()) {
      const golden = unit(await readF32(path.join(GOLDEN_DIR, 'embeds', `image.${name}.f32`)));
      expect(dot(ours[i]!, golden), name).toBeGreaterThanOrEqual(0.999);
    }
  });

  it('reproduces logits_per_image = logit_scale * cosine for 8 images x 8 texts', async () => {
    const pixels = await Promise.all(manifest.image_order.map((name) => readF32(path.join(GOLDEN_DIR, 'pixels', `${name}.pil.f32`))));
    const images = await encoder.embedPixels(pixels);
    const texts = await encoder.embedTexts(textInputs.texts.slice(0, 8));
    const golden = await readF32(path.join(GOLDEN_DIR, 'embeds/logits_per_image.f32'));
    // the golden directory has no rsclip.json, so the scale comes from the reference manifest
    expect(encoder.info.logitScale).toBeUndefined();
    const scale = manifest.logit_scale;
    for (let i = 0; i < 8; i++) {
      for (let t = 0; t < 8; t++) expect(Math.abs(scale * dot(images[i]!, texts[t]!) - golden[i * 8 + t]!)).toBeLessThan(1e-3);
    }
  });
});

