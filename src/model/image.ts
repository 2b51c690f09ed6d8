/**
 * Image decoding and CLIP preprocessing, as transformers 5.x's `CLIPImageProcessor` does it:
 *   convert to RGB -> resize shortest side (PIL filter, `get_resize_output_image_size`)
 *   -> centre crop (zero padding if the crop is larger) -> rescale -> normalise -> [3, H, W] float32.
 *
 * The model folder's one use of sharp (loaded when first called). sharp decodes (no EXIF
 * rotation and no ICC transform, because PIL applies neither); the resize reproduces
 * torchvision's fixed-point antialiased resize (`resample.ts`), so the pixels equal the Python
 * reference's bit for bit.
 *
 * RGB conversion: grey is repeated into 3 channels; alpha is dropped, not composited (as PIL's
 * `convert("RGB")`); images with more than 4 bands keep their first 3. 16-bit images are
 * reduced to 8 bits by their high byte (v >> 8, so 65535 -> 255 over the full range, never
 * clipped); that is what libvips does and what PIL does for 16-bit RGB. Query images
 * (preprocessQueryImage) of 16-bit, float or band-reordered data are rendered as the indexer
 * renders them instead (src/raster/whole-image.ts), so that a file searched with itself finds itself.
 */
import type { Stats } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { default as SharpFactory, Sharp } from 'sharp';
import { isRsclipError, RsclipError } from '../errors.js';
import { parseImageHeader } from '../raster/image-header.js';
import { isTiffPath, openRaster } from '../raster/open-raster.js';
import { checkTiffComplete, readTiffSize, TiffTruncatedError } from '../raster/tiff-complete.js';
import { TiffInksError } from '../raster/tiff-source.js';
import { unreadableFormat } from '../raster/unreadable-format.js';
import { isTiffBytes } from '../raster/tiff-source.js';
import type { RasterSource } from '../raster/types.js';
import { decodedAsIs, renderWholeImage } from '../raster/whole-image.js';
import type { AlreadyRead, ImageSource, PreprocessedImage, QueryRendering } from './encoder-types.js';
import type { PreprocessConfig } from './model-dir.js';
import { filterFromPilId, resizeRasterWindow, type FixedPointArithmetic, type Raster8 } from './resample.js';
import { decodeSmallJpeg, isSmallJpeg } from './small-jpeg.js';
import { lazyPackage } from '../lazy-package.js';

const loadSharp = lazyPackage<typeof SharpFactory>('sharp');

/** PIL's decompression-bomb error threshold (2 x `Image.MAX_IMAGE_PIXELS`). */
export const DEFAULT_MAX_INPUT_PIXELS = 178_956_970;

/** Bands libvips may hand us; multispectral GeoTIFFs carry a dozen or so. */
const MAX_INPUT_BANDS = 64;

/**
 * Largest query image (an upload to the server), in pixels. The model sees 224x224; a query
 * never needs more than a few thousand pixels a side, and archive files keep PIL's limit.
 */
export const DEFAULT_MAX_QUERY_PIXELS = 4096 * 4096;

/** Formats that declare any size in a few bytes and are rendered, not decoded. */
const VECTOR_FORMATS = new Set(['svg', 'pdf']);

export interface DecodeOptions {
  /** Largest accepted width x height; default 178,956,970 (as PIL). */
  maxInputPixels?: number;
  /**
   * Bytes of the file that the caller has read already (the indexer's content hash): a PNG or
   * JPEG header in them is not parsed again by libvips (about 0.9 ms of CPU per small image), and
   * a file read whole is decoded from memory, not read again (0.7 ms); errors still name the path.
   */
  alreadyRead?: AlreadyRead;
}

function describeSource(source: ImageSource): string {
  return typeof source === 'string' ? `image ${source}` : 'the uploaded image';
}

/** What to do about an image past the pixel limit: a query image can only be smaller (`search` has no option to raise it); an archive's limit is raised by `rsclip index --max-input-pixels`. */
function pixelLimitHint(query: boolean): string {
  return query ? 'use a smaller query image: the model looks at 224x224 pixels of it anyway' : 'downscale the image or raise the pixel limit (--max-input-pixels)';
}

async function unreadableError(source: ImageSource, cause: unknown, query = false): Promise<RsclipError> {
  if (isRsclipError(cause, 'DEPENDENCY_MISSING')) return cause;
  const label = describeSource(source);
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (/exceeds pixel limit/i.test(reason)) {
    return new RsclipError('IMAGE_TOO_LARGE', `${label} is larger than the pixel limit`, { hint: pixelLimitHint(query), cause });
  }
  // libvips gathers its messages, one a line, often the same one for each attempt at the file;
  // sharp puts its own words before the first
  const header = /^Input (?:file|buffer) has corrupt header: /.exec(reason)?.[0];
  const lines = (header ? reason.slice(header.length) : reason).split('\n').map((line) => line.replace(/\s+/g, ' ').trim());
  let why = [...new Set(lines.filter((line) => line !== ''))].join('; ');
  if (why === '' || why === 'Unknown error') why = 'the decoder gave no reason (a truncated file, or not an image)';
  if (header) why = `corrupt header: ${why}`;
  let hint = 'check that the file is a complete JPEG, PNG, TIFF, WebP or GIF image';
  const format = /unsupported image format/i.test(reason) ? await unreadableFormat(source) : undefined;
  if (format) {
    why = `image format rsclip cannot read (${format})`;
    hint = 'convert it to PNG, JPEG or TIFF';
  }
  if (typeof source === 'string') {
    const info = await stat(source).catch(() => undefined);
    if (info === undefined) {
      why = 'file not found';
      hint = 'check the path';
    } else if (info.size === 0) why = 'file is empty (0 bytes)';
  }
  if (/separate planes/.test(why)) hint = 'libvips cannot read tiled band-separate TIFFs; rewrite it pixel-interleaved, e.g. gdal_translate -co INTERLEAVE=PIXEL in.tif out.tif';
  return new RsclipError('IMAGE_UNREADABLE', `cannot read ${label}: ${why}`, { hint, cause });
}

/** `maxInputPixels` 0: no limit (for reading the header only). */
function openSharp(source: ImageSource, maxInputPixels: number): Sharp {
  if (typeof source !== 'string' && source.length === 0) {
    throw new RsclipError('IMAGE_UNREADABLE', `cannot read ${describeSource(source)}: it is empty (0 bytes)`, {
      hint: 'upload a JPEG, PNG, TIFF, WebP or GIF image',
    });
  }
  return loadSharp()(source, {
    failOn: 'truncated',
    limitInputPixels: maxInputPixels,
    limitInputChannels: MAX_INPUT_BANDS,
    ignoreIcc: true,
    autoOrient: false,
    pages: 1,
    page: 0,
  });
}

function checkPixelLimit(source: ImageSource, width: number, height: number, maxInputPixels: number, query: boolean): void {
  if (width * height > maxInputPixels) {
    throw new RsclipError(
      'IMAGE_TOO_LARGE',
      // an upload's limit is the server's own, far below an archive's
      `${describeSource(source)} has ${width}x${height} = ${width * height} pixels, more than the limit of ${maxInputPixels}${query && typeof source !== 'string' ? ' for a query image' : ''}`,
      { hint: pixelLimitHint(query) },
    );
  }
}

/** Interleaved bands -> RGB: grey repeated, alpha and extra bands dropped. */
function toRgb(data: Uint8Array, width: number, height: number, bands: number): Raster8 {
  if (bands === 3) return { data, width, height, channels: 3 };
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  if (bands <= 2) {
    for (let i = 0, s = 0; i < n; i++, s += bands) {
      const v = data[s]!;
      rgb[i * 3] = v;
      rgb[i * 3 + 1] = v;
      rgb[i * 3 + 2] = v;
    }
  } else {
    for (let i = 0, s = 0; i < n; i++, s += bands) {
      rgb[i * 3] = data[s]!;
      rgb[i * 3 + 1] = data[s + 1]!;
      rgb[i * 3 + 2] = data[s + 2]!;
    }
  }
  return { data: rgb, width, height, channels: 3 };
}

export interface DecodedRgb {
  rgb: Raster8;
  /** Format sharp detected (jpeg, png, tiff, webp, gif, ...). */
  format: string;
}

interface Header {
  format: string;
  bands: number;
  /** libvips's band format: uchar, ushort, float... */
  depth: string;
}

function vectorFormatError(source: ImageSource, format: string): RsclipError {
  return new RsclipError('IMAGE_UNREADABLE', `${describeSource(source)} is ${format.toUpperCase()}, a vector format, which is not accepted as a query image`, {
    hint: 'search with a raster image: JPEG, PNG, TIFF, WebP or GIF',
  });
}

/** An SVG is XML: no raster format starts with `<` (a UTF-8 byte-order mark and blanks may precede it). */
function looksLikeXml(bytes: Buffer): boolean {
  const text = bytes.subarray(0, 256).toString('latin1').replace(/^\xef\xbb\xbf/, '').trimStart();
  return text.startsWith('<');
}

/**
 * Reads the header (no pixel limit there, so the error can state the size), then enforces the
 * limit. `query`: a query image, which must be a raster format (a 120-byte SVG can ask for 169
 * megapixels).
 */
async function readHeader(source: ImageSource, maxInputPixels: number, query = false): Promise<Header> {
  if (query && typeof source !== 'string' && looksLikeXml(source)) throw vectorFormatError(source, 'svg');
  try {
    const meta = await openSharp(source, 0).metadata();
    if (query && meta.format !== undefined && VECTOR_FORMATS.has(meta.format)) throw vectorFormatError(source, meta.format);
    if (meta.width !== undefined && meta.height !== undefined) checkPixelLimit(source, meta.width, meta.height, maxInputPixels, query);
    return { format: meta.format ?? 'unknown', bands: meta.channels ?? 3, depth: meta.depth ?? 'uchar' };
  } catch (error) {
    if (error instanceof RsclipError) throw error;
    throw await unreadableError(source, error, query);
  }
}

/** Decodes any image sharp reads into 8-bit RGB, PIL-style (see the module comment). */
export async function decodeRgb8(source: ImageSource, options: DecodeOptions = {}): Promise<DecodedRgb> {
  const decoded = await decodeColour8(source, options);
  const { data, width, height, channels } = decoded.rgb;
  return channels === 3 ? decoded : { ...decoded, rgb: toRgb(data, width, height, channels) };
}

/**
 * decodeRgb8 without dropping alpha and extra bands: RGB, or three bands and more that
 * preprocessing reads the first three of (grey is made RGB). The model's 224 px chips skip a copy
 * of every pixel this way. `query`: as for readHeader; `header`: read already (and checked).
 */
async function decodeColour8(source: ImageSource, options: DecodeOptions, query = false, header?: Header): Promise<DecodedRgb> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const content = options.alreadyRead?.content?.length ? options.alreadyRead.content : undefined;
  const inMemory = content ?? (typeof source === 'string' ? undefined : source);
  const firstBytes = inMemory ?? options.alreadyRead?.head;
  const known = firstBytes ? parseImageHeader(firstBytes) : undefined;
  if (known) checkPixelLimit(source, known.width, known.height, maxInputPixels, query);
  const { format } = known ?? header ?? (await readHeader(source, maxInputPixels, query));
  // libvips reads the blocks of a TIFF cut short as black, without a word
  if (format === 'tiff' && options.alreadyRead?.tiffChecked !== true) await checkTiffComplete(inMemory ?? source, describeSource(source));
  if (inMemory && isSmallJpeg(known)) {
    const rgba = await decodeSmallJpeg(inMemory);
    if (rgba) return { rgb: rgba, format };
  }
  try {
    // raw() without a depth: libvips converts 16-bit grey/RGB to 8 bits by the high byte.
    const input = content ? Buffer.from(content.buffer, content.byteOffset, content.byteLength) : source;
    const { data, info } = await openSharp(input, maxInputPixels).raw().toBuffer({ resolveWithObject: true });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { rgb: info.channels >= 3 ? { data: bytes, width: info.width, height: info.height, channels: info.channels } : toRgb(bytes, info.width, info.height, info.channels), format };
  } catch (error) {
    throw await unreadableError(source, error, query);
  }
}

/**
 * The cheap check of a query upload before it is queued for decoding: a raster format whose
 * header declares at most `maxPixels` (default DEFAULT_MAX_QUERY_PIXELS). Only the header is
 * read, in libuv's pool; throws IMAGE_UNREADABLE or IMAGE_TOO_LARGE.
 */
export async function checkQueryImage(bytes: Buffer, maxPixels = DEFAULT_MAX_QUERY_PIXELS): Promise<void> {
  // the scene reader's TIFFs include some whose header libvips refuses (64-bit floats)
  const tiff = isTiffBytes(bytes) ? await readTiffSize(bytes) : undefined;
  if (tiff) checkPixelLimit(bytes, tiff.width, tiff.height, maxPixels, true);
  else await readHeader(bytes, maxPixels, true);
}

/** transformers' `get_resize_output_image_size(size=shortest_edge, default_to_square=False)`: (height, width). */
export function shortestEdgeSize(height: number, width: number, shortestEdge: number): { height: number; width: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height ? { height: newLong, width: shortestEdge } : { height: shortestEdge, width: newLong };
}

/**
 * Per-channel lookup from a uint8 value to its float32 model input, in transformers 5.x's float32
 * steps: with both rescale and normalise it fuses them as `(v - mean / f) / (std / f)`.
 */
function valueTable(cfg: PreprocessConfig): Float32Array {
  const table = new Float32Array(3 * 256);
  const fused = cfg.doRescale && cfg.doNormalize;
  const inverseFactor = Math.fround(1 / cfg.rescaleFactor);
  for (let c = 0; c < 3; c++) {
    let mean = Math.fround(cfg.imageMean[c]!);
    let std = Math.fround(cfg.imageStd[c]!);
    if (fused) {
      mean = Math.fround(mean * inverseFactor);
      std = Math.fround(std * inverseFactor);
    }
    for (let v = 0; v < 256; v++) {
      let x = cfg.doRescale && !fused ? Math.fround(v * cfg.rescaleFactor) : v;
      if (cfg.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
      table[c * 256 + v] = x;
    }
  }
  return table;
}

/**
 * The value table applied to `img`'s pixels channel-first into `out` (every value of it: a reused
 * array needs no clearing), for a crop of `cropHeight` x `cropWidth` whose top-left corner is at
 * (`left`, `top`) of `img`, with zero padding where the crop leaves it. Reads the first three of
 * the image's channels.
 */
function cropToChannelFirst(img: Raster8, top: number, left: number, cropHeight: number, cropWidth: number, table: Float32Array, out: Float32Array): Float32Array {
  const plane = cropHeight * cropWidth;
  const { data, channels } = img;
  if (top >= 0 && left >= 0 && top + cropHeight <= img.height && left + cropWidth <= img.width) {
    // the crop lies inside the image (the usual case): no bounds to check per pixel
    for (let y = 0; y < cropHeight; y++) {
      let s = ((y + top) * img.width + left) * channels;
      for (let o = y * cropWidth, end = o + cropWidth; o < end; o++, s += channels) {
        out[o] = table[data[s]!]!;
        out[plane + o] = table[256 + data[s + 1]!]!;
        out[2 * plane + o] = table[512 + data[s + 2]!]!;
      }
    }
    return out;
  }
  for (let y = 0; y < cropHeight; y++) {
    const sy = y + top;
    const inRow = sy >= 0 && sy < img.height;
    for (let x = 0; x < cropWidth; x++) {
      const sx = x + left;
      const o = y * cropWidth + x;
      if (inRow && sx >= 0 && sx < img.width) {
        const s = (sy * img.width + sx) * channels;
        out[o] = table[data[s]!]!;
        out[plane + o] = table[256 + data[s + 1]!]!;
        out[2 * plane + o] = table[512 + data[s + 2]!]!;
      } else {
        out[o] = table[0]!;
        out[plane + o] = table[256]!;
        out[2 * plane + o] = table[512]!;
      }
    }
  }
  return out;
}

/** Most values preprocessRgb writes without a centre crop (a 16,384 x 16,384 RGB model input). */
const MAX_UNCROPPED_VALUES = 3 * 16_384 * 16_384;

/**
 * The preprocessing after decoding: resize, crop, rescale, normalise. Pure (typed arrays in and
 * out), so it can run in a worker thread. `arithmetic` 'pillow' gives transformers 4.x's resize
 * (1-level differences on a few pixels in a thousand, see resample.ts). `into`: an array to
 * write (and return) instead of a new one, of the crop's size. `rgb` may have more than three
 * channels (alpha, extra bands): the first three are read.
 *
 * The centre crop is taken as transformers' `center_crop` takes it from the resized image (top =
 * floor((H - h) / 2), zero padding where the crop leaves the image), but only its pixels are
 * resized (resizeRasterWindow): the same values, in time and memory that go with the crop, however
 * elongated the image (a 60,000 x 2 strip's whole resize would be 6,720,000 x 224).
 */
export function preprocessRgb(rgb: Raster8, cfg: PreprocessConfig, arithmetic: FixedPointArithmetic = 'torchvision', into?: Float32Array): Float32Array {
  if (rgb.channels < 3) throw new RangeError(`preprocessRgb: an image of 3 channels or more, not ${rgb.channels}`);
  const size = cfg.doResize ? shortestEdgeSize(rgb.height, rgb.width, cfg.shortestEdge) : { height: rgb.height, width: rgb.width };
  const cropHeight = cfg.doCenterCrop ? cfg.cropHeight : size.height;
  const cropWidth = cfg.doCenterCrop ? cfg.cropWidth : size.width;
  const length = 3 * cropHeight * cropWidth;
  if (!cfg.doCenterCrop && length > MAX_UNCROPPED_VALUES) {
    throw new RsclipError('IMAGE_TOO_LARGE', `a ${rgb.width}x${rgb.height} image resized to ${size.width}x${size.height} is too large a model input (this model's preprocessing does not crop)`, {
      hint: 'use an image closer to square, or a model whose preprocessor_config.json has do_center_crop',
    });
  }
  if (into && into.length !== length) throw new RangeError(`preprocessRgb: an output array of ${length} values, not ${into.length}`);
  // the crop's offset in the resized image, and the part of the resized image it covers
  const top = Math.floor((size.height - cropHeight) / 2);
  const left = Math.floor((size.width - cropWidth) / 2);
  const window = { top: Math.max(top, 0), left: Math.max(left, 0), height: Math.min(top + cropHeight, size.height) - Math.max(top, 0), width: Math.min(left + cropWidth, size.width) - Math.max(left, 0) };
  let img = rgb;
  if (cfg.doResize) {
    const filter = filterFromPilId(cfg.resample);
    if (filter === undefined) {
      throw new RsclipError('MODEL_INVALID', `preprocessor_config.json resample must be a PIL filter id 0..5 but is ${cfg.resample}`);
    }
    // the bands the model never sees are dropped before resizing, not resized
    if (img.channels > 3 && (size.width !== img.width || size.height !== img.height)) img = toRgb(img.data, img.width, img.height, img.channels);
    img = resizeRasterWindow(img, size.width, size.height, window, filter, arithmetic);
    return cropToChannelFirst(img, top - window.top, left - window.left, cropHeight, cropWidth, valueTable(cfg), into ?? new Float32Array(length));
  }
  return cropToChannelFirst(img, top, left, cropHeight, cropWidth, valueTable(cfg), into ?? new Float32Array(length));
}

/** Decodes one image and preprocesses it for the vision tower, as `CLIPImageProcessor` does (`into`: as for preprocessRgb). */
export async function preprocessImage(source: ImageSource, cfg: PreprocessConfig, options: DecodeOptions = {}, into?: Float32Array): Promise<PreprocessedImage> {
  const { rgb, format } = await decodeColour8(source, options);
  return { pixels: preprocessRgb(rgb, cfg, 'torchvision', into), width: rgb.width, height: rgb.height, format };
}

export interface QueryImageOptions extends QueryRendering {
  /** Largest accepted width x height; default 178,956,970 (as PIL). */
  maxInputPixels?: number;
}

function fileKind(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a named pipe';
  if (info.isSocket()) return 'a socket';
  return 'a device';
}

/** A query path (a query image, a scene to locate in) must be a regular file: reading a named pipe waits for a writer forever. One that is not there is left to the decoder to report; `shown` names it in the error. */
export async function checkRegularFile(file: string, shown = file): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || info.isFile()) return;
  throw new RsclipError('IMAGE_UNREADABLE', `cannot read image ${shown}: not a regular file (${fileKind(info)})`, { hint: 'give the path of an image file' });
}

/**
 * The query image as the scene reader opens it, or undefined where it cannot (the decoder then
 * reports the file in its own words, as the indexer leaves it to). Uploaded bytes are written to a
 * temporary file first: the scene reader's sources (libvips windows, geotiff.js) read files, and
 * so the upload is read by the very code that read the indexed file. `use` runs while it is open.
 */
async function withQueryRaster<T>(source: ImageSource, format: string, use: (raster: RasterSource | undefined) => Promise<T>): Promise<T> {
  const usedOpen = async (file: string): Promise<T> => {
    const raster = await openQueryRaster(file);
    try {
      return await use(raster);
    } finally {
      await raster?.close();
    }
  };
  if (typeof source === 'string') return usedOpen(source);
  const dir = await mkdtemp(path.join(tmpdir(), 'rsclip-query-'));
  const file = path.join(dir, `query.${format === 'tiff' ? 'tif' : format}`);
  try {
    await writeFile(file, source, { mode: 0o600 });
    return await usedOpen(file);
  } catch (error) {
    // in the upload's own words, not the temporary file's (a TIFF cut short is refused by the reader that opens it)
    if (!(error instanceof RsclipError) || !error.message.includes(file)) throw error;
    const label = describeSource(source);
    throw new RsclipError(error.code, error.message.replaceAll(`image ${file}`, label).replaceAll(file, label), { hint: error.hint, cause: error });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function openQueryRaster(file: string): Promise<RasterSource | undefined> {
  try {
    // a query has no place: a world file beside it is not looked for
    return await openRaster(file, { worldFile: null });
  } catch (error) {
    if (error instanceof TiffTruncatedError || error instanceof TiffInksError || isRsclipError(error, 'DEPENDENCY_MISSING')) throw error;
    return undefined;
  }
}

/**
 * A query image (a file or an upload) decoded and preprocessed as the indexer decodes the same
 * file embedded whole (src/raster/whole-image.ts), so that an indexed image searched with itself
 * finds itself: 8-bit images as preprocessImage does (bit for bit), 16-bit, signed, float and
 * band-reordered ones with the default band choice and one 2-98 % stretch. Refuses vector formats
 * (rendered at whatever size they declare) and paths that are not regular files.
 */
export async function preprocessQueryImage(source: ImageSource, cfg: PreprocessConfig, options: QueryImageOptions = {}, into?: Float32Array): Promise<PreprocessedImage> {
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (typeof source === 'string') await checkRegularFile(source);
  const tiff = typeof source === 'string' ? isTiffPath(source) : isTiffBytes(source);
  let header: Header | undefined;
  if (!tiff) {
    // as the indexer: other formats reach the scene reader only with 16-bit samples
    const known = typeof source === 'string' ? undefined : parseImageHeader(source);
    if (known) checkPixelLimit(source, known.width, known.height, maxInputPixels, true);
    header = known ? { format: known.format, bands: known.channels, depth: known.depth } : await readHeader(source, maxInputPixels, true);
  }
  const decode = async (tiffChecked: boolean): Promise<PreprocessedImage> => {
    const { rgb, format } = await decodeColour8(source, { maxInputPixels, ...(tiffChecked ? { alreadyRead: { tiffChecked } } : {}) }, true, header);
    return { pixels: preprocessRgb(rgb, cfg, 'torchvision', into), width: rgb.width, height: rgb.height, format };
  };
  // bands chosen by the index: rendered through the scene reader whatever the depth, as the indexer does
  if (header && header.depth !== 'ushort' && options.bands === undefined) return decode(false);
  return withQueryRaster(source, header?.format ?? 'tiff', async (raster) => {
    if (!raster) return decode(false);
    checkPixelLimit(source, raster.width, raster.height, maxInputPixels, true);
    if (decodedAsIs(raster, options.bands)) {
      try {
        return await decode(raster.format === 'tiff');
      } catch (error) {
        // as the indexer: a TIFF the model's decoder cannot read goes through the scene reader
        if (raster.format !== 'tiff' || !isRsclipError(error, 'IMAGE_UNREADABLE')) throw error;
      }
    }
    const { rgb } = await renderWholeImage(raster, { inputSize: cfg.cropHeight, ...(options.bands ? { bands: options.bands } : {}), ...(options.percentiles ? { percentiles: options.percentiles } : {}) });
    const pixels = preprocessRgb({ data: rgb.rgb, width: rgb.width, height: rgb.height, channels: 3 }, cfg, 'torchvision', into);
    return { pixels, width: raster.width, height: raster.height, format: raster.format };
  });
}

export interface ThumbnailOptions extends DecodeOptions {
  /** Longest side of the thumbnail in pixels; smaller images are not enlarged. */
  maxSide: number;
  format?: 'webp' | 'jpeg';
}

export interface Thumbnail {
  data: Buffer;
  contentType: string;
  width: number;
  height: number;
}

/** A small web-ready rendering (the same RGB conversion as preprocessing, so 16-bit and multi-band images show). */
export async function createThumbnail(source: ImageSource, options: ThumbnailOptions): Promise<Thumbnail> {
  if (!(Number.isInteger(options.maxSide) && options.maxSide > 0)) {
    throw new RsclipError('BAD_INPUT', `Expected positive integer for maxSide but received ${String(options.maxSide)} of type ${typeof options.maxSide}`);
  }
  const maxInputPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const { bands } = await readHeader(source, maxInputPixels);
  let image: Sharp;
  if (bands <= 4) {
    // sharp resizes these itself (JPEG shrink-on-load); like decodeRgb8 it keeps the high byte of
    // 16-bit samples, and alpha is dropped as the model never sees it.
    image = openSharp(source, maxInputPixels).removeAlpha();
  } else {
    const { rgb } = await decodeRgb8(source, options);
    image = loadSharp()(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } });
  }
  const format = options.format ?? 'webp';
  const resized = image.resize(options.maxSide, options.maxSide, { fit: 'inside', withoutEnlargement: true });
  const encoded = format === 'webp' ? resized.webp({ quality: 80 }) : resized.jpeg({ quality: 85 });
  try {
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { data, contentType: format === 'webp' ? 'image/webp' : 'image/jpeg', width: info.width, height: info.height };
  } catch (error) {
    throw await unreadableError(source, error);
  }
}

export interface ImageInfo {
  width: number;
  height: number;
  /** Format sharp detected (jpeg, png, tiff, webp, gif, ...). */
  format: string;
  bands: number;
  /** Bits per sample of one band (8 for ordinary images, 16 for many remote-sensing rasters). */
  bitDepth: number;
}

const BITS_PER_SAMPLE: Record<string, number> = {
  uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, complex: 64, double: 64, dpcomplex: 128,
};

/** Reads the header only (no pixel decoding). */
export async function readImageInfo(source: ImageSource): Promise<ImageInfo> {
  const image = openSharp(source, 0);
  try {
    const meta = await image.metadata();
    if (meta.width === undefined || meta.height === undefined) throw new Error('no image size in the header');
    return {
      width: meta.width,
      height: meta.height,
      format: meta.format ?? 'unknown',
      bands: meta.channels ?? 3,
      bitDepth: BITS_PER_SAMPLE[meta.depth ?? 'uchar'] ?? 8,
    };
  } catch (error) {
    throw await unreadableError(source, error);
  }
}
