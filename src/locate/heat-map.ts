/**
 * The heat map of a located query: the scene at most `maxSide` pixels a side, each pixel
 * coloured by the best score of the tiles that cover it (tiles overlap, and several scales
 * cover the same ground), on a colour ramp from the lowest to the highest tile score. Pixels no
 * tile covers (nodata windows are never scored) stay black, so the page can show the PNG as a
 * half-transparent overlay over the scene's own pixels. Its bbox is therefore the scene's.
 */
import type { PixelWindow } from '../geo/window.js';
import { encodeRgb } from '../raster/libvips.js';

export const DEFAULT_HEAT_MAP_SIDE = 512;

/** viridis at five stops: dark blue (worst tile) to yellow (best), readable by colour-blind eyes. */
const RAMP: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function rampColour(t: number): [number, number, number] {
  const f = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(f));
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  const u = f - i;
  return [Math.round(a[0] + (b[0] - a[0]) * u), Math.round(a[1] + (b[1] - a[1]) * u), Math.round(a[2] + (b[2] - a[2]) * u)];
}

export interface HeatMap {
  png: Buffer;
  width: number;
  height: number;
  /** The tile scores the ramp runs between. */
  minScore: number;
  maxScore: number;
}

export async function renderHeatMap(sceneWidth: number, sceneHeight: number, tiles: readonly { window: PixelWindow; score: number }[], maxSide = DEFAULT_HEAT_MAP_SIDE): Promise<HeatMap> {
  const f = Math.min(1, maxSide / Math.max(sceneWidth, sceneHeight));
  const width = Math.max(1, Math.round(sceneWidth * f));
  const height = Math.max(1, Math.round(sceneHeight * f));
  const best = new Float32Array(width * height).fill(-Infinity);
  for (const { window, score } of tiles) {
    const x0 = Math.max(0, Math.floor(window.x * f));
    const y0 = Math.max(0, Math.floor(window.y * f));
    const x1 = Math.min(width, Math.ceil((window.x + window.width) * f));
    const y1 = Math.min(height, Math.ceil((window.y + window.height) * f));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) if (score > best[y * width + x]!) best[y * width + x] = score;
    }
  }
  let minScore = tiles.length > 0 ? Infinity : 0;
  let maxScore = tiles.length > 0 ? -Infinity : 0;
  for (const { score } of tiles) {
    minScore = Math.min(minScore, score);
    maxScore = Math.max(maxScore, score);
  }
  const span = maxScore - minScore;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < best.length; i++) {
    const score = best[i]!;
    if (score === -Infinity) continue;
    rgb.set(rampColour(span > 0 ? (score - minScore) / span : 1), i * 3);
  }
  return { png: await encodeRgb(rgb, width, height, 'png'), width, height, minScore, maxScore };
}
