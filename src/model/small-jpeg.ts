/**
 * Small JPEGs decoded by MozJPEG (libjpeg-turbo) compiled to WebAssembly (@jsquash/jpeg), on the
 * calling thread. At the sizes of benchmark images and chips (224-600 px a side) libvips spends
 * most of a decode setting up its pipeline: 3.5-3.7 ms of CPU for a 224 x 224 RSICD JPEG against
 * 1.0-1.6 ms here, with the same pixels (all 1,093 RSICD test images); around a megapixel the two
 * cost about the same and past it libvips is faster (`bench/preprocess.ts`: a 2,000 x 1,500 JPEG
 * 34 against 80 ms), so larger images stay with it. Like the sharp pipeline of image.ts it applies
 * no colour profile and no EXIF orientation. Whatever the decoder reports (a warning, such as a
 * truncated file; an error, such as a colour space it cannot convert) makes it answer undefined,
 * and the caller asks sharp, which decides as it always has.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ImageHeader } from '../raster/image-header.js';
import type { Raster8 } from './resample.js';

/** Largest image decoded here (width x height); see the module comment. */
export const SMALL_JPEG_MAX_PIXELS = 1 << 20;

interface MozJpegDecoder {
  decode(data: Uint8Array, preserveOrientation: boolean): { data: Uint8ClampedArray; width: number; height: number } | null;
}
type DecoderFactory = (options: { noInitialRun: boolean; wasmBinary: Uint8Array; printErr: (message: string) => void }) => Promise<MozJpegDecoder>;

/** What the decoder printed during the current decode (it reports problems only that way). */
let reports: string[] = [];
let decoder: Promise<MozJpegDecoder | undefined> | undefined;

async function loadDecoder(): Promise<MozJpegDecoder | undefined> {
  try {
    const factory = (await import('@jsquash/jpeg/codec/dec/mozjpeg_dec.js')).default as unknown as DecoderFactory;
    const wasmBinary = readFileSync(createRequire(import.meta.url).resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm'));
    return await factory({ noInitialRun: true, wasmBinary, printErr: (message) => reports.push(message) });
  } catch {
    // without it every JPEG still decodes, through sharp
    return undefined;
  }
}

/** Whether `header` describes a JPEG this decoder takes: 8-bit grey or three-band, at most SMALL_JPEG_MAX_PIXELS. */
export function isSmallJpeg(header: ImageHeader | undefined): boolean {
  return header?.format === 'jpeg' && header.depth === 'uchar' && (header.channels === 1 || header.channels === 3) && header.width * header.height <= SMALL_JPEG_MAX_PIXELS;
}

/** The image as RGBA (its own copy, not the module's memory), or undefined where the decoder reported anything: then sharp decodes it. */
export async function decodeSmallJpeg(bytes: Uint8Array): Promise<Raster8 | undefined> {
  decoder ??= loadDecoder();
  const mozjpeg = await decoder;
  if (!mozjpeg) return undefined;
  reports = [];
  let image: ReturnType<MozJpegDecoder['decode']>;
  try {
    image = mozjpeg.decode(bytes, false);
  } catch {
    // a fatal error ends in exit() inside the module, which leaves what it allocated: start a fresh one
    decoder = undefined;
    return undefined;
  }
  if (!image || reports.length > 0) return undefined;
  const { data, width, height } = image;
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels: 4 };
}
