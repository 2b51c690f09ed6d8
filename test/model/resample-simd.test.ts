/** The WebAssembly SIMD passes of the resize give the portable passes' pixels, bit for bit. */
import { describe, expect, it } from 'vitest';
import { resizeRaster, type FixedPointArithmetic, type Raster8, type ResampleFilter } from '../../src/model/resample.js';
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
