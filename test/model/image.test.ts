import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { createThumbnail, decodeRgb8, preprocessImage, preprocessQueryImage, preprocessRgb, readImageInfo, shortestEdgeSize } from '../../src/model/image.js';
import { parsePreprocessConfig } from '../../src/model/model-dir.js';
import { filterFromPilId, resizeRaster, type FixedPointArithmetic, type Raster8 } from '../../src/model/resample.js';
import { describeShared, readF32, sharedPath } from '../fixtures/shared.js';

const clipConfig = parsePreprocessConfig({});
const tmp = mkdtempSync(path.join(os.tmpdir(), 'rsclip-image-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function raw(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4) {
  return sharp(Buffer.from(data), { raw: { width, height, channels } });
}

/** A baseline uncompressed little-endian TIFF with any band count and 8 or 16 bits (sharp cannot write >4 bands). */
function encodeTiff(samples: Uint8Array | Uint16Array, width: number, height: number, bands: number): Buffer {
  const bits = samples instanceof Uint16Array ? 16 : 8;
  const pixelBytes = samples.length * (bits / 8);
  const entries: [tag: number, type: 3 | 4, values: number[]][] = [
    [256, 4, [width]],
    [257, 4, [height]],
    [258, 3, Array<number>(bands).fill(bits)],
    [259, 3, [1]],
    [262, 3, [bands >= 3 ? 2 : 1]],
    [273, 4, [0]],
    [277, 3, [bands]],
    [278, 4, [height]],
    [279, 4, [pixelBytes]],
    [284, 3, [1]],
  ];
  const extra = bands - (bands >= 3 ? 3 : 1);
  if (extra > 0) entries.push([338, 3, Array<number>(extra).fill(0)]);
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  let overflow = ifdOffset + ifdSize;
  const overflowParts: Buffer[] = [];
  const ifd = Buffer.alloc(ifdSize);
  ifd.writeUInt16LE(entries.length, 0);
  const pixelOffset = overflow + entries.reduce((n, [, type, values]) => n + (values.length * (type === 3 ? 2 : 4) > 4 ? values.length * (type === 3 ? 2 : 4) : 0), 0);
  entries.forEach(([tag, type, values], i) => {
    const at = 2 + i * 12;
    const size = type === 3 ? 2 : 4;
    const vals = tag === 273 ? [pixelOffset] : values;
    ifd.writeUInt16LE(tag, at);
    ifd.writeUInt16LE(type, at + 2);
    ifd.writeUInt32LE(vals.length, at + 4);
    const payload = Buffer.alloc(vals.length * size);
    vals.forEach((v, j) => (size === 2 ? payload.writeUInt16LE(v, j * 2) : payload.writeUInt32LE(v, j * 4)));
    if (payload.length <= 4) payload.copy(ifd, at + 8);
    else {
      ifd.writeUInt32LE(overflow, at + 8);
      overflowParts.push(payload);
      overflow += payload.length;
    }
  });
  const header = Buffer.from([0x49, 0x49, 42, 0, ifdOffset, 0, 0, 0]);
  const pixels = Buffer.from(samples.buffer, samples.byteOffset, pixelBytes);
  return Buffer.concat([header, ifd, ...overflowParts, pixels]);
}

async function expectCode(promise: Promise<unknown>, code: RsclipError['code'], pattern?: RegExp): Promise<RsclipError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RsclipError);
  const typed = error as RsclipError;
  expect(typed.code).toBe(code);
  if (pattern) expect(typed.message).toMatch(pattern);
  return typed;
}

function pixelAt(img: Raster8, x: number, y: number): number[] {
  const s = (y * img.width + x) * img.channels;
  return Array.from(img.data.subarray(s, s + img.channels));
}

describe('resizeRaster', () => {
  const arithmetics: FixedPointArithmetic[] = ['pillow', 'torchvision'];

  it.each(arithmetics)('downscales a step edge 2x to the values derived by hand from Pillow\'s bicubic (%s)', (arithmetic) => {
    // Output 1 of 8 -> 4: centre 3, support 4, taps x = 0..6 at (x - 2.5) / 2, weights
    // [-0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375] / 2.0234375;
    // the 255s sit at x = 4..6: 255 * 0.1328125 / 2.0234375 = 16.74 -> 17. Output 0: the taps over
    // the 255s sum to -0.09375 -> clipped to 0; output 3 overshoots to 258.2 -> clipped to 255.
    const row = Uint8Array.from([0, 0, 0, 0, 255, 255, 255, 255]);
    const horizontal = resizeRaster({ data: row, width: 8, height: 1, channels: 1 }, 4, 1, 'bicubic', arithmetic);
    expect(Array.from(horizontal.data)).toEqual([0, 17, 238, 255]);
    const vertical = resizeRaster({ data: row, width: 1, height: 8, channels: 1 }, 1, 4, 'bicubic', arithmetic);
    expect(Array.from(vertical.data)).toEqual([0, 17, 238, 255]);
  });

  it.each(['bicubic', 'bilinear', 'lanczos', 'box', 'hamming', 'nearest'] as const)('keeps a constant image constant up and down (%s)', (filter) => {
    const src: Raster8 = { data: new Uint8Array(37 * 23 * 3).fill(173), width: 37, height: 23, channels: 3 };
    for (const [w, h] of [[11, 7], [100, 61], [37, 5], [3, 23]] as const) {
      const out = resizeRaster(src, w, h, filter, 'torchvision');
      expect(out.width * out.height * 3).toBe(out.data.length);
      expect(out.data.every((v) => v === 173)).toBe(true);
    }
  });

  it('returns the input itself when the size is unchanged, and rejects a zero size', () => {
    const src: Raster8 = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 };
    expect(resizeRaster(src, 2, 2, 'bicubic', 'pillow')).toBe(src);
    expect(() => resizeRaster(src, 0, 2, 'bicubic', 'pillow')).toThrow(/positive integer/);
  });

  it('maps PIL resample ids to filters', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(filterFromPilId)).toEqual(['nearest', 'lanczos', 'bilinear', 'bicubic', 'box', 'hamming', undefined]);
  });
});

describe('preprocessing geometry', () => {
  it('sizes the shortest side as get_resize_output_image_size (long side truncated)', () => {
    expect(shortestEdgeSize(1500, 2000, 224)).toEqual({ height: 224, width: 298 });
    expect(shortestEdgeSize(800, 300, 224)).toEqual({ height: 597, width: 224 });
    expect(shortestEdgeSize(30, 50, 224)).toEqual({ height: 224, width: 373 });
  });

  it('centre-crops with floor offsets and pads with zero pixels when the crop is larger', () => {
    const cfg = { ...clipConfig, doResize: false, doRescale: false, doNormalize: false, cropHeight: 3, cropWidth: 3 };
    // 4x2 image, values = column index * 10 + row; crop 3x3: top = floor(-1/2) = -1, left = floor(1/2) = 0.
    const data = new Uint8Array(4 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) data.fill(x * 10 + y, (y * 4 + x) * 3, (y * 4 + x + 1) * 3);
    const out = preprocessRgb({ data, width: 4, height: 2, channels: 3 }, cfg);
    expect(Array.from(out.subarray(0, 9))).toEqual([0, 0, 0, 0, 10, 20, 1, 11, 21]);
  });

  it('reads the first three channels of an image with alpha or extra bands, resized or not, as of its RGB', async () => {
    const noise = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) >>> 24);
    const bands = 5;
    const multiBand = encodeTiff(noise(230 * 224 * bands, 3), 230, 224, bands);
    // 224 px on the short side: cropped as decoded; larger: the alpha is dropped before the resize
    for (const image of [await raw(noise(224 * 224 * 4, 1), 224, 224, 4).png().toBuffer(), await raw(noise(301 * 257 * 4, 2), 301, 257, 4).png().toBuffer(), multiBand]) {
      const fromRgb = preprocessRgb((await decodeRgb8(image)).rgb, clipConfig);
      expect(Buffer.from((await preprocessImage(image, clipConfig)).pixels.buffer).equals(Buffer.from(fromRgb.buffer))).toBe(true);
    }
    expect(() => preprocessRgb({ data: new Uint8Array(4), width: 2, height: 2, channels: 1 }, clipConfig)).toThrow(/3 channels or more, not 1/);
  });

  it('resizes only the centre crop of an elongated image, to the pixels of the whole resize cropped', () => {
    const noise = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) >>> 24);
    const table = { ...clipConfig, doRescale: false, doNormalize: false };
    for (const [width, height] of [[1500, 5], [3, 900], [700, 301]] as const) {
      const rgb: Raster8 = { data: noise(width * height * 3, width), width, height, channels: 3 };
      const size = shortestEdgeSize(height, width, 224);
      const whole = resizeRaster(rgb, size.width, size.height, 'bicubic', 'torchvision');
      const expected = preprocessRgb(whole, { ...table, doResize: false });
      expect(Buffer.from(preprocessRgb(rgb, table).buffer).equals(Buffer.from(expected.buffer)), `${width}x${height}`).toBe(true);
    }
    // 60,000 x 2: the whole resize would be 6,720,000 x 224 (4.5 GB, more than a typed array holds)
    const strip: Raster8 = { data: noise(60_000 * 2 * 3, 1), width: 60_000, height: 2, channels: 3 };
    const started = performance.now();
    const pixels = preprocessRgb(strip, clipConfig);
    expect(pixels.length).toBe(3 * 224 * 224);
    expect(performance.now() - started).toBeLessThan(5000);
    // a model that does not crop asks for all of it: refused with a reason, not a RangeError
    expect(() => preprocessRgb(strip, { ...clipConfig, doCenterCrop: false })).toThrow(/60000x2 image resized to 6720000x224 is too large a model input/);
  });

  it('writes channel-first normalised float32 values', () => {
    const rgb: Raster8 = { data: Uint8Array.from([255, 0, 128]), width: 1, height: 1, channels: 3 };
    const out = preprocessRgb(rgb, { ...clipConfig, doResize: false, cropHeight: 1, cropWidth: 1 });
    expect(out.length).toBe(3);
    expect(out[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
    expect(out[1]).toBeCloseTo((0 - 0.4578275) / 0.26130258, 5);
    expect(out[2]).toBeCloseTo((128 / 255 - 0.40821073) / 0.27577711, 5);
  });
});

describe('decoding to RGB', () => {
  it('expands grayscale to three equal channels', async () => {
    const grey = Uint8Array.from({ length: 16 }, (_, i) => i * 16);
    const png = await raw(grey, 4, 4, 1).png().toBuffer();
    const { rgb, format } = await decodeRgb8(png);
    expect(format).toBe('png');
    expect(rgb.channels).toBe(3);
    for (let i = 0; i < 16; i++) expect(pixelAt(rgb, i % 4, Math.floor(i / 4))).toEqual([i * 16, i * 16, i * 16]);
  });

  it('drops alpha without compositing (a fully transparent pixel keeps its RGB)', async () => {
    const rgba = Uint8Array.from([10, 20, 30, 0, 200, 100, 50, 128, 1, 2, 3, 255, 0, 0, 0, 0]);
    const png = await raw(rgba, 2, 2, 4).png().toBuffer();
    const { rgb } = await decodeRgb8(png);
    expect(Array.from(rgb.data)).toEqual([10, 20, 30, 200, 100, 50, 1, 2, 3, 0, 0, 0]);
    const greyAlpha = await raw(Uint8Array.from([77, 0, 90, 255]), 2, 1, 2).png().toBuffer();
    expect(Array.from((await decodeRgb8(greyAlpha)).rgb.data)).toEqual([77, 77, 77, 90, 90, 90]);
  });

  it('scales 16-bit PNG and TIFF over the full range by the high byte (65535 -> 255, not clipped)', async () => {
    const values = Uint16Array.from([0, 256, 65535, 1000, 32768, 65280, 255, 40000]);
    const expected = Array.from(values, (v) => v >> 8);
    const png16 = await sharp(values, { raw: { width: 4, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    expect((await readImageInfo(png16)).bitDepth).toBe(16);
    const fromPng = (await decodeRgb8(png16)).rgb;
    expect(Array.from({ length: 8 }, (_, i) => pixelAt(fromPng, i % 4, Math.floor(i / 4))[0])).toEqual(expected);

    const rgb16 = new Uint16Array(8 * 3);
    values.forEach((v, i) => rgb16.set([v, 65535 - v, v], i * 3));
    const tif16 = encodeTiff(rgb16, 4, 2, 3);
    expect(await readImageInfo(tif16)).toEqual({ width: 4, height: 2, format: 'tiff', bands: 3, bitDepth: 16 });
    const fromTiff = (await decodeRgb8(tif16)).rgb;
    for (let i = 0; i < 8; i++) expect(pixelAt(fromTiff, i % 4, Math.floor(i / 4))).toEqual([values[i]! >> 8, (65535 - values[i]!) >> 8, values[i]! >> 8]);
  });

  it('keeps the first three bands of a multi-band TIFF', async () => {
    const bands = 6;
    const samples = Uint8Array.from({ length: 3 * 2 * bands }, (_, i) => (i % bands) * 40 + Math.floor(i / bands));
    const tif = encodeTiff(samples, 3, 2, bands);
    expect((await readImageInfo(tif)).bands).toBe(bands);
    const { rgb } = await decodeRgb8(tif);
    expect(pixelAt(rgb, 0, 0)).toEqual([0, 40, 80]);
    expect(pixelAt(rgb, 2, 1)).toEqual([5, 45, 85]);

    const samples16 = Uint16Array.from({ length: 2 * 2 * 5 }, (_, i) => [1000, 40000, 65535, 7, 7][i % 5]!);
    const tif16 = encodeTiff(samples16, 2, 2, 5);
    expect(await readImageInfo(tif16)).toEqual({ width: 2, height: 2, format: 'tiff', bands: 5, bitDepth: 16 });
    expect(pixelAt((await decodeRgb8(tif16)).rgb, 1, 1)).toEqual([3, 156, 255]);
  });

  it('decodes WebP and the first frame of a GIF', async () => {
    const colour = new Uint8Array(8 * 8 * 3).fill(0).map((_, i) => [200, 40, 90][i % 3]!);
    const webp = await raw(colour, 8, 8, 3).webp({ lossless: true }).toBuffer();
    const fromWebp = await decodeRgb8(webp);
    expect(fromWebp.format).toBe('webp');
    expect(pixelAt(fromWebp.rgb, 3, 3)).toEqual([200, 40, 90]);
    const gif = await raw(colour, 8, 8, 3).gif().toBuffer();
    const fromGif = await preprocessImage(gif, clipConfig);
    expect(fromGif.format).toBe('gif');
    expect(fromGif.pixels.length).toBe(3 * 224 * 224);

    const frames = Uint8Array.from({ length: 4 * 8 * 3 }, (_, i) => (i < 4 * 4 * 3 ? [255, 0, 0] : [0, 0, 255])[i % 3]!);
    const animated = await sharp(Buffer.from(frames), { raw: { width: 4, height: 8, channels: 3, pageHeight: 4 } }).gif().toBuffer();
    expect((await sharp(animated, { pages: -1 }).metadata()).pages).toBe(2);
    const first = await decodeRgb8(animated);
    expect([first.rgb.width, first.rgb.height]).toEqual([4, 4]);
    expect(pixelAt(first.rgb, 2, 2)).toEqual([255, 0, 0]);
  });

  it('does not apply EXIF orientation (the Python reference does not rotate)', async () => {
    const wide = await raw(new Uint8Array(6 * 2 * 3).fill(9), 6, 2, 3).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const { rgb } = await decodeRgb8(wide);
    expect([rgb.width, rgb.height]).toEqual([6, 2]);
  });
});

describe('bad input', () => {
  it('gives IMAGE_UNREADABLE naming the file for a non-image, an empty file, a missing file', async () => {
    const text = path.join(tmp, 'notes.jpg');
    writeFileSync(text, 'this is not an image');
    await expectCode(preprocessImage(text, clipConfig), 'IMAGE_UNREADABLE', /notes\.jpg.*unsupported image format/);
    const empty = path.join(tmp, 'empty.png');
    writeFileSync(empty, '');
    await expectCode(preprocessImage(empty, clipConfig), 'IMAGE_UNREADABLE', /empty\.png.*empty \(0 bytes\)/);
    await expectCode(preprocessImage(Buffer.alloc(0), clipConfig), 'IMAGE_UNREADABLE', /uploaded image.*empty/);
    await expectCode(preprocessImage(path.join(tmp, 'missing.png'), clipConfig), 'IMAGE_UNREADABLE', /missing\.png.*not found/);
    await expectCode(readImageInfo(text), 'IMAGE_UNREADABLE', /notes\.jpg/);
  });

  it('names a format sharp cannot read by its signature (a path or an upload), as the indexer names it', async () => {
    const jp2 = Buffer.concat([Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]), Buffer.alloc(100, 7)]);
    const file = path.join(tmp, 'scene.jp2');
    writeFileSync(file, jp2);
    const error = await expectCode(preprocessQueryImage(file, clipConfig), 'IMAGE_UNREADABLE', /scene\.jp2: image format rsclip cannot read \(JPEG 2000\)$/);
    expect(error.hint).toBe('convert it to PNG, JPEG or TIFF');
    await expectCode(preprocessQueryImage(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]), clipConfig), 'IMAGE_UNREADABLE', /uploaded image: image format rsclip cannot read \(BMP\)$/);
  });

  it('gives IMAGE_UNREADABLE for a truncated JPEG or PNG instead of decoding grey', async () => {
    const noise = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251);
    const jpeg = await raw(noise, 64, 64, 3).jpeg().toBuffer();
    const png = await raw(noise, 64, 64, 3).png().toBuffer();
    await expectCode(preprocessImage(jpeg.subarray(0, jpeg.length >> 1), clipConfig), 'IMAGE_UNREADABLE', /uploaded image.*premature end/i);
    await expectCode(preprocessImage(png.subarray(0, png.length >> 1), clipConfig), 'IMAGE_UNREADABLE', /uploaded image/);
  });

  it('gives IMAGE_TOO_LARGE over maxInputPixels', async () => {
    const png = await raw(new Uint8Array(40 * 30 * 3), 40, 30, 3).png().toBuffer();
    const error = await expectCode(preprocessImage(png, clipConfig, { maxInputPixels: 1199 }), 'IMAGE_TOO_LARGE', /40x30 = 1200 pixels.*1199/);
    expect(error.hint).toBeDefined();
    await expect(preprocessImage(png, clipConfig, { maxInputPixels: 1200 })).resolves.toMatchObject({ width: 40, height: 30 });
  });
});

describe('bytes of the file read already', () => {
  const noise = (seed: number) => Uint8Array.from({ length: 48 * 32 * 3 }, (_, i) => (i * 7919 + seed * 104729) % 251);

  it('decodes the content given, not the file read again, with the same pixels as from the path', async () => {
    const a = path.join(tmp, 'a.png');
    writeFileSync(a, await raw(noise(1), 48, 32, 3).png().toBuffer());
    const jpeg = await raw(noise(2), 48, 32, 3).jpeg().toBuffer();
    const b = path.join(tmp, 'b.jpg');
    writeFileSync(b, jpeg);
    const fromPath = await preprocessImage(b, clipConfig);
    const fromContent = await preprocessImage(b, clipConfig, { alreadyRead: { head: jpeg.subarray(0, 100), content: new Uint8Array(jpeg) } });
    expect(fromContent).toEqual(fromPath);
    // the content of b under the path of a: b's pixels, a's file untouched
    expect((await preprocessImage(a, clipConfig, { alreadyRead: { content: jpeg } })).pixels).toEqual(fromPath.pixels);
  });

  it('checks the pixel limit on the header in the bytes, and names the path in every error', async () => {
    const png = await raw(new Uint8Array(40 * 30 * 3), 40, 30, 3).png().toBuffer();
    const missing = path.join(tmp, 'never-written.png');
    // the header comes from the bytes: the missing file is never opened
    await expectCode(preprocessImage(missing, clipConfig, { maxInputPixels: 1199, alreadyRead: { head: png.subarray(0, 64) } }), 'IMAGE_TOO_LARGE', /never-written\.png has 40x30 = 1200 pixels/);
    const truncated = png.subarray(0, png.length >> 1);
    await expectCode(preprocessImage(missing, clipConfig, { alreadyRead: { head: truncated, content: truncated } }), 'IMAGE_UNREADABLE', /never-written\.png/);
    // no header it can vouch for in the head: libvips reads the file's, as without bytes
    await expectCode(preprocessImage(missing, clipConfig, { alreadyRead: { head: Buffer.from('GIF89a') } }), 'IMAGE_UNREADABLE', /never-written\.png.*not found/);
  });
});

describe('createThumbnail and readImageInfo', () => {
  it('fits the longest side, never enlarges, and renders 16-bit images by their range', async () => {
    const big = await raw(new Uint8Array(300 * 100 * 3).fill(120), 300, 100, 3).png().toBuffer();
    const thumb = await createThumbnail(big, { maxSide: 60 });
    expect(thumb).toMatchObject({ contentType: 'image/webp', width: 60, height: 20 });
    expect((await sharp(thumb.data).metadata()).format).toBe('webp');
    const small = await createThumbnail(big, { maxSide: 1000, format: 'jpeg' });
    expect(small).toMatchObject({ contentType: 'image/jpeg', width: 300, height: 100 });

    const bright16 = await sharp(new Uint16Array(16).fill(65535), { raw: { width: 4, height: 4, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const rendered = await sharp((await createThumbnail(bright16, { maxSide: 4, format: 'jpeg' })).data).raw().toBuffer();
    expect(Math.min(...rendered)).toBeGreaterThan(250);
    await expectCode(createThumbnail(big, { maxSide: 0 }), 'BAD_INPUT', /maxSide/);
    await expectCode(createThumbnail(Buffer.from('not an image'), { maxSide: 8 }), 'IMAGE_UNREADABLE', /uploaded image/);
  });

  it('renders RGBA without alpha and multi-band TIFFs by their first three bands', async () => {
    const rgba = await raw(Uint8Array.from({ length: 8 * 8 * 4 }, (_, i) => [250, 10, 10, 0][i % 4]!), 8, 8, 4).png().toBuffer();
    const fromRgba = await sharp((await createThumbnail(rgba, { maxSide: 8 })).data).raw().toBuffer({ resolveWithObject: true });
    expect(fromRgba.info.channels).toBe(3);
    expect(fromRgba.data[0]).toBeGreaterThan(200);
    const bands = Uint8Array.from({ length: 8 * 8 * 6 }, (_, i) => [10, 240, 10, 99, 99, 99][i % 6]!);
    const thumb = await createThumbnail(encodeTiff(bands, 8, 8, 6), { maxSide: 4, format: 'jpeg' });
    expect(thumb).toMatchObject({ width: 4, height: 4, contentType: 'image/jpeg' });
    const pixels = await sharp(thumb.data).raw().toBuffer();
    expect(pixels[1]).toBeGreaterThan(200);
    expect(pixels[0]).toBeLessThan(60);
  });

  it('reads the header only', async () => {
    const png = await raw(new Uint8Array(5 * 7 * 4), 5, 7, 4).png().toBuffer();
    expect(await readImageInfo(png)).toEqual({ width: 5, height: 7, format: 'png', bands: 4, bitDepth: 8 });
  });
});

describeShared('golden preprocessing', () => {
  it('reproduces CLIPImageProcessor pixels for the 8 golden images', async () => {
    const cfg = parsePreprocessConfig(JSON.parse(readFileSync(sharedPath('golden/tiny-clip/preprocessor_config.json'), 'utf8')));
    const names = readdirSync(sharedPath('golden/images')).sort();
    expect(names).toHaveLength(8);
    const diff = (mine: Float32Array, golden: Float32Array) => {
      expect(mine.length).toBe(golden.length);
      let max = 0;
      let sum = 0;
      for (let i = 0; i < golden.length; i++) {
        const d = Math.abs(mine[i]! - golden[i]!);
        sum += d;
        if (d > max) max = d;
      }
      return { max, mean: sum / golden.length };
    };
    const table: Record<string, { size: string; maxAbsDiff: number; meanAbsDiff: number; pillowMax: number; pillowMean: number }> = {};
    for (const name of names) {
      const file = sharedPath('golden/images', name);
      const golden = await readF32(sharedPath('golden/pixels', `${name}.pil.f32`));
      const mine = await preprocessImage(file, cfg);
      expect(await preprocessImage(file, cfg, { alreadyRead: { content: readFileSync(file) } })).toEqual(mine);
      const ours = diff(mine.pixels, golden);
      // transformers 4.x resized with Pillow itself: its arithmetic, for comparison.
      const pillow = diff(preprocessRgb((await decodeRgb8(file)).rgb, cfg, 'pillow'), golden);
      table[name] = { size: `${mine.width}x${mine.height}`, maxAbsDiff: ours.max, meanAbsDiff: ours.mean, pillowMax: pillow.max, pillowMean: pillow.mean };
    }
    console.log('preprocessing vs golden/pixels/*.pil.f32 (pillow*: the same with Pillow\'s fixed-point resize)');
    console.table(table);
    expect(table['stadium_1.jpg']!.maxAbsDiff).toBeLessThanOrEqual(1e-6);
    for (const row of Object.values(table)) {
      expect(row.maxAbsDiff).toBeLessThanOrEqual(0.02);
      expect(row.meanAbsDiff).toBeLessThanOrEqual(0.002);
      expect(row.pillowMean).toBeLessThanOrEqual(0.002);
    }
  });

  it('preprocesses the real GeoTIFFs (the ones libvips cannot decode give a clear IMAGE_UNREADABLE)', async () => {
    const dir = sharedPath('datasets/geotiff');
    const files = readdirSync(dir).filter((f) => f.endsWith('.tif')).sort();
    expect(files.length).toBeGreaterThanOrEqual(9);
    const unreadableByLibvips: Record<string, RegExp> = {
      'shade.tif': /tiled separate planes not supported/,
      'all-nodata.tif': /tiled separate planes not supported/,
      'alpha.tif': /decompress error/,
    };
    for (const file of files) {
      const result = preprocessImage(path.join(dir, file), clipConfig);
      const why = unreadableByLibvips[file];
      if (why) {
        await expectCode(result, 'IMAGE_UNREADABLE', new RegExp(`${file.replace('.', '\\.')}.*${why.source}`));
        continue;
      }
      const { pixels, format } = await result;
      expect(format).toBe('tiff');
      expect(pixels.length).toBe(3 * 224 * 224);
      expect(pixels.every(Number.isFinite)).toBe(true);
    }
  });
});
