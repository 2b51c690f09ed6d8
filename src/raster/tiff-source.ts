/**
 * TIFF / GeoTIFF / BigTIFF / COG reading (with tiff-complete.ts, which reads directories only, the
 * modules that import geotiff.js).
 * Windows are read tile by tile (or strip by strip): only the blocks a window touches are read and
 * decoded, so a scene larger than memory is read in bounded memory.
 *
 * Two decoders, chosen per file by measurement (bench/raster.ts): libvips (sharp `extract`) is
 * about 2.8x faster for full-resolution windows of pixel-interleaved 8/16-bit TIFFs compressed
 * with nothing, LZW, Deflate or PackBits, so those windows go there, and give the same samples as
 * geotiff.js (tests compare both with GDAL). Full-resolution windows of 8-bit JPEG-in-TIFF (grey,
 * RGB or YCbCr) go there too, for their samples: libvips and GDAL decode them with libjpeg alike,
 * geotiff.js's own JPEG decoder and chroma upsampling differ by up to tens of levels. Everything
 * else goes to geotiff.js, which also reads what libvips cannot (band-separate tiled files,
 * floats, 32-bit, masks) and serves coarse reads from overviews: metadata, masks, overviews (a
 * JPEG file's overviews too, with those differences; its reduced reads that no overview serves
 * are sampled from libvips' full resolution) and every other layout.
 * A palette image is read as its colours (GDAL's -expand rgb), so that windows show what libvips,
 * decoding a small file whole, shows. An 8-bit CMYK image (Photometric Separated, InkSet CMYK) is
 * read as RGB, as GDAL reads it (libtiff's conversion, see cmykToRgb); other separated images
 * (16-bit, or inks that are not CMYK) are refused, as GDAL would show their inks as colours.
 */
import { stat } from 'node:fs/promises';
import type { GeoTIFF, GeoTIFFImage } from 'geotiff';
import { RsclipError } from '../errors.js';
import { dependencyMissing } from '../lazy-package.js';
import type { Crs } from '../geo/crs.js';
import { checkOnTheEarth, readingGeoreference, type Georeference } from '../geo/georeference.js';
import { crsFromGeoKeys, gcpsFromTags, readGeoTiffGeoreference, type GeoTiffGeoTags } from '../geo/geotiff-georeference.js';
import type { PixelWindow } from '../geo/window.js';
import { findWorldFile, parseWorldFile, readWorldFileGeoreference, type WorldFileOptions } from '../geo/world-file.js';
import { BlockCache } from './block-cache.js';
import { checkBlocksInFile } from './tiff-complete.js';
import { deinterleave, extractRaw, type StoredColourspace } from './libvips.js';
import { unreadableFormat } from './unreadable-format.js';
import type { BandArray, BandColor, BandWindow, RasterDataType, RasterSource, ReadOptions } from './types.js';

const SUBFILE_REDUCED = 1;
const PHOTOMETRIC_PALETTE = 3;
const PHOTOMETRIC_SEPARATED = 5;
const INKSET_CMYK = 1;
const PHOTOMETRIC_YCBCR = 6;
const SUBFILE_MASK = 4;

function dataTypeOf(bits: number, format: number): RasterDataType {
  if (format === 3) {
    if (bits === 32) return 'float32';
    if (bits === 64) return 'float64';
  } else if (format === 2) {
    if (bits === 8) return 'int8';
    if (bits === 16) return 'int16';
    if (bits === 32) return 'int32';
  } else {
    if (bits === 8) return 'uint8';
    if (bits === 16) return 'uint16';
    if (bits === 32) return 'uint32';
  }
  throw new RsclipError('IMAGE_UNREADABLE', `unsupported TIFF sample type: ${bits}-bit, SampleFormat ${format}`, {
    hint: 'rsclip reads 8/16/32-bit integer and 32/64-bit float samples',
  });
}

const COLOR_NAMES: Record<string, BandColor> = { red: 'red', green: 'green', blue: 'blue', alpha: 'alpha', gray: 'gray', grey: 'gray' };

/** Colour interpretation per band: GDAL's COLORINTERP metadata, else Photometric + ExtraSamples (as GDAL derives it). */
function bandColors(bandCount: number, photometric: number | undefined, extraSamples: ArrayLike<number> | undefined, gdalMetadata: string | undefined): BandColor[] {
  const colors: BandColor[] = [];
  const base = photometric === 2 || photometric === 6 ? ['red', 'green', 'blue'] : photometric === 0 || photometric === 1 ? ['gray'] : [];
  for (let i = 0; i < bandCount; i++) {
    if (i < base.length) colors.push(base[i] as BandColor);
    else {
      const extra = extraSamples?.[i - base.length];
      colors.push(extra === 1 || extra === 2 ? 'alpha' : 'undefined');
    }
  }
  if (gdalMetadata) {
    for (const m of gdalMetadata.matchAll(/<Item\s+name="COLORINTERP"\s+sample="(\d+)"\s+role="colorinterp">([^<]*)<\/Item>/g)) {
      const i = Number(m[1]);
      const c = COLOR_NAMES[(m[2] ?? '').trim().toLowerCase()] ?? 'undefined';
      if (i < bandCount) colors[i] = c;
    }
  }
  return colors;
}

/**
 * One of red, green, blue (`channel` 0..2) from 8-bit C, M, Y, K, as libtiff's TIFFRGBAImage
 * converts them for GDAL: (255 - ink) x (255 - K) / 255, rounded down.
 */
function cmykToRgb(inks: BandArray[], channel: number): Uint8Array {
  const ink = inks[channel]!;
  const black = inks[3]!;
  const out = new Uint8Array(ink.length);
  for (let i = 0; i < ink.length; i++) out[i] = Math.floor(((255 - ink[i]!) * (255 - black[i]!)) / 255);
  return out;
}

/** Why a separated (Photometric 5) image is not read as CMYK, or null where it is. */
/** A separated (ink) TIFF that is not 8-bit CMYK: refused, not handed to another decoder, whose colours would not be GDAL's. */
export class TiffInksError extends RsclipError {
  constructor(path: string, why: string) {
    super('IMAGE_UNREADABLE', `cannot read image ${path}: a separated (ink) TIFF that rsclip cannot render as RGB: ${why}`, {
      hint: 'convert it to RGB first, e.g. vips colourspace in.tif out.tif srgb',
    });
  }
}

function notCmyk(inkSet: number, bandCount: number, dataType: RasterDataType): string | null {
  if (inkSet !== INKSET_CMYK) return `its ${bandCount} inks are not CMYK (InkSet ${inkSet})`;
  if (bandCount < 4) return `it has ${bandCount} inks, not the 4 of CMYK`;
  if (dataType !== 'uint8') return `it is CMYK with ${dataType} samples; rsclip converts 8-bit CMYK to RGB, as GDAL does`;
  return null;
}

/** A colour table's red, green and blue per index, 8-bit. */
type Palette = [Uint8Array, Uint8Array, Uint8Array];

/**
 * A TIFF ColorMap (all reds, then greens, then blues, 16-bit) as 8-bit colours, as GDAL reads it:
 * entries divided by 257, unless none is past 255 (a map some writers fill with 8-bit values).
 */
function paletteOf(colorMap: ArrayLike<number>): Palette {
  const n = Math.floor(colorMap.length / 3);
  let max = 0;
  for (let i = 0; i < colorMap.length; i++) max = Math.max(max, colorMap[i]!);
  const divisor = max > 255 ? 257 : 1;
  const channel = (c: number) => Uint8Array.from({ length: n }, (_, i) => Math.floor(colorMap[c * n + i]! / divisor));
  return [channel(0), channel(1), channel(2)];
}

interface Level {
  image: GeoTIFFImage;
  width: number;
  height: number;
}

export interface TiffOpenOptions extends Pick<WorldFileOptions, 'worldFile'> {
  /** Overrides the GeoKeys' CRS (or gives a world file's). */
  crs?: Crs;
  /** Budget for decoded blocks kept between window reads; default 256 MiB. */
  blockCacheBytes?: number;
  /** `auto` (default): libvips where it is faster and able (see the module comment); `geotiff`: geotiff.js only. */
  decoder?: 'auto' | 'geotiff';
}

/**
 * geotiff.js's failure in the user's terms: given a TIFF cut short or with sizes that lie, it
 * fails with JavaScript's own errors (TypeError "Cannot read properties of undefined", RangeError
 * 'The value of "length" is out of range'); its own errors say what they found, and so does a
 * RangeError of memory ("Array buffer allocation failed", "Invalid typed array length").
 */
function whatWentWrong(error: unknown): string {
  if (error instanceof TypeError || (error instanceof RangeError && /out of range|out of bounds|outside the bounds/i.test(error.message))) return 'the TIFF is truncated or damaged';
  return error instanceof Error ? error.message : String(error);
}

/** Compressions libvips decodes to the same samples as geotiff.js: none, LZW, Deflate (both codes), PackBits. */
const LIBVIPS_COMPRESSIONS = new Set([1, 5, 8, 32946, 32773]);
const COMPRESSION_JPEG = 7;

export const DEFAULT_BLOCK_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * libvips reads full-resolution windows of at most this many pixels a side through chunks of that
 * side (on a grid from the image's origin), kept while chunkCacheBytes allows, and the windows are
 * cut from them; larger windows are read as they are. One libvips pipeline per small window (a
 * file opened, its tiles decoded into buffers of its own, its output) left glibc's malloc arenas
 * fragmented: a 16,000 px scene of zeros grew the process by 500 MB, a 40,000 px one by 3 GB;
 * a pipeline per 512 px chunk, each read once in plan order, keeps it bounded.
 */
const LIBVIPS_CHUNK = 512;
/** The chunk cache holds two rows of chunks (windows read row by row reuse each chunk), within these bounds. */
const MIN_CHUNK_BYTES = 48 * 1024 * 1024;
const MAX_CHUNK_BYTES = 192 * 1024 * 1024;

/** Bytes that keep two rows of chunks of an image and two more, within MIN/MAX_CHUNK_BYTES. */
function chunkCacheBytes(width: number, bandCount: number, bytesPerSample: number): number {
  const chunk = LIBVIPS_CHUNK * LIBVIPS_CHUNK * bandCount * bytesPerSample;
  return Math.min(MAX_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, (2 * Math.ceil(width / LIBVIPS_CHUNK) + 2) * chunk));
}

type Block = Awaited<ReturnType<GeoTIFFImage['getTileOrStrip']>>;

/** The number of block (column x, row y, plane `sample`) in an image's TileOffsets/StripOffsets, as geotiff.js counts them. */
function blockIndex(image: GeoTIFFImage, x: number, y: number, sample: number): number {
  const perRow = Math.ceil(image.getWidth() / image.getTileWidth());
  const perPlane = perRow * Math.ceil(image.getHeight() / image.getTileHeight());
  return (image.planarConfiguration === 2 ? sample * perPlane : 0) + y * perRow + x;
}

/** A block's byte count in the file (0 for a sparse file's absent block). */
async function blockBytes(image: GeoTIFFImage, index: number): Promise<number> {
  return Number(await image.fileDirectory.loadValueIndexed(image.isTiled ? 'TileByteCounts' : 'StripByteCounts', index));
}

/** Routes an image's block decoding through the shared cache (geotiff.js reads every block through getTileOrStrip). */
function cacheBlocks(image: GeoTIFFImage, level: string, cache: BlockCache<Block>): void {
  const decode = image.getTileOrStrip.bind(image);
  image.getTileOrStrip = (x, y, sample, poolOrDecoder, signal) => cache.get(`${level}:${x}:${y}:${sample}`, () => decode(x, y, sample, poolOrDecoder, signal));
}

class TiffSource implements RasterSource {
  readonly format = 'tiff';
  constructor(
    readonly path: string,
    private readonly tiff: GeoTIFF,
    private readonly levels: Level[],
    private readonly masks: Level[],
    readonly dataType: RasterDataType,
    readonly bandCount: number,
    readonly colors: readonly BandColor[],
    readonly nodata: number | null,
    readonly georeference: RasterSource['georeference'],
    private readonly ycbcr: boolean,
    /** Full-resolution windows are cut by libvips in this colourspace (null: geotiff.js). */
    private libvips: StoredColourspace | null,
    /**
     * JPEG-in-TIFF: libvips is kept if it decodes the probe, whatever geotiff.js gives: geotiff.js's
     * JPEG decoder and chroma upsampling differ from libjpeg, which GDAL and libvips share (by up to
     * 101 levels on fine colour detail).
     */
    private readonly jpeg: boolean,
    /** A palette image's colours: its one band of indices is read as three bands, red, green, blue. */
    private readonly palette: Palette | null = null,
    /** An 8-bit CMYK image: its first four bands are read as three, red, green, blue (cmykToRgb). */
    readonly convertsToRgb = false,
  ) {
    this.chunks = new BlockCache(chunkCacheBytes(levels[0]!.width, bandCount, dataType === 'uint16' ? 2 : 1));
  }

  /** Why the file's ground control points give it no georeference, where they do not (set by openTiff). */
  unusableGeoreference: string | undefined = undefined;

  /** Chunks of the full-resolution image read by libvips (see readChunked). */
  private readonly chunks: BlockCache<{ data: Uint8Array | Uint16Array }>;

  get decoder(): 'geotiff.js' | 'libvips' {
    return this.libvips ? 'libvips' : 'geotiff.js';
  }

  /** Keeps libvips only if it gives geotiff.js's samples (JPEG: if it decodes it) on a probe window at the centre. */
  async checkLibvips(): Promise<void> {
    if (!this.libvips) return;
    const side = Math.min(32, this.width, this.height);
    const probe = { x: Math.floor((this.width - side) / 2), y: Math.floor((this.height - side) / 2), width: side, height: side };
    const bands = Array.from({ length: this.bandCount }, (_, i) => i + 1);
    const colourspace = this.libvips;
    const depth = this.dataType === 'uint16' ? 'ushort' : 'uchar';
    // the probe window alone, not the chunks around it (a damaged block elsewhere fails the window that reads it)
    const viaLibvips = await extractRaw(this.path, probe, depth, { colourspace, strict: true })
      .then((data) => ({ bands: deinterleave(data, this.bandCount, bands, depth) }))
      .catch(() => null);
    this.libvips = null;
    const viaGeotiff = await this.readBands(probe, bands);
    const same = viaLibvips !== null && viaLibvips.bands.every((band, i) => band.length === viaGeotiff.bands[i]!.length && (this.jpeg || band.every((v, k) => v === viaGeotiff.bands[i]![k])));
    this.libvips = same ? colourspace : null;
  }

  get width(): number {
    return this.levels[0]!.width;
  }
  get height(): number {
    return this.levels[0]!.height;
  }
  get hasMask(): boolean {
    return this.masks.length > 0;
  }
  get overviews(): { width: number; height: number }[] {
    return this.levels.slice(1).map(({ width, height }) => ({ width, height }));
  }

  private checkWindow(window: PixelWindow, options: ReadOptions): { outWidth: number; outHeight: number } {
    const { x, y, width, height } = window;
    if (![x, y, width, height].every(Number.isInteger) || x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > this.width || y + height > this.height) {
      throw new RsclipError('BAD_INPUT', `window ${x},${y} ${width}x${height} is not inside ${this.path} (${this.width}x${this.height})`);
    }
    const outWidth = options.outWidth ?? width;
    const outHeight = options.outHeight ?? height;
    if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth <= 0 || outHeight <= 0) {
      throw new RsclipError('BAD_INPUT', `output size must be positive integers, got ${outWidth}x${outHeight}`);
    }
    return { outWidth, outHeight };
  }

  /** The coarsest level whose pixels are still no larger than the output's. */
  private pickLevel(levels: Level[], window: PixelWindow, outWidth: number, outHeight: number): Level {
    let best = levels[0]!;
    for (const level of levels) {
      const fx = (window.width * level.width) / this.width;
      const fy = (window.height * level.height) / this.height;
      if (fx >= outWidth && fy >= outHeight && level.width < best.width) best = level;
    }
    return best;
  }

  /** A full-resolution window in a level's pixels: [x0, y0, x1, y1), at least one pixel. */
  private levelWindow(level: Level, window: PixelWindow): [number, number, number, number] {
    const sx = level.width / this.width;
    const sy = level.height / this.height;
    const x0 = Math.floor(window.x * sx);
    const y0 = Math.floor(window.y * sy);
    const x1 = Math.max(x0 + 1, Math.min(level.width, Math.ceil((window.x + window.width) * sx)));
    const y1 = Math.max(y0 + 1, Math.min(level.height, Math.ceil((window.y + window.height) * sy)));
    return [x0, y0, x1, y1];
  }

  /** A window of a level, `outWidth` x `outHeight` (see sampleAtCentres). */
  private async readLevel(level: Level, window: PixelWindow, samples: number[], outWidth: number, outHeight: number): Promise<BandArray[]> {
    const levelWindow = this.levelWindow(level, window);
    const options = { window: levelWindow, interleave: false as const };
    let arrays: BandArray[];
    try {
      if (this.ycbcr && level.image.fileDirectory.getValue('PhotometricInterpretation') === PHOTOMETRIC_YCBCR) {
        // JPEG-in-TIFF stored as YCbCr: geotiff.js converts to RGB in readRGB only.
        const rgb = Array.from((await level.image.readRGB(options)) as unknown as ArrayLike<BandArray>);
        arrays = samples.map((s) => rgb[s]!);
      } else {
        arrays = Array.from((await level.image.readRasters({ ...options, samples })) as unknown as ArrayLike<BandArray>);
      }
    } catch (cause) {
      if (cause instanceof RsclipError) throw cause;
      throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${this.path}: ${whatWentWrong(cause)}`, {
        hint: 'check that the whole file is there (a copy or upload cut short); rsclip reads uncompressed, LZW, Deflate, PackBits, JPEG, LERC, WebP and Zstandard TIFFs',
        cause,
      });
    }
    return sampleAtCentres(arrays, levelWindow, window, level.width / this.width, level.height / this.height, outWidth, outHeight);
  }

  async readBands(window: PixelWindow, bands: readonly number[], options: ReadOptions = {}): Promise<BandWindow> {
    const { outWidth, outHeight } = this.checkWindow(window, options);
    const level = this.pickLevel(this.levels, window, outWidth, outHeight);
    if (this.jpeg && this.libvips && level === this.levels[0] && (outWidth !== window.width || outHeight !== window.height)) {
      // a JPEG file's reduced read with no overview to serve it: from libvips' full-resolution samples, as GDAL's
      const full = await this.decodeWindow(window, bands);
      const whole: [number, number, number, number] = [window.x, window.y, window.x + window.width, window.y + window.height];
      return { width: outWidth, height: outHeight, bands: sampleAtCentres(full.bands, whole, window, 1, 1, outWidth, outHeight) };
    }
    return this.decodeWindow(window, bands, options);
  }

  /** A window as the decoders give it: full resolution from libvips where it is chosen, else geotiff.js from the best level. */
  private async decodeWindow(window: PixelWindow, bands: readonly number[], options: ReadOptions = {}): Promise<BandWindow> {
    const { outWidth, outHeight } = this.checkWindow(window, options);
    for (const b of bands) {
      if (!Number.isInteger(b) || b < 1 || b > this.bandCount) {
        throw new RsclipError('BAD_INPUT', `band ${b} does not exist in ${this.path}, which has ${this.bandCount} band(s)`, { hint: 'bands are numbered from 1' });
      }
    }
    if (this.libvips && outWidth === window.width && outHeight === window.height) {
      const depth = this.dataType === 'uint16' ? 'ushort' : 'uchar';
      try {
        if (window.width > LIBVIPS_CHUNK || window.height > LIBVIPS_CHUNK) {
          return { width: outWidth, height: outHeight, bands: deinterleave(await extractRaw(this.path, window, depth, { colourspace: this.libvips, strict: true }), this.bandCount, bands, depth) };
        }
        return { width: outWidth, height: outHeight, bands: await this.readChunked(window, bands, depth, this.libvips) };
      } catch {
        // A block libtiff cannot decode, or a warning about a readable one: geotiff.js reads the
        // window instead, and the rest of the file, failing on data that is really damaged.
        this.libvips = null;
      }
    }
    const level = this.pickLevel(this.levels, window, outWidth, outHeight);
    if (this.palette) {
      const [indices] = await this.readLevel(level, window, [0], outWidth, outHeight);
      return { width: outWidth, height: outHeight, bands: bands.map((b) => expandPalette(indices!, this.palette![b - 1]!)) };
    }
    if (this.convertsToRgb) {
      const inks = await this.readLevel(level, window, [0, 1, 2, 3], outWidth, outHeight);
      return { width: outWidth, height: outHeight, bands: bands.map((b) => cmykToRgb(inks, b - 1)) };
    }
    const arrays = await this.readLevel(level, window, bands.map((b) => b - 1), outWidth, outHeight);
    return { width: outWidth, height: outHeight, bands: arrays };
  }

  /**
   * A full-resolution window cut from the chunks of the LIBVIPS_CHUNK grid it touches, each read
   * by libvips once and kept (least recently used first) while chunkCacheBytes allows.
   */
  private async readChunked(window: PixelWindow, bands: readonly number[], depth: 'uchar' | 'ushort', colourspace: StoredColourspace): Promise<BandArray[]> {
    const { x, y, width, height } = window;
    const out = bands.map(() => (depth === 'ushort' ? new Uint16Array(width * height) : new Uint8Array(width * height)));
    const n = this.bandCount;
    for (let cy = Math.floor(y / LIBVIPS_CHUNK) * LIBVIPS_CHUNK; cy < y + height; cy += LIBVIPS_CHUNK) {
      for (let cx = Math.floor(x / LIBVIPS_CHUNK) * LIBVIPS_CHUNK; cx < x + width; cx += LIBVIPS_CHUNK) {
        const cw = Math.min(LIBVIPS_CHUNK, this.width - cx);
        const ch = Math.min(LIBVIPS_CHUNK, this.height - cy);
        const chunk = await this.chunk(cx, cy, cw, ch, depth, colourspace);
        const x0 = Math.max(x, cx);
        const x1 = Math.min(x + width, cx + cw);
        const y0 = Math.max(y, cy);
        const y1 = Math.min(y + height, cy + ch);
        for (let i = 0; i < bands.length; i++) {
          const band = out[i]!;
          const b = bands[i]! - 1;
          for (let row = y0; row < y1; row++) {
            let s = ((row - cy) * cw + (x0 - cx)) * n + b;
            let d = (row - y) * width + (x0 - x);
            for (let col = x0; col < x1; col++, s += n) band[d++] = chunk[s]!;
          }
        }
      }
    }
    return out;
  }

  private chunk(cx: number, cy: number, cw: number, ch: number, depth: 'uchar' | 'ushort', colourspace: StoredColourspace): Promise<Uint8Array | Uint16Array> {
    const key = `${cx}:${cy}`;
    return this.chunks.get(key, async () => {
      const data = await extractRaw(this.path, { x: cx, y: cy, width: cw, height: ch }, depth, { colourspace, strict: true });
      return { data: depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data.buffer, data.byteOffset, data.length) };
    }).then((c) => c.data);
  }

  async blocksAbsent(window: PixelWindow, options: ReadOptions = {}): Promise<boolean> {
    const { outWidth, outHeight } = this.checkWindow(window, options);
    // the level readBands reads (libvips reads full-resolution windows from the same blocks)
    const { image } = this.pickLevel(this.levels, window, outWidth, outHeight);
    const [x0, y0, x1, y1] = this.levelWindow({ image, width: image.getWidth(), height: image.getHeight() }, window);
    const blockWidth = image.getTileWidth();
    const blockHeight = image.getTileHeight();
    // a malformed directory: left to the read to report
    if (!(blockWidth > 0 && blockHeight > 0)) return false;
    const planes = image.planarConfiguration === 2 ? image.getSamplesPerPixel() : 1;
    for (let plane = 0; plane < planes; plane++) {
      for (let row = Math.floor(y0 / blockHeight); row <= Math.floor((y1 - 1) / blockHeight); row++) {
        for (let column = Math.floor(x0 / blockWidth); column <= Math.floor((x1 - 1) / blockWidth); column++) {
          if ((await blockBytes(image, blockIndex(image, column, row, plane))) !== 0) return false;
        }
      }
    }
    return true;
  }

  async readMask(window: PixelWindow, options: ReadOptions = {}): Promise<Uint8Array | null> {
    if (this.masks.length === 0) return null;
    const { outWidth, outHeight } = this.checkWindow(window, options);
    const level = this.pickLevel(this.masks, window, outWidth, outHeight);
    const [mask] = await this.readLevel(level, window, [0], outWidth, outHeight);
    return mask instanceof Uint8Array ? mask : Uint8Array.from(mask ?? []);
  }

  async close(): Promise<void> {
    // resolves once the file descriptor is closed
    await this.tiff.close();
  }
}

/**
 * A level's window `levelWindow` ([x0, y0, x1, y1), its pixels scaled by sx, sy from full
 * resolution) sampled to `outWidth` x `outHeight` for the full-resolution `window`: nearest
 * neighbour at output pixel centres as GDAL samples them (floor((i + 0.5) * ratio), in
 * full-resolution pixels); geotiff.js's own resampling takes round(i * ratio), half a pixel off.
 */
function sampleAtCentres(arrays: BandArray[], levelWindow: [number, number, number, number], window: PixelWindow, sx: number, sy: number, outWidth: number, outHeight: number): BandArray[] {
  const [x0, y0, x1, y1] = levelWindow;
  if (x1 - x0 === outWidth && y1 - y0 === outHeight) return arrays;
  const centres = (start: number, size: number, out: number, scale: number, first: number, count: number) =>
    Array.from({ length: out }, (_, i) => Math.min(count - 1, Math.max(0, Math.floor((start + ((i + 0.5) * size) / out) * scale) - first)));
  const columns = centres(window.x, window.width, outWidth, sx, x0, x1 - x0);
  const rows = centres(window.y, window.height, outHeight, sy, y0, y1 - y0);
  return arrays.map((band) => {
    const out = new (band.constructor as new (length: number) => BandArray)(outWidth * outHeight);
    for (let y = 0; y < outHeight; y++) {
      const from = rows[y]! * (x1 - x0);
      for (let x = 0; x < outWidth; x++) out[y * outWidth + x] = band[from + columns[x]!]!;
    }
    return out;
  });
}

/** One colour channel of a palette image's indices (an index past the table is black, as GDAL makes it). */
function expandPalette(indices: BandArray, colours: Uint8Array): Uint8Array {
  const out = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = colours[indices[i]!] ?? 0;
  return out;
}

/** Opens a TIFF for windowed reads (nothing but the directory is read until a window is). */
export async function openTiff(path: string, options: TiffOpenOptions = {}): Promise<RasterSource> {
  // loaded on first use: commands that read no TIFF (search, serve) do not load geotiff.js
  const { fromFile } = await import('geotiff').catch((cause: unknown) => {
    throw dependencyMissing('geotiff', cause);
  });
  let tiff: GeoTIFF;
  let fileBytes: number;
  try {
    fileBytes = (await stat(path)).size;
    tiff = await fromFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    // a file of another format named .tif
    const format = code === undefined ? await unreadableFormat(path) : undefined;
    if (format) throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${path}: image format rsclip cannot read (${format}), not a TIFF`, { hint: 'convert it to PNG, JPEG or TIFF', cause });
    throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${path}: ${code === 'ENOENT' ? 'file not found' : cause instanceof Error ? cause.message : String(cause)}`, {
      hint: code === 'ENOENT' ? 'check the path' : 'check that the file is a complete TIFF',
      cause,
    });
  }
  try {
    const count = await tiff.getImageCount();
    const levels: Level[] = [];
    const masks: Level[] = [];
    const cache = new BlockCache<Block>(options.blockCacheBytes ?? DEFAULT_BLOCK_CACHE_BYTES);
    for (let i = 0; i < count; i++) {
      const image = await tiff.getImage(i);
      cacheBlocks(image, String(i), cache);
      await checkBlocksInFile(image, `image ${path}`, fileBytes);
      const subfile = Number(image.fileDirectory.getValue('NewSubfileType') ?? 0);
      const level = { image, width: image.getWidth(), height: image.getHeight() };
      if (i === 0) levels.push(level);
      else if (subfile & SUBFILE_MASK) masks.push(level);
      else if (subfile & SUBFILE_REDUCED) levels.push(level);
    }
    const main = levels[0]!.image;
    const fd = main.fileDirectory;
    const bitsPerSample = (await fd.loadValue('BitsPerSample')) as ArrayLike<number> | number;
    const sampleFormat = (await fd.loadValue('SampleFormat')) as ArrayLike<number> | number | undefined;
    const firstOf = (v: ArrayLike<number> | number | undefined, fallback: number) => (typeof v === 'number' ? v : (v?.[0] ?? fallback));
    const bandCount = main.getSamplesPerPixel();
    const bits = Array.from({ length: bandCount }, (_, i) => (typeof bitsPerSample === 'number' ? bitsPerSample : (bitsPerSample[i] ?? firstOf(bitsPerSample, 8))));
    if (bits.some((b) => b !== bits[0])) throw new RsclipError('IMAGE_UNREADABLE', `${path} mixes sample sizes (${bits.join(', ')} bits)`, { hint: 'rewrite it with one sample size' });
    const dataType = dataTypeOf(bits[0]!, firstOf(sampleFormat, 1));
    const gdalMetadata = (await fd.loadValue('GDAL_METADATA')) as string | undefined;
    const extraSamples = (await fd.loadValue('ExtraSamples')) as ArrayLike<number> | number | undefined;
    const colors = bandColors(bandCount, fd.getValue('PhotometricInterpretation') as number | undefined, typeof extraSamples === 'number' ? [extraSamples] : extraSamples, gdalMetadata);
    const geoTags = {
      modelTiepoint: (await fd.loadValue('ModelTiepoint')) as ArrayLike<number> | undefined,
      modelPixelScale: (await fd.loadValue('ModelPixelScale')) as ArrayLike<number> | undefined,
      modelTransformation: (await fd.loadValue('ModelTransformation')) as ArrayLike<number> | undefined,
      geoKeys: main.getGeoKeys() as Record<string, unknown> | null,
    };
    let unusableGeoreference: string | undefined;
    const georeference = await readingGeoreference(path, async () => {
      const beforeTags = await worldFileBeforeGcps(path, geoTags, main.getWidth(), main.getHeight(), options);
      if (beforeTags) return beforeTags;
      // A TIFF without GeoTIFF tags (or with ground control points that cannot be fitted) may have a world file (.tfw) beside it.
      const fromTags = readGeoTiffGeoreference(geoTags, main.getWidth(), main.getHeight(), options.crs);
      unusableGeoreference = fromTags.unusable;
      return fromTags.georeference ?? (await readWorldFileGeoreference(path, main.getWidth(), main.getHeight(), { crs: options.crs, worldFile: options.worldFile }));
    });
    const photometric = fd.getValue('PhotometricInterpretation') as number | undefined;
    const ycbcr = photometric === PHOTOMETRIC_YCBCR && bandCount === 3;
    const compression = Number(fd.getValue('Compression') ?? 1);
    const jpeg = compression === COMPRESSION_JPEG && dataType === 'uint8';
    const libvipsAble =
      (options.decoder ?? 'auto') === 'auto' &&
      main.planarConfiguration === 1 &&
      (photometric === 1 || photometric === 2 || (ycbcr && jpeg)) &&
      (dataType === 'uint8' || dataType === 'uint16') &&
      (LIBVIPS_COMPRESSIONS.has(compression) || jpeg);
    const colourspace: StoredColourspace = photometric === 2 || ycbcr ? (dataType === 'uint16' ? 'rgb16' : 'srgb') : dataType === 'uint16' ? 'grey16' : 'b-w';
    if (photometric === PHOTOMETRIC_SEPARATED) {
      const why = notCmyk(Number((await fd.loadValue('InkSet')) ?? INKSET_CMYK), bandCount, dataType);
      if (why) {
        throw new TiffInksError(path, why);
      }
    }
    const colorMap = photometric === PHOTOMETRIC_PALETTE && bandCount === 1 ? ((await fd.loadValue('ColorMap')) as ArrayLike<number> | undefined) : undefined;
    // a palette image is its colours, three 8-bit bands (GDAL's -expand rgb)
    const source = colorMap
      ? new TiffSource(path, tiff, levels, masks, 'uint8', 3, ['red', 'green', 'blue'], main.getGDALNoData(), georeference, false, null, false, paletteOf(colorMap))
      : photometric === PHOTOMETRIC_SEPARATED
        ? new TiffSource(path, tiff, levels, masks, 'uint8', 3, ['red', 'green', 'blue'], main.getGDALNoData(), georeference, false, null, false, null, true)
        : new TiffSource(path, tiff, levels, masks, dataType, bandCount, colors, main.getGDALNoData(), georeference, ycbcr, libvipsAble ? colourspace : null, jpeg);
    if (georeference === null && unusableGeoreference !== undefined) source.unusableGeoreference = unusableGeoreference;
    await source.checkLibvips();
    return source;
  } catch (error) {
    // the file may not have opened at all: the error to report is the one above
    await Promise.resolve(tiff.close()).catch(() => undefined);
    if (error instanceof RsclipError) throw error;
    throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${path}: ${whatWentWrong(error)}`, { cause: error, hint: 'check that the whole file is there (a copy or upload cut short) and that it opens elsewhere (gdalinfo, QGIS)' });
  }
}

/**
 * The georeference of a GeoTIFF whose tags hold ground control points (and no affine transform)
 * and which has a world file beside it, as GDAL gives it: GDAL takes the geotransform from the
 * first of its georeferencing sources that has one (GDAL_GEOREF_SOURCES, by default PAM,
 * INTERNAL, TABFILE, WORLDFILE); tags with GCPs only give none, so the world file's is taken, and
 * gdalinfo and gdaltransform use it, not the GCPs, in the GeoKeys' CRS (GDAL's GeoTIFF driver
 * reads no .prj). Without GeoKeys giving a CRS, the world file's own (.prj, else `--crs`).
 * Undefined where the tags hold no GCPs or there is no world file.
 */
async function worldFileBeforeGcps(path: string, tags: GeoTiffGeoTags, width: number, height: number, options: TiffOpenOptions): Promise<Georeference | undefined> {
  if (!gcpsFromTags(tags)) return undefined;
  const world = await findWorldFile(path, options.worldFile);
  if (!world) return undefined;
  const keysCrs = crsFromGeoKeys(tags.geoKeys);
  if (!keysCrs) return (await readWorldFileGeoreference(path, width, height, { crs: options.crs, worldFile: world.file })) ?? undefined;
  const georeference: Georeference = { crs: keysCrs, geoTransform: parseWorldFile(world.text, world.file), width, height, source: 'world-file' };
  checkOnTheEarth(georeference, `world file ${world.file}`, "the world file's coordinates are likely in another CRS than the GeoTIFF's GeoKeys: fix one of them (e.g. gdal_edit.py -a_srs EPSG:32633 FILE)");
  return georeference;
}

/** A TIFF's signature (classic or BigTIFF, either byte order). */
export function isTiffBytes(bytes: Uint8Array): boolean {
  const order = (bytes[0] === 0x49 && bytes[1] === 0x49) || (bytes[0] === 0x4d && bytes[1] === 0x4d);
  const magic = bytes[0] === 0x49 ? bytes[2] : bytes[3];
  return bytes.length >= 8 && order && (magic === 42 || magic === 43);
}
