/**
 * The windows of a scene as model inputs: each planned window is read at native resolution
 * (a whole-image window larger than needed is read reduced, from overviews where the file has
 * them), rendered to 8-bit RGB with the scene's one stretch, checked for nodata, then put
 * through the model's own preprocessing. Reads run a few windows ahead of the consumer, in
 * plan order.
 */
import type { PlannedWindow } from '../geo/index.js';
import type { ClipEncoder } from '../model/index.js';
import { encodeRgb, isMostlyNodata, type RgbWindow, type Scene } from '../raster/index.js';
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

/**
 * Model pixels of an 8-bit RGB window through the encoder's own preprocessing (it takes encoded
 * images: a PNG stored without compression is a lossless, quick hand-over).
 */
export async function windowPixels(encoder: ClipEncoder, rgb: RgbWindow): Promise<Float32Array> {
  const png = await encodeRgb(rgb.rgb, rgb.width, rgb.height, 'png', { compressionLevel: 0 });
  return (await encoder.preprocess(png)).pixels;
}

export function sceneWindows(scene: Scene, windows: readonly PlannedWindow[], encoder: ClipEncoder, readAhead: number): AsyncGenerator<WindowResult> {
  const inputSize = encoder.info.imageSize;
  return orderedMap(windows, readAhead, async (window): Promise<WindowResult> => {
    const rgb = await scene.readWindow(window, readSize(window, inputSize));
    if (isMostlyNodata(rgb)) return { window, nodata: true };
    return { window, pixels: await windowPixels(encoder, rgb) };
  });
}
