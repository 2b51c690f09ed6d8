/**
 * A ClipEncoder stand-in for indexer tests that must not depend on a model: it decodes 8-bit RGB
 * PNGs (those of test/fixtures/images.ts and the windows the indexer hands over), refuses
 * anything else like the real one, and embeds an image as a unit vector derived from its pixels
 * (identical pixels, identical vector). `decoded` keeps what it was given, for tests that look.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { RsclipError } from '../../src/errors.js';
import type { ClipEncoder, ImageSource, ModelInfo, PreprocessedImage, Raster8 } from '../../src/model/index.js';

export interface FakeEncoderOptions {
  dim?: number;
  fingerprint?: string;
  maxInputPixels?: number;
}

function decodePng(bytes: Buffer, maxInputPixels: number): { width: number; height: number; raw: Buffer } {
  if (bytes.length < 33 || bytes.readUInt32BE(0) !== 0x89504e47) {
    throw new RsclipError('IMAGE_UNREADABLE', 'unsupported image format');
  }
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width * height > maxInputPixels) {
    throw new RsclipError('IMAGE_TOO_LARGE', `image has ${width * height} pixels, more than the limit of ${maxInputPixels}`);
  }
  const parts: Buffer[] = [];
  let offset = 8;
  while (offset + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (offset + 12 + length > bytes.length) throw new RsclipError('IMAGE_UNREADABLE', 'truncated PNG');
    if (type === 'IDAT') parts.push(bytes.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(parts));
  } catch (cause) {
    throw new RsclipError('IMAGE_UNREADABLE', `corrupt PNG data: ${(cause as Error).message}`, { cause });
  }
  if (raw.length !== (width * 3 + 1) * height) throw new RsclipError('IMAGE_UNREADABLE', 'truncated PNG');
  return { width, height, raw: unfilter(raw, width, height) };
}

/** PNG row filters (none, sub, up, average, Paeth) undone: interleaved RGB, 3 bytes a pixel. */
function unfilter(raw: Buffer, width: number, height: number): Buffer {
  const stride = width * 3;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? out[y * stride + i - 3]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = i >= 3 && y > 0 ? out[(y - 1) * stride + i - 3]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][type];
      if (predictor === undefined) throw new RsclipError('IMAGE_UNREADABLE', `unknown PNG filter ${type}`);
      out[y * stride + i] = (line[i]! + predictor) & 0xff;
    }
  }
  return out;
}

export class FakeEncoder implements ClipEncoder {
  readonly info: ModelInfo;
  readonly runCount = { text: 0, image: 0 };
  /** Images that went through embedPixels. */
  embeddedImages = 0;
  /** Every image preprocess decoded, in call order (only when `keepDecoded`). */
  readonly decoded: { width: number; height: number; rgb: Buffer }[] = [];
  keepDecoded = false;
  private readonly maxInputPixels: number;

  constructor(options: FakeEncoderOptions = {}) {
    const dim = options.dim ?? 16;
    this.maxInputPixels = options.maxInputPixels ?? 10_000_000;
    this.info = {
      id: 'fake-clip',
      dir: '/nonexistent/fake-clip',
      variant: 'fp32',
      fingerprint: options.fingerprint ?? 'f'.repeat(64),
      embeddingDim: dim,
      contextLength: 77,
      imageSize: 224,
      logitScale: undefined,
    };
  }

  async preprocess(image: ImageSource): Promise<PreprocessedImage> {
    const bytes = typeof image === 'string' ? await readFile(image) : image;
    await new Promise((resolve) => setImmediate(resolve));
    const { width, height, raw } = decodePng(bytes, this.maxInputPixels);
    return { pixels: this.preprocessRgb({ data: raw, width, height, channels: 3 }), width, height, format: 'png' };
  }

  /** Windows of scenes come as RGB: the same pixels as their PNG through `preprocess`. */
  preprocessRgb(rgb: Raster8): Float32Array {
    const raw = Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength);
    if (this.keepDecoded) this.decoded.push({ width: rgb.width, height: rgb.height, rgb: Buffer.from(raw) });
    const digest = createHash('sha256').update(raw).digest();
    const pixels = new Float32Array(this.info.embeddingDim);
    for (let i = 0; i < pixels.length; i++) pixels[i] = digest[i % digest.length]! - 127.5 + i;
    return pixels;
  }

  async embedPixels(images: Float32Array[]): Promise<Float32Array[]> {
    if (images.length === 0) throw new RsclipError('BAD_INPUT', 'no images to embed');
    this.runCount.image++;
    this.embeddedImages += images.length;
    await new Promise((resolve) => setImmediate(resolve));
    return images.map((p) => {
      const norm = Math.sqrt(p.reduce((s, v) => s + v * v, 0));
      return p.map((v) => v / norm);
    });
  }

  async embedImages(images: ImageSource[]): Promise<Float32Array[]> {
    return this.embedPixels(await Promise.all(images.map(async (i) => (await this.preprocess(i)).pixels)));
  }

  async embedTexts(): Promise<Float32Array[]> {
    throw new RsclipError('BAD_INPUT', 'the fake encoder has no text tower');
  }

  textTokens(): number {
    throw new RsclipError('BAD_INPUT', 'the fake encoder has no text tower');
  }

  async close(): Promise<void> {}
}
