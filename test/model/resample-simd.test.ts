/** The WebAssembly SIMD passes of the resize give the portable passes' pixels, bit for bit. */
import { describe, expect, it } from 'vitest';
import { resampleCoefficients, resizeRaster, resizeRasterWindow, type FixedPointArithmetic, type Raster8, type ResampleFilter } from '../../src/model/resample.js';
import { simdAvailable } from '../../src/model/resample-simd.js';

/** A raster of reproducible noise (what exercises every weight and both clamps). */
function noise(width: number, height: number, channels: number, seed: number): Raster8 {
  const data = new Uint8Array(width * height * channels);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = state & 0xff;
  }
  return { data, width, height, channels };
}

function expectSamePixels(src: Raster8, width: number, height: number, filter: ResampleFilter, arithmetic: FixedPointArithmetic): void {
  const simd = resizeRaster(src, width, height, filter, arithmetic);
  const portable = resizeRaster(src, width, height, filter, arithmetic, { simd: false });
  expect([simd.width, simd.height, simd.channels]).toEqual([portable.width, portable.height, portable.channels]);
  // Buffer.compare: one failing byte among millions, without a diff of every pixel
  expect(Buffer.compare(Buffer.from(simd.data), Buffer.from(portable.data)), `${src.width}x${src.height}x${src.channels} -> ${width}x${height} ${filter} ${arithmetic}`).toBe(0);
}

describe('SIMD resize passes', () => {
  it('are available on this Node, so that the tests below compare two implementations', () => {
    expect(simdAvailable()).toBe(true);
  });

  it('give the portable pixels for every filter and arithmetic, shrinking and enlarging, one to five channels', () => {
    const filters: ResampleFilter[] = ['bicubic', 'bilinear', 'lanczos', 'box', 'hamming'];
    let seed = 1;
    for (let channels = 1; channels <= 5; channels++) {
      for (const filter of filters) {
        for (const arithmetic of ['torchvision', 'pillow'] as const) {
          const width = 1 + ((seed * 97) % 300);
          const height = 1 + ((seed * 61) % 300);
          const src = noise(width, height, channels, seed++);
          expectSamePixels(src, 1 + ((seed * 37) % 240), 1 + ((seed * 53) % 240), filter, arithmetic);
          expectSamePixels(src, 224, 224, filter, arithmetic);
        }
      }
    }
  });

  it('give the portable pixels where the rows go through in several bands (large and tall images)', () => {
    // 4,000 x 3,000 RGB: the horizontal pass in bands of rows; 300 x 16,000: the vertical one too
    expectSamePixels(noise(4000, 3000, 3, 7), 299, 224, 'bicubic', 'torchvision');
    expectSamePixels(noise(300, 16_000, 3, 8), 224, 11_947, 'bicubic', 'torchvision');
    expectSamePixels(noise(300, 16_000, 4, 9), 100, 200, 'lanczos', 'pillow');
  });
});

/** The crop at (left, top) of a raster. */
function crop(src: Raster8, left: number, top: number, width: number, height: number): Buffer {
  const rows = Array.from({ length: height }, (_, y) => src.data.subarray(((top + y) * src.width + left) * src.channels, ((top + y) * src.width + left + width) * src.channels));
  return Buffer.concat(rows);
}

describe('a window of a resize', () => {
  it('has the pixels of the whole resize there, SIMD and portable, for every filter and arithmetic', () => {
    const filters: ResampleFilter[] = ['bicubic', 'bilinear', 'lanczos', 'box', 'hamming', 'nearest'];
    let seed = 11;
    for (const filter of filters) {
      for (const arithmetic of ['torchvision', 'pillow'] as const) {
        for (const [w, h, ch, ow, oh] of [[600, 3, 3, 44_800, 224], [5, 400, 4, 224, 17_920], [300, 200, 3, 336, 224], [224, 300, 1, 224, 300], [50, 40, 5, 60, 10]] as const) {
          const src = noise(w, h, ch, seed++);
          const full = resizeRaster(src, ow, oh, filter, arithmetic);
          for (const simd of [true, false]) {
            for (const window of [{ left: Math.floor((ow - 10) / 2), top: Math.floor((oh - 7) / 2), width: 10, height: 7 }, { left: 0, top: 0, width: 1, height: oh }, { left: ow - 3, top: oh - 1, width: 3, height: 1 }]) {
              const part = resizeRasterWindow(src, ow, oh, window, filter, arithmetic, { simd });
              expect([part.width, part.height, part.channels]).toEqual([window.width, window.height, ch]);
              expect(Buffer.compare(Buffer.from(part.data), crop(full, window.left, window.top, window.width, window.height)), `${w}x${h}x${ch} -> ${ow}x${oh} ${filter} ${arithmetic} simd ${simd} at ${window.left},${window.top}`).toBe(0);
            }
          }
        }
      }
    }
  });

  it('takes torchvision\'s precision from the weights of every position, not only the window\'s', () => {
    // 2 -> 4 bicubic: the edge positions' weights, renormalised where the taps are cut off, reach
    // 1.09 (14 fractional bits); those of positions 1 and 2 stay under 0.8 (15 bits alone)
    const whole = resampleCoefficients(2, 4, 'bicubic', 'torchvision');
    const middle = resampleCoefficients(2, 4, 'bicubic', 'torchvision', 1, 2);
    expect([whole.precisionBits, middle.precisionBits]).toEqual([14, 14]);
    expect(Array.from(middle.weights)).toEqual(Array.from(whole.weights.subarray(whole.stride, 3 * whole.stride)));
  });

  it('refuses a window outside the resize', () => {
    const src = noise(4, 4, 3, 1);
    expect(() => resizeRasterWindow(src, 8, 8, { left: 4, top: 0, width: 5, height: 1 }, 'bicubic', 'torchvision')).toThrow(/window inside the 8x8 output/);
  });
});
