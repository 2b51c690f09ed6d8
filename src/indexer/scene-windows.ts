/**
 * The windows of a scene as model inputs: each planned window is read at native resolution
 * (a whole-image window larger than needed is read reduced, from overviews where the file has
 * them), rendered to 8-bit RGB with the scene's one stretch, checked for nodata, then put
 * through the model's own preprocessing (in the decode pool: the RGB goes straight to it, as
 * the same pixels a lossless file of that RGB would give). Reads run a few windows ahead of
 * the consumer, in plan order.
 */
import type { PlannedWindow } from '../geo/index.js';
import type { Raster8 } from '../model/index.js';
import { isMostlyNodata, type RgbWindow, type Scene } from '../raster/index.js';
import type { PixelPreparer } from './decode-pool.js';
import { orderedMap } from './ordered-map.js';

export type WindowResult = { window: PlannedWindow; pixels: Float32Array } | { window: PlannedWindow; nodata: true };

/** A whole-image window is read with its shorter side at most this many model inputs (the model sees one). */
const WHOLE_READ_INPUTS = 4;

/** Output size of a window read: native, except whole images far larger than the model needs. */
export function readSize(window: PlannedWindow, inputSize: number): { outWidth: number; outHeight: number } | undefined {
  const shorter = Math.min(window.width, window.height);
  const limit = WHOLE_READ_INPUTS * inputSize;
  if (!window.whole || shorter <= limit) return undefined;
  const f = limit / shorter;
  return { outWidth: Math.max(1, Math.round(window.width * f)), outHeight: Math.max(1, Math.round(window.height * f)) };
}

/** A window's pixels as the model's preprocessing takes them. */
export function windowRaster(window: RgbWindow): Raster8 {
  return { data: window.rgb, width: window.width, height: window.height, channels: 3 };
}

export function sceneWindows(scene: Scene, windows: readonly PlannedWindow[], pixels: PixelPreparer, inputSize: number, readAhead: number): AsyncGenerator<WindowResult> {
  return orderedMap(windows, readAhead, async (window): Promise<WindowResult> => {
    const rgb = await scene.readWindow(window, readSize(window, inputSize));
    if (isMostlyNodata(rgb)) return { window, nodata: true };
    return { window, pixels: await pixels.rgb(windowRaster(rgb)) };
  });
}
