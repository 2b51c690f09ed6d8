/**
 * Antialiased image resizing on 8-bit rasters, reproducing bit for bit the two fixed-point
 * implementations CLIP preprocessing goes through:
 *
 * - `pillow`: Pillow's `Image.resize` (`libImaging/Resample.c`), what transformers 4.x's
 *   `CLIPImageProcessor` used: weights with 22 fractional bits.
 * - `torchvision`: torch's antialiased uint8 `interpolate` (`UpSampleKernel.cpp`, a port of
 *   Pillow's code), what transformers 5.x's processor uses: int16 weights whose fractional bits
 *   are chosen per pass from the largest weight (about 14 to 17 bits). This is the one the golden
 *   pixels in ../shared/golden were produced with.
 *
 * Both: per output pixel, filter weights evaluated in double over a support widened by the
 * downscale factor, normalised to sum 1, rounded to fixed point; a horizontal pass, then a
 * vertical pass, each rounding (add half, arithmetic shift) and clipping to 0..255.
 *
 * Pure functions on typed arrays (no sharp, no I/O), so they can run in a worker thread. Both
 * passes also exist in WebAssembly SIMD (resample-simd.ts), which resizeRaster uses where the
 * engine has it: the same pixels, 4 to 10 times as fast.
 */
import { resampleHorizontalSimd, resampleVerticalSimd, simdAvailable } from './resample-simd.js';

/** An interleaved 8-bit raster: `data[(y * width + x) * channels + c]`. */
export interface Raster8 {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export type ResampleFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';
export type FixedPointArithmetic = 'pillow' | 'torchvision';

/** PIL's `Image.Resampling` ids, as `preprocessor_config.json` stores them in `resample`. */
const FILTER_BY_PIL_ID: readonly ResampleFilter[] = ['nearest', 'lanczos', 'bilinear', 'bicubic', 'box', 'hamming'];

/** Maps a PIL resample id (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming) to its filter. */
export function filterFromPilId(id: number): ResampleFilter | undefined {
  return Number.isInteger(id) ? FILTER_BY_PIL_ID[id] : undefined;
}

type Weight = (x: number) => number;

interface Kernel {
  support: number;
  pillow: Weight;
  /** torch's operation order where it differs from Pillow's (the last bits of a double can differ). */
  torchvision?: Weight;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

// Pillow multiplies by the float literals 0.54f and 0.46f, which widen to these doubles.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);
const CUBIC_A = -0.5;

const KERNELS: Record<Exclude<ResampleFilter, 'nearest'>, Kernel> = {
  box: { support: 0.5, pillow: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    pillow: (x) => {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    pillow: (x) => {
      const ax = Math.abs(x);
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    // Keys' cubic convolution with a = -0.5.
    pillow: (x) => {
      const ax = Math.abs(x);
      if (ax < 1) return ((CUBIC_A + 2) * ax - (CUBIC_A + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * CUBIC_A;
      return 0;
    },
    torchvision: (x) => {
      const ax = Math.abs(x);
      if (ax < 1) return ((CUBIC_A + 2) * ax - (CUBIC_A + 3)) * ax * ax + 1;
      if (ax < 2) return ((CUBIC_A * ax - 5 * CUBIC_A) * ax + 8 * CUBIC_A) * ax - 4 * CUBIC_A;
      return 0;
    },
  },
  lanczos: { support: 3, pillow: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PILLOW_PRECISION_BITS = 22;
const TORCH_MAX_PRECISION_BITS = 22;

/** Per output position: first input index, tap count, and fixed-point weights at `index * stride`. */
export interface Coefficients {
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  stride: number;
  /** Fractional bits of `weights`. */
  precisionBits: number;
}

/** torch: the most fractional bits for which the largest weight still fits an int16. */
function torchPrecisionBits(maxWeight: number): number {
  let bits = 0;
  while (bits < TORCH_MAX_PRECISION_BITS && Math.trunc(0.5 + maxWeight * 2 ** (bits + 1)) < 1 << 15) bits++;
  return bits;
}

function toFixed(w: number, one: number): number {
  return w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one);
}

/**
 * Above this many output positions, torchvision's weight precision is chosen from the positions
 * computed only (see resampleCoefficients). The whole-image resize of such an axis (an image
 * about 37,000 times as long as it is wide, enlarged to a short side of 224) needed over 4 GiB
 * for its largest array, more than a typed array holds, so no resize before this rule had one.
 */
export const FULL_PRECISION_SCAN_LIMIT = 2 ** 23;

/**
 * Weights for resampling `inSize` samples to `outSize` (Pillow's `precompute_coeffs` over the
 * full box), for output positions `[from, from + length)` only (default: all): the weights of
 * each position do not depend on the others, so a crop of the resized image takes only its own.
 * torchvision's precision comes from the largest weight of all `outSize` positions, which the
 * positions left out are scanned for (in constant memory) up to FULL_PRECISION_SCAN_LIMIT.
 */
export function resampleCoefficients(
  inSize: number,
  outSize: number,
  filter: Exclude<ResampleFilter, 'nearest'>,
  arithmetic: FixedPointArithmetic,
  from = 0,
  length = outSize - from,
): Coefficients {
  const kernel = KERNELS[filter];
  const weight = (arithmetic === 'torchvision' ? kernel.torchvision : undefined) ?? kernel.pillow;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = kernel.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(length);
  const count = new Int32Array(length);
  const normalised = new Float64Array(length * stride);
  const invScale = 1 / filterScale;
  let maxWeight = 0;
  /** Writes position `xx`'s normalised weights at `normalised[base...]` and returns their largest (0 where they sum to 0). */
  const position = (xx: number, out: Float64Array, base: number): number => {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      const w = weight((x + xmin - center + 0.5) * invScale);
      out[base + x] = w;
      sum += w;
    }
    let max = 0;
    if (sum !== 0) {
      for (let x = 0; x < n; x++) {
        const w = out[base + x]! / sum;
        out[base + x] = w;
        if (w > max) max = w;
      }
    }
    if (out === normalised) {
      first[xx - from] = xmin;
      count[xx - from] = n;
    }
    return max;
  };
  for (let xx = from; xx < from + length; xx++) maxWeight = Math.max(maxWeight, position(xx, normalised, (xx - from) * stride));
  if (arithmetic === 'torchvision' && length < outSize && outSize <= FULL_PRECISION_SCAN_LIMIT) {
    const scratch = new Float64Array(stride);
    for (let xx = 0; xx < outSize; xx++) {
      if (xx === from) xx += length;
      if (xx < outSize) maxWeight = Math.max(maxWeight, position(xx, scratch, 0));
    }
  }
  const precisionBits = arithmetic === 'pillow' ? PILLOW_PRECISION_BITS : torchPrecisionBits(maxWeight);
  const one = 2 ** precisionBits;
  const weights = new Int32Array(normalised.length);
  for (let i = 0; i < normalised.length; i++) weights[i] = toFixed(normalised[i]!, one);
  return { first, count, weights, stride, precisionBits };
}

/** Horizontal pass over rows `[rowOffset, rowOffset + outHeight)` of `src`. */
function resampleHorizontal(src: Raster8, outWidth: number, rowOffset: number, outHeight: number, c: Coefficients): Raster8 {
  const ch = src.channels;
  const { first, count, weights, stride, precisionBits } = c;
  const half = 2 ** (precisionBits - 1);
  const input = src.data;
  const out = new Uint8Array(outWidth * outHeight * ch);
  const inRow = src.width * ch;
  for (let y = 0; y < outHeight; y++) {
    const rowBase = (y + rowOffset) * inRow;
    const outBase = y * outWidth * ch;
    if (ch === 3) {
      // The common case, with the three sums kept in locals (about 2x faster than the loop below).
      for (let xx = 0; xx < outWidth; xx++) {
        const n = count[xx]!;
        const kBase = xx * stride;
        let p = rowBase + first[xx]! * 3;
        let r = half;
        let g = half;
        let b = half;
        for (let x = 0; x < n; x++, p += 3) {
          const k = weights[kBase + x]!;
          r += input[p]! * k;
          g += input[p + 1]! * k;
          b += input[p + 2]! * k;
        }
        const o = outBase + xx * 3;
        r >>= precisionBits;
        g >>= precisionBits;
        b >>= precisionBits;
        out[o] = r < 0 ? 0 : r > 255 ? 255 : r;
        out[o + 1] = g < 0 ? 0 : g > 255 ? 255 : g;
        out[o + 2] = b < 0 ? 0 : b > 255 ? 255 : b;
      }
      continue;
    }
    for (let xx = 0; xx < outWidth; xx++) {
      const n = count[xx]!;
      const kBase = xx * stride;
      const start = rowBase + first[xx]! * ch;
      for (let b = 0; b < ch; b++) {
        let acc = half;
        for (let x = 0, p = start + b; x < n; x++, p += ch) acc += input[p]! * weights[kBase + x]!;
        const v = acc >> precisionBits;
        out[outBase + xx * ch + b] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels: ch };
}

/** Vertical pass; `rowShift` is subtracted from every window start (rows the horizontal pass left out). */
function resampleVertical(src: Raster8, outHeight: number, rowShift: number, c: Coefficients): Raster8 {
  const rowLen = src.width * src.channels;
  const { first, count, weights, stride, precisionBits } = c;
  const half = 2 ** (precisionBits - 1);
  const input = src.data;
  const out = new Uint8Array(rowLen * outHeight);
  const acc = new Int32Array(rowLen);
  for (let yy = 0; yy < outHeight; yy++) {
    const n = count[yy]!;
    const kBase = yy * stride;
    const start = (first[yy]! - rowShift) * rowLen;
    acc.fill(half);
    for (let y = 0; y < n; y++) {
      const k = weights[kBase + y]!;
      const rowBase = start + y * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i]! += input[rowBase + i]! * k;
    }
    const outBase = yy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = acc[i]! >> precisionBits;
      out[outBase + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: out, width: src.width, height: outHeight, channels: src.channels };
}

/**
 * Pillow's NEAREST (`ImagingScaleAffine`): source coordinates accumulate in steps of in/out (the
 * positions before the window are stepped through, so that its coordinates are the same sums).
 */
function resizeNearest(src: Raster8, width: number, height: number, window: ResizeWindow): Raster8 {
  const ch = src.channels;
  const out = new Uint8Array(window.width * window.height * ch);
  const sx = src.width / width;
  const sy = src.height / height;
  const columns = new Int32Array(window.width);
  let xo = sx * 0.5;
  for (let x = 0; x < window.left + window.width; x++) {
    if (x >= window.left) columns[x - window.left] = Math.min(Math.trunc(xo), src.width - 1);
    xo += sx;
  }
  let yo = sy * 0.5;
  for (let y = 0; y < window.top; y++) yo += sy;
  for (let y = 0; y < window.height; y++) {
    const rowBase = Math.min(Math.trunc(yo), src.height - 1) * src.width * ch;
    yo += sy;
    for (let x = 0; x < window.width; x++) {
      const s = rowBase + columns[x]! * ch;
      const o = (y * window.width + x) * ch;
      for (let b = 0; b < ch; b++) out[o + b] = src.data[s + b]!;
    }
  }
  return { data: out, width: window.width, height: window.height, channels: ch };
}

/** Rows `[top, top + height)`, columns `[left, left + width)` of `src` (`src` itself when that is all of it; whole rows are not copied). */
function cropRaster(src: Raster8, { left, top, width, height }: ResizeWindow): Raster8 {
  const rowLen = src.width * src.channels;
  if (left === 0 && width === src.width) {
    return top === 0 && height === src.height ? src : { ...src, data: src.data.subarray(top * rowLen, (top + height) * rowLen), height };
  }
  const out = new Uint8Array(width * height * src.channels);
  for (let y = 0; y < height; y++) {
    const from = (top + y) * rowLen + left * src.channels;
    out.set(src.data.subarray(from, from + width * src.channels), y * width * src.channels);
  }
  return { data: out, width, height, channels: src.channels };
}

export interface ResizeOptions {
  /** Whether to use the WebAssembly SIMD passes where this engine has them (default true); the portable ones give the same pixels, slower. */
  simd?: boolean;
}

/** Columns `[left, left + width)` and rows `[top, top + height)` of an image. */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes to `width` x `height` with `filter`, antialiased when downscaling, in the fixed-point
 * arithmetic of Pillow or torchvision. Returns `src` itself when the size is unchanged.
 */
export function resizeRaster(src: Raster8, width: number, height: number, filter: ResampleFilter, arithmetic: FixedPointArithmetic, options: ResizeOptions = {}): Raster8 {
  return resizeRasterWindow(src, width, height, { left: 0, top: 0, width, height }, filter, arithmetic, options);
}

/**
 * `window` of the `width` x `height` resize of `src`, with the very pixels resizeRaster gives
 * there, computing no others: the passes are separable, so only the window's columns and the rows
 * its own rows read are resampled. Time and memory go with the window and the rows it reads, not
 * with the whole resize (a 60,000 x 2 image resized to a short side of 224 is 6,720,000 x 224).
 */
export function resizeRasterWindow(src: Raster8, width: number, height: number, window: ResizeWindow, filter: ResampleFilter, arithmetic: FixedPointArithmetic, options: ResizeOptions = {}): Raster8 {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`Expected positive integer output size but received ${width}x${height}`);
  }
  const { left, top } = window;
  if (![left, top, window.width, window.height].every(Number.isInteger) || left < 0 || top < 0 || window.width <= 0 || window.height <= 0 || left + window.width > width || top + window.height > height) {
    throw new RangeError(`Expected a window inside the ${width}x${height} output but received ${window.width}x${window.height} at ${left},${top}`);
  }
  if (width === src.width && height === src.height) return cropRaster(src, window);
  if (filter === 'nearest') return resizeNearest(src, width, height, window);
  const vertical = height !== src.height ? resampleCoefficients(src.height, height, filter, arithmetic, top, window.height) : undefined;
  // The horizontal pass only needs the rows some vertical window reads.
  const firstRow = vertical ? vertical.first[0]! : top;
  const endRow = vertical ? vertical.first[window.height - 1]! + vertical.count[window.height - 1]! : top + window.height;
  const simd = (options.simd ?? true) && simdAvailable();
  let current: Raster8;
  if (width !== src.width) {
    const horizontal = simd && src.channels <= 4 ? resampleHorizontalSimd : resampleHorizontal;
    current = horizontal(src, window.width, firstRow, endRow - firstRow, resampleCoefficients(src.width, width, filter, arithmetic, left, window.width));
  } else {
    current = cropRaster(src, { left, top: firstRow, width: window.width, height: endRow - firstRow });
  }
  if (vertical) current = (simd ? resampleVerticalSimd : resampleVertical)(current, window.height, firstRow, vertical);
  return current;
}
