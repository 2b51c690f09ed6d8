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

/** Weights for resampling `inSize` samples to `outSize` (Pillow's `precompute_coeffs` over the full box). */
export function resampleCoefficients(inSize: number, outSize: number, filter: Exclude<ResampleFilter, 'nearest'>, arithmetic: FixedPointArithmetic): Coefficients {
  const kernel = KERNELS[filter];
  const weight = (arithmetic === 'torchvision' ? kernel.torchvision : undefined) ?? kernel.pillow;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = kernel.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const normalised = new Float64Array(outSize * stride);
  const invScale = 1 / filterScale;
  let maxWeight = 0;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const base = xx * stride;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      const w = weight((x + xmin - center + 0.5) * invScale);
      normalised[base + x] = w;
      sum += w;
    }
    if (sum !== 0) {
      for (let x = 0; x < n; x++) {
        const w = normalised[base + x]! / sum;
        normalised[base + x] = w;
        if (w > maxWeight) maxWeight = w;
      }
    }
    first[xx] = xmin;
    count[xx] = n;
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

/** Pillow's NEAREST (`ImagingScaleAffine`): source coordinates accumulate in steps of in/out. */
function resizeNearest(src: Raster8, width: number, height: number): Raster8 {
  const ch = src.channels;
  const out = new Uint8Array(width * height * ch);
  const sx = src.width / width;
  const sy = src.height / height;
  const columns = new Int32Array(width);
  let xo = sx * 0.5;
  for (let x = 0; x < width; x++) {
    columns[x] = Math.min(Math.trunc(xo), src.width - 1);
    xo += sx;
  }
  let yo = sy * 0.5;
  for (let y = 0; y < height; y++) {
    const rowBase = Math.min(Math.trunc(yo), src.height - 1) * src.width * ch;
    yo += sy;
    for (let x = 0; x < width; x++) {
      const s = rowBase + columns[x]! * ch;
      const o = (y * width + x) * ch;
      for (let b = 0; b < ch; b++) out[o + b] = src.data[s + b]!;
    }
  }
  return { data: out, width, height, channels: ch };
}

export interface ResizeOptions {
  /** Whether to use the WebAssembly SIMD passes where this engine has them (default true); the portable ones give the same pixels, slower. */
  simd?: boolean;
}

/**
 * Resizes to `width` x `height` with `filter`, antialiased when downscaling, in the fixed-point
 * arithmetic of Pillow or torchvision. Returns `src` itself when the size is unchanged.
 */
export function resizeRaster(src: Raster8, width: number, height: number, filter: ResampleFilter, arithmetic: FixedPointArithmetic, options: ResizeOptions = {}): Raster8 {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`Expected positive integer output size but received ${width}x${height}`);
  }
  if (width === src.width && height === src.height) return src;
  if (filter === 'nearest') return resizeNearest(src, width, height);
  const vertical = resampleCoefficients(src.height, height, filter, arithmetic);
  // The horizontal pass only needs the rows some vertical window reads.
  const firstRow = vertical.first[0]!;
  const endRow = vertical.first[height - 1]! + vertical.count[height - 1]!;
  const simd = (options.simd ?? true) && simdAvailable();
  let current = src;
  let rowShift = 0;
  if (width !== src.width) {
    const horizontal = simd && src.channels <= 4 ? resampleHorizontalSimd : resampleHorizontal;
    current = horizontal(src, width, firstRow, endRow - firstRow, resampleCoefficients(src.width, width, filter, arithmetic));
    rowShift = firstRow;
  }
  if (height !== src.height) current = (simd ? resampleVerticalSimd : resampleVertical)(current, height, rowShift, vertical);
  return current;
}
