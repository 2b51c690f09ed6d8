/**
 * Tiling plans (Major TOM's fragments): windows of the model's input size times a scale, with an
 * overlap, the last row and column shifted to the border (never padded), at one or more scales.
 * Small images stay one whole-image window. The order is deterministic (scale, then row, then
 * column) and every window has a key that stays the same for the same plan parameters, so items
 * of an earlier run can be matched by key.
 */
import { RsclipError } from '../errors.js';
import type { PixelWindow } from './window.js';

/** `auto`: tile when a side is longer than 2x the input size; `off`: never; a number: tile when a side is longer than that many pixels. */
export type TileMode = 'auto' | 'off' | number;

export interface TilingOptions {
  /** The model's input size in pixels (e.g. 224). */
  inputSize: number;
  /** Window sizes as multiples of the input size; default [1]. */
  scales?: readonly number[];
  /** Fraction of a window shared with its neighbour, in [0, 1); default 0.25. */
  overlap?: number;
  /** Default `auto`. */
  tile?: TileMode;
}

export interface PlannedWindow extends PixelWindow {
  /** The window is `inputSize * scale` pixels a side; 1 for a whole-image window. */
  readonly scale: number;
  /** Stable key: `s<scale>:<x>,<y>` for a tile, `whole` for a whole-image window. */
  readonly key: string;
  /** True for the single window of an image that is not tiled. */
  readonly whole: boolean;
}

export const DEFAULT_OVERLAP = 0.25;

/** Parses `--tile auto|off|PX`. */
export function parseTileMode(text: string): TileMode {
  const t = text.trim().toLowerCase();
  if (t === 'auto' || t === 'off') return t;
  const n = Number(t);
  if (!Number.isInteger(n) || n <= 0) {
    throw new RsclipError('BAD_INPUT', `--tile must be auto, off or a positive number of pixels, got ${JSON.stringify(text)}`, {
      hint: 'e.g. --tile auto (tile sides longer than 2x the model input), --tile off, --tile 1024',
    });
  }
  return n;
}

/** Parses `--scales 1,2,4`. */
export function parseScales(text: string): number[] {
  const scales = text.split(',').map((s) => Number(s.trim()));
  if (scales.length === 0 || scales.some((s) => !Number.isInteger(s) || s <= 0)) {
    throw new RsclipError('BAD_INPUT', `--scales must be positive integers separated by commas, got ${JSON.stringify(text)}`, { hint: 'e.g. --scales 1,2,4' });
  }
  return [...new Set(scales)].sort((a, b) => a - b);
}

function checkOptions(options: TilingOptions): { inputSize: number; scales: number[]; overlap: number; tile: TileMode } {
  const { inputSize } = options;
  if (!Number.isInteger(inputSize) || inputSize <= 0) throw new RsclipError('BAD_INPUT', `tiling input size must be a positive integer, got ${inputSize}`);
  const overlap = options.overlap ?? DEFAULT_OVERLAP;
  if (!(overlap >= 0 && overlap < 1)) {
    throw new RsclipError('BAD_INPUT', `--overlap must be at least 0 and below 1, got ${overlap}`, { hint: 'e.g. --overlap 0.25 (a quarter of a window shared with each neighbour)' });
  }
  const scales = [...new Set(options.scales ?? [1])].sort((a, b) => a - b);
  if (scales.length === 0 || scales.some((s) => !Number.isInteger(s) || s <= 0)) throw new RsclipError('BAD_INPUT', `tiling scales must be positive integers, got ${scales.join(',')}`);
  const tile = options.tile ?? 'auto';
  return { inputSize, scales, overlap, tile };
}

/** Window starts along one axis: a regular stride, the last one moved to end at the border. */
export function axisOffsets(length: number, size: number, overlap: number): number[] {
  if (size >= length) return [0];
  const stride = Math.max(1, Math.round(size * (1 - overlap)));
  const offsets: number[] = [];
  for (let o = 0; o + size < length; o += stride) offsets.push(o);
  const last = length - size;
  if (offsets[offsets.length - 1] !== last) offsets.push(last);
  return offsets;
}

/** Whether an image of this size is cut into tiles under the options. */
export function shouldTile(width: number, height: number, options: TilingOptions): boolean {
  const { inputSize, tile } = checkOptions(options);
  if (tile === 'off') return false;
  const threshold = tile === 'auto' ? 2 * inputSize : tile;
  return Math.max(width, height) > threshold;
}

/**
 * The windows of an image of `width` x `height` pixels. A scale whose window does not fit in
 * the image's shorter side is skipped; when none fits, or the image is not tiled, the plan is one
 * whole-image window.
 */
export function planWindows(width: number, height: number, options: TilingOptions): PlannedWindow[] {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RsclipError('BAD_INPUT', `image size must be positive integers, got ${width}x${height}`);
  }
  const { inputSize, scales, overlap } = checkOptions(options);
  const whole: PlannedWindow[] = [{ x: 0, y: 0, width, height, scale: 1, key: 'whole', whole: true }];
  if (!shouldTile(width, height, options)) return whole;
  const windows: PlannedWindow[] = [];
  for (const scale of scales) {
    const size = inputSize * scale;
    if (size > Math.min(width, height)) continue;
    for (const y of axisOffsets(height, size, overlap)) {
      for (const x of axisOffsets(width, size, overlap)) {
        windows.push({ x, y, width: size, height: size, scale, key: `s${scale}:${x},${y}`, whole: false });
      }
    }
  }
  return windows.length > 0 ? windows : whole;
}

/** The plan's parameters as a canonical string, to record in an index and compare on the next run. */
export function tilingSignature(options: TilingOptions): string {
  const { inputSize, scales, overlap, tile } = checkOptions(options);
  return JSON.stringify({ inputSize, scales, overlap, tile });
}
