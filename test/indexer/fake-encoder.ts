/**
 * A ClipEncoder stand-in for indexer tests that must not depend on a model: it decodes the
 * PNGs of test/fixtures/images.ts, refuses anything else like the real one, and embeds an
 * image as a unit vector derived from its pixels (identical pixels, identical vector).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { RsclipError } from '../../src/errors.js';
import type { ClipEncoder, ImageSource, ModelInfo, PreprocessedImage } from '../../src/model/index.js';

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
  return { width, height, raw };
}

export class FakeEncoder implements ClipEncoder {
  readonly info: ModelInfo;
  readonly runCount = { text: 0, image: 0 };
  /** Images that went through embedPixels. */
  embeddedImages = 0;
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
      imageSize: 4,
      logitScale: undefined,
    };
  }

  async preprocess(image: ImageSource): Promise<PreprocessedImage> {
    const bytes = typeof image === 'string' ? await readFile(image) : image;
    await new Promise((resolve) => setImmediate(resolve));
    const { width, height, raw } = decodePng(bytes, this.maxInputPixels);
    const digest = createHash('sha256').update(raw).digest();
    const pixels = new Float32Array(this.info.embeddingDim);
    for (let i = 0; i < pixels.length; i++) pixels[i] = digest[i % digest.length]! - 127.5 + i;
    return { pixels, width, height, format: 'png' };
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

  async close(): Promise<void> {}
}
