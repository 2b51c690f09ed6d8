/**
 * The windows of a scene as model inputs: each planned window is read at native resolution
 * (a whole-image window larger than needed is read reduced, from overviews where the file has
 * them), rendered to 8-bit RGB with the scene's one stretch, checked for nodata, then put
 * through the model's own preprocessing. With a decode pool all of it runs in the pool's
 * threads, which open the scene's file again (`SceneFile`); on the main thread the window is
 * read from the scene the caller opened. Reads run a few windows ahead of the consumer, in
 * plan order.
 */
import type { PlannedWindow } from '../geo/tiling.js';
import type { Raster8 } from '../model/resample.js';
import { isMostlyNodata } from '../raster/nodata.js';
import type { OpenRasterOptions } from '../raster/open-raster.js';
import type { SceneStretch } from '../raster/radiometry.js';
import type { RgbWindow, Scene } from '../raster/scene.js';
import type { ReadOptions } from '../raster/types.js';
import { wholeReadSize } from '../raster/whole-image.js';
import type { PixelPreparer } from './decode-pool.js';
import { orderedMap } from './ordered-map.js';

export type WindowResult = { window: PlannedWindow; pixels: Float32Array } | { window: PlannedWindow; nodata: true };

/** How another thread opens a scene again: its file, the options the caller opened it with, and its stretch. */
export interface SceneFile {
  path: string;
  options: OpenRasterOptions;
  stretch: SceneStretch;
}

/** Output size of a window read: native, except whole images far larger than the model needs. */
export function readSize(window: PlannedWindow, inputSize: number): { outWidth: number; outHeight: number } | undefined {
  return window.whole ? wholeReadSize(window.width, window.height, inputSize) : undefined;
}

/** A window's pixels as the model's preprocessing takes them. */
export function windowRaster(window: RgbWindow): Raster8 {
  return { data: window.rgb, width: window.width, height: window.height, channels: 3 };
}

/** A window read at `size` (from `readSize`) and rendered with the scene's stretch; undefined when it is mostly nodata. */
export async function renderWindow(scene: Scene, window: PlannedWindow, size: ReadOptions | undefined): Promise<Raster8 | undefined> {
  // blocks a sparse TIFF leaves out read as one fill value: a constant window, skipped unread
  if (await scene.source.blocksAbsent(window, size)) return undefined;
  const bands = await scene.readBands(window, size);
  return isMostlyNodata(bands.validity) ? undefined : windowRaster(scene.render(bands));
}

/** `file`: how the preparer's threads open the scene when it has threads (without it, windows are read from `scene` here). */
export function sceneWindows(scene: Scene, windows: readonly PlannedWindow[], pixels: PixelPreparer, inputSize: number, readAhead: number, file?: SceneFile): AsyncGenerator<WindowResult> {
  return orderedMap(windows, readAhead, async (window): Promise<WindowResult> => {
    const size = readSize(window, inputSize);
    let prepared: Float32Array | undefined;
    if (file && pixels.window) prepared = await pixels.window(file, window, size);
    else {
      const rgb = await renderWindow(scene, window, size);
      prepared = rgb && (await pixels.rgb(rgb));
    }
    return prepared ? { window, pixels: prepared } : { window, nodata: true };
  });
}
