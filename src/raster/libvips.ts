/**
 * The raster folder's one use of sharp/libvips (loaded when first called): cutting a window out
 * of an image as raw interleaved samples (libvips decodes only the tiles or rows the window
 * needs), and encoding a rendered 8-bit RGB window as PNG or WebP.
 */
import type { default as SharpFactory, Metadata } from 'sharp';
import type { PixelWindow } from '../geo/window.js';
import { lazyPackage } from '../lazy-package.js';

const loadSharp = lazyPackage<typeof SharpFactory>('sharp');

export type { Metadata };

/**
 * `strict`: fail on a decoder's warnings too. libtiff reports a tile or strip it cannot
 * decompress (zeroed or damaged data) as a warning, and libvips then hands back zeros for it.
 */
export function openWithLibvips(file: string, strict = false) {
  return loadSharp()(file, { failOn: strict ? 'warning' : 'truncated', limitInputPixels: false, limitInputChannels: 256, ignoreIcc: true, autoOrient: false, pages: 1, page: 0 });
}

/** The libvips interpretation that keeps samples as they are stored (no conversion to 8-bit sRGB). */
export type StoredColourspace = 'srgb' | 'rgb16' | 'b-w' | 'grey16';

export interface ExtractOptions {
  /** Output size (resized, nearest neighbour); default the window's. */
  out?: { width: number; height: number };
  colourspace?: StoredColourspace;
  /** Fail on the decoder's warnings (see openWithLibvips). */
  strict?: boolean;
}

/** A whole image decoded once, as raw interleaved samples in the colourspace it was asked in. */
export interface DecodedImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
}

/** Raw interleaved samples of a window, cut from the file or from the image decoded once. */
export async function extractRaw(input: string | DecodedImage, window: PixelWindow, depth: 'uchar' | 'ushort', options: ExtractOptions = {}): Promise<Buffer> {
  const { out, colourspace } = options;
  const image =
    typeof input === 'string'
      ? openWithLibvips(input, options.strict)
      : loadSharp()(input.data, { raw: { width: input.width, height: input.height, channels: input.channels as 1 | 2 | 3 | 4 }, limitInputPixels: false });
  let pipeline = image.extract({ left: window.x, top: window.y, width: window.width, height: window.height });
  if (out && (out.width !== window.width || out.height !== window.height)) pipeline = pipeline.resize(out.width, out.height, { fit: 'fill', kernel: 'nearest' });
  // raw 16-bit samples are taken as 8-bit sRGB too unless told their colourspace
  if (colourspace) pipeline = pipeline.toColourspace(colourspace);
  return pipeline.raw({ depth }).toBuffer();
}

/** The whole image as raw interleaved samples (see DecodedImage). */
export async function decodeWhole(file: string, depth: 'uchar' | 'ushort', options: Pick<ExtractOptions, 'colourspace' | 'strict'> = {}): Promise<DecodedImage> {
  let pipeline = openWithLibvips(file, options.strict);
  if (options.colourspace) pipeline = pipeline.toColourspace(options.colourspace);
  const { data, info } = await pipeline.raw({ depth }).toBuffer({ resolveWithObject: true });
  const samples = depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { data: samples, width: info.width, height: info.height, channels: info.channels };
}

/** Splits interleaved samples into one array per requested band (1-based). */
export function deinterleave(data: Buffer, bandCount: number, bands: readonly number[], depth: 'uchar' | 'ushort'): (Uint8Array | Uint16Array)[] {
  const n = data.length / (depth === 'ushort' ? 2 : 1) / bandCount;
  const interleaved = depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, n * bandCount) : new Uint8Array(data.buffer, data.byteOffset, n * bandCount);
  return bands.map((b) => {
    const band = depth === 'ushort' ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0, s = b - 1; i < n; i++, s += bandCount) band[i] = interleaved[s]!;
    return band;
  });
}

export interface EncodeOptions {
  /** Longest side of the output; larger windows are reduced (Lanczos), smaller ones kept. */
  maxSide?: number;
  /** PNG: zlib level 0..9 (default 6; 0 stores, the fastest for a round trip). WebP: ignored. */
  compressionLevel?: number;
}

/** Interleaved 8-bit RGB as a PNG (lossless) or WebP (quality 80) file. */
export async function encodeRgb(rgb: Uint8Array, width: number, height: number, format: 'png' | 'webp', options: EncodeOptions = {}): Promise<Buffer> {
  let pipeline = loadSharp()(rgb, { raw: { width, height, channels: 3 } });
  if (options.maxSide !== undefined && Math.max(width, height) > options.maxSide) pipeline = pipeline.resize(options.maxSide, options.maxSide, { fit: 'inside' });
  return format === 'png' ? pipeline.png({ compressionLevel: options.compressionLevel ?? 6 }).toBuffer() : pipeline.webp({ quality: 80 }).toBuffer();
}
