/**
 * How a file embedded as one whole image is rendered to 8-bit RGB: shared by the indexer and by
 * query images, so that a file searched with itself is seen alike.
 *
 * - 8-bit data whose bands the model's own decoder gives (sharp: the first three bands, grey
 *   repeated, alpha dropped) goes to that decoder untouched (fidelity to the Python reference),
 *   but for CMYK, which the scene reader converts as GDAL does (libvips goes through a profile);
 * - anything else (16-bit, signed, float, bands the colour interpretation orders otherwise, bands
 *   chosen) is read through the scene reader: the band choice, one percentile stretch computed on
 *   the image, and a read of at most WHOLE_READ_INPUTS model inputs on its shorter side.
 */
import { computeSceneStretch, defaultBands, type SceneStretch } from './radiometry.js';
import { Scene, type RgbWindow } from './scene.js';
import type { RasterSource, ReadOptions } from './types.js';

/** A whole image is read with its shorter side at most this many model inputs (the model sees one). */
const WHOLE_READ_INPUTS = 4;

/** Whether sharp's RGB conversion (first three bands, grey repeated, alpha dropped) gives these bands. */
export function sharpGivesBands(bands: readonly number[]): boolean {
  return bands.length === 1 ? bands[0] === 1 : bands.every((b, i) => b === i + 1);
}

/** Whether a whole image of `source` goes to the model's own decoder (see the module comment); `chosenBands`: the index's `--bands`. */
export function decodedAsIs(source: RasterSource, chosenBands?: readonly number[]): boolean {
  return chosenBands === undefined && source.dataType === 'uint8' && !source.convertsToRgb && sharpGivesBands(defaultBands(source));
}

/** Output size of a whole-image read: native, unless its shorter side is past WHOLE_READ_INPUTS model inputs. */
export function wholeReadSize(width: number, height: number, inputSize: number): Required<ReadOptions> | undefined {
  const shorter = Math.min(width, height);
  const limit = WHOLE_READ_INPUTS * inputSize;
  if (shorter <= limit) return undefined;
  const f = limit / shorter;
  return { outWidth: Math.max(1, Math.round(width * f)), outHeight: Math.max(1, Math.round(height * f)) };
}

export interface WholeImageOptions {
  /** The model's input size in pixels (its crop size). */
  inputSize: number;
  /** 1-based bands for R, G, B (or one grey band); default from the colour interpretation. */
  bands?: number[];
  /** Percentiles of the stretch; default [2, 98]. */
  percentiles?: [number, number];
}

/** A whole image through the scene reader (see the module comment), nodata black. */
export async function renderWholeImage(source: RasterSource, options: WholeImageOptions): Promise<{ rgb: RgbWindow; stretch: SceneStretch }> {
  const stretch = await computeSceneStretch(source, options.bands ?? defaultBands(source), options.percentiles ? { percentiles: options.percentiles } : {});
  const scene = Scene.fromSource(source, stretch);
  const rgb = await scene.readWindow({ x: 0, y: 0, width: source.width, height: source.height }, wholeReadSize(source.width, source.height, options.inputSize));
  return { rgb, stretch };
}
