/**
 * JPEG, PNG, WebP (and anything else libvips reads) as a raster source, through sharp. Windows
 * are cut with `extract`: libvips decodes these formats from their first row, up to the window's
 * last, so a scene read window by window was decoded again for every window (`locate` on a
 * 4,032 px JPEG: 19.6 s, 2.3 s decoded once). From the second window read at native resolution
 * on, the whole image is decoded once and kept in memory while the source is open, unless its
 * samples would take more than DECODED_IMAGE_BUDGET_BYTES. These formats carry no georeference
 * of their own, so it comes from a world file (+ `.prj` or a given CRS).
 */
import { isRsclipError, RsclipError } from '../errors.js';
import { readingGeoreference } from '../geo/georeference.js';
import type { PixelWindow } from '../geo/window.js';
import { readWorldFileGeoreference, type WorldFileOptions } from '../geo/world-file.js';
import { parseImageHeader, type ImageHeader } from './image-header.js';
import { decodeWhole, deinterleave, extractRaw, openWithLibvips, type DecodedImage, type Metadata, type StoredColourspace } from './libvips.js';
import type { BandColor, BandWindow, RasterDataType, RasterSource, ReadOptions } from './types.js';
import { unreadableFormat } from './unreadable-format.js';

/** The most memory one open image may keep decoded (a 9,000 x 9,000 RGB image takes 243 MB). */
const DECODED_IMAGE_BUDGET_BYTES = 256 * 1024 * 1024;

const COLORS: Record<number, BandColor[]> = {
  1: ['gray'],
  2: ['gray', 'alpha'],
  3: ['red', 'green', 'blue'],
  4: ['red', 'green', 'blue', 'alpha'],
};

class SharpSource implements RasterSource {
  readonly decoder = 'libvips';
  readonly nodata = null;
  readonly hasMask = false;
  readonly overviews = [];
  private windowsRead = 0;
  private decoded: Promise<DecodedImage | undefined> | undefined;
  constructor(
    readonly path: string,
    readonly format: string,
    readonly width: number,
    readonly height: number,
    readonly bandCount: number,
    readonly dataType: RasterDataType,
    readonly georeference: RasterSource['georeference'],
  ) {}

  get colors(): readonly BandColor[] {
    return COLORS[this.bandCount] ?? Array.from({ length: this.bandCount }, () => 'undefined' as const);
  }

  async readBands(window: PixelWindow, bands: readonly number[], options: ReadOptions = {}): Promise<BandWindow> {
    const { x, y, width, height } = window;
    if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > this.width || y + height > this.height) {
      throw new RsclipError('BAD_INPUT', `window ${x},${y} ${width}x${height} is not inside ${this.path} (${this.width}x${this.height})`);
    }
    for (const b of bands) {
      if (!Number.isInteger(b) || b < 1 || b > this.bandCount) throw new RsclipError('BAD_INPUT', `band ${b} does not exist in ${this.path}, which has ${this.bandCount} band(s)`);
    }
    const outWidth = options.outWidth ?? width;
    const outHeight = options.outHeight ?? height;
    const depth = this.dataType === 'uint16' ? 'ushort' : 'uchar';
    // without a 16-bit colourspace, libvips makes 8-bit sRGB first (grey repeated three times)
    const colourspace = this.dataType === 'uint16' ? (this.bandCount >= 3 ? 'rgb16' : 'grey16') : undefined;
    let data: Buffer;
    try {
      // a reduced read stays with the file: libvips samples a decoded image at other rows
      const native = outWidth === width && outHeight === height;
      const input = (native && this.windowsRead++ > 0 && (await this.decodedOnce(depth, colourspace))) || this.path;
      data = await extractRaw(input, window, depth, { out: { width: outWidth, height: outHeight }, ...(colourspace ? { colourspace } : {}) });
    } catch (cause) {
      if (isRsclipError(cause, 'DEPENDENCY_MISSING')) throw cause;
      throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${this.path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    return { width: outWidth, height: outHeight, bands: deinterleave(data, this.bandCount, bands, depth) };
  }

  /**
   * The whole image, decoded at the first call; undefined over the budget, or when the whole
   * cannot be decoded (a truncated file: its windows above the damage are still read one by one).
   */
  private async decodedOnce(depth: 'uchar' | 'ushort', colourspace: StoredColourspace | undefined): Promise<DecodedImage | undefined> {
    const bytes = this.width * this.height * this.bandCount * (depth === 'ushort' ? 2 : 1);
    if (bytes > DECODED_IMAGE_BUDGET_BYTES) return undefined;
    this.decoded ??= decodeWhole(this.path, depth, { colourspace }).catch(() => undefined);
    return this.decoded;
  }

  async blocksAbsent(): Promise<boolean> {
    return false;
  }

  async readMask(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {
    this.decoded = undefined;
  }
}

/** How to open a PNG or JPEG: its world file's CRS and location (as readWorldFileGeoreference takes them), and its header bytes. */
export interface SharpOpenOptions extends WorldFileOptions {
  /** The file's first bytes, already read: a PNG or JPEG header parsed from them spares libvips opening the file. */
  head?: Uint8Array;
}

export async function openWithSharp(path: string, options: SharpOpenOptions = {}): Promise<RasterSource> {
  const meta = (options.head && parseImageHeader(options.head)) || (await readMetadata(path));
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const bands = meta.channels ?? 0;
  const dataType: RasterDataType = meta.depth === 'ushort' ? 'uint16' : 'uint8';
  if (meta.depth !== 'uchar' && meta.depth !== 'ushort') {
    throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${path}: ${meta.depth ?? 'unknown'} samples are not supported here`, { hint: 'convert it to an 8- or 16-bit image, or a GeoTIFF' });
  }
  const georeference = await readingGeoreference(path, () => readWorldFileGeoreference(path, width, height, options));
  return new SharpSource(path, meta.format ?? 'unknown', width, height, bands, dataType, georeference);
}

async function readMetadata(path: string): Promise<Metadata | ImageHeader> {
  try {
    return await openWithLibvips(path).metadata();
  } catch (cause) {
    if (isRsclipError(cause, 'DEPENDENCY_MISSING')) throw cause;
    const why = cause instanceof Error ? cause.message : String(cause);
    const format = /unsupported image format/i.test(why) ? await unreadableFormat(path) : undefined;
    if (format) throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${path}: image format rsclip cannot read (${format})`, { hint: 'convert it to PNG, JPEG or TIFF', cause });
    throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${path}: ${/no such file|ENOENT|missing/i.test(why) ? 'file not found' : why}`, {
      hint: 'check that the file is a complete JPEG, PNG, TIFF or WebP image',
      cause,
    });
  }
}
