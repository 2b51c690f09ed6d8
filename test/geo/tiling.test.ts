import { describe, expect, it } from 'vitest';
import { axisOffsets, parseScales, parseTileMode, planWindows, shouldTile, tilingSignature, windowInside } from '../../src/geo/index.js';

describe('axisOffsets', () => {
  it('steps by size * (1 - overlap) and shifts the last window to the border', () => {
    expect(axisOffsets(1000, 224, 0.25)).toEqual([0, 168, 336, 504, 672, 776]);
    expect(axisOffsets(448, 224, 0)).toEqual([0, 224]);
    expect(axisOffsets(449, 224, 0)).toEqual([0, 224, 225]);
    expect(axisOffsets(224, 224, 0.25)).toEqual([0]);
  });
});

describe('planWindows', () => {
  it('keeps a small image whole (a side up to 2x the input size)', () => {
    expect(planWindows(448, 300, { inputSize: 224 })).toEqual([{ x: 0, y: 0, width: 448, height: 300, scale: 1, key: 'whole', whole: true }]);
    expect(shouldTile(449, 10, { inputSize: 224 })).toBe(true);
    expect(planWindows(5000, 5000, { inputSize: 224, tile: 'off' })).toHaveLength(1);
    expect(planWindows(900, 900, { inputSize: 224, tile: 1000 })).toHaveLength(1);
    expect(planWindows(1001, 900, { inputSize: 224, tile: 1000 }).length).toBeGreaterThan(1);
  });

  it('covers every pixel, never pads, and orders by scale, row, column', () => {
    const width = 2000;
    const height = 1300;
    const windows = planWindows(width, height, { inputSize: 224, scales: [2, 1], overlap: 0.25 });
    const covered = new Uint8Array(width * height);
    for (const w of windows) {
      expect(windowInside(w, width, height)).toBe(true);
      expect(w.width).toBe(224 * w.scale);
      if (w.scale === 1) for (let y = w.y; y < w.y + w.height; y++) covered.fill(1, y * width + w.x, y * width + w.x + w.width);
    }
    expect(covered.every((v) => v === 1)).toBe(true);
    const order = windows.map((w) => [w.scale, w.y, w.x]);
    const sorted = [...order].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!);
    expect(order).toEqual(sorted);
    expect(new Set(windows.map((w) => w.key)).size).toBe(windows.length);
    expect(windows[0]!.key).toBe('s1:0,0');
    // The same parameters give the same keys.
    expect(planWindows(width, height, { inputSize: 224, scales: [1, 2] }).map((w) => w.key)).toEqual(windows.map((w) => w.key));
  });

  it('skips a scale whose window does not fit, and falls back to the whole image when none fits', () => {
    const windows = planWindows(3000, 500, { inputSize: 224, scales: [1, 4] });
    expect(new Set(windows.map((w) => w.scale))).toEqual(new Set([1]));
    expect(planWindows(3000, 200, { inputSize: 224 })).toEqual([{ x: 0, y: 0, width: 3000, height: 200, scale: 1, key: 'whole', whole: true }]);
  });

  it('checks its options', () => {
    expect(() => planWindows(100, 100, { inputSize: 224, overlap: 1 })).toThrow(/--overlap must be at least 0 and below 1, got 1/);
    expect(() => parseTileMode('big')).toThrow(/--tile must be auto, off or a positive number of pixels, got "big"/);
    expect(parseTileMode('AUTO')).toBe('auto');
    expect(parseTileMode('1024')).toBe(1024);
    expect(parseScales('4,1,2,2')).toEqual([1, 2, 4]);
    expect(() => parseScales('1,0.5')).toThrow(/--scales must be positive integers/);
    expect(tilingSignature({ inputSize: 224, scales: [2, 1] })).toBe(tilingSignature({ inputSize: 224, scales: [1, 2], overlap: 0.25, tile: 'auto' }));
  });
});
