/**
 * Items shown as what the model saw: a window of a scene (or a whole image read through
 * src/raster, e.g. 16-bit) is rendered from its file with the file's one stretch, as PNG (the
 * item's "file") or WebP (its thumbnail). A whole image decoded as it was (8-bit, by the model's
 * own decoder) is shown from its file as before.
 */
import { encodeRgb } from '../raster/libvips.js';
import { openRaster } from '../raster/open-raster.js';
import { computeSceneStretch, defaultBands, type SceneStretch } from '../raster/radiometry.js';
import { Scene } from '../raster/scene.js';
import { WHOLE_IMAGE_KEY, type ItemRecord } from '../store/types.js';

/** Longest side of a rendered item's "file": larger windows (a whole scene indexed with --tile off) are reduced. */
export const MAX_RENDERED_SIDE = 4096;

/** Whether the item is rendered from its window rather than served or thumbnailed from its file as it is. */
export function rendersWindow(item: ItemRecord): boolean {
  return item.key !== WHOLE_IMAGE_KEY || item.file.stretch !== null;
}

/**
 * Whether a stored stretch can be applied: catalogs made before NaN samples were taken for nodata
 * hold a float scene's NaN limits as null (JSON), which would render as 0.
 */
function finiteStretch(stretch: SceneStretch): boolean {
  return [...stretch.low, ...stretch.high].every(Number.isFinite);
}

/** The item's window of the file at `realPath`, at most `maxSide` pixels a side, with its file's stretch. */
export async function renderItem(realPath: string, item: ItemRecord, maxSide: number, format: 'png' | 'webp'): Promise<Buffer> {
  const source = await openRaster(realPath);
  try {
    const stored = item.file.stretch;
    const stretch = stored && finiteStretch(stored) ? stored : await computeSceneStretch(source, stored?.bands ?? defaultBands(source), stored ? { percentiles: stored.percentiles } : {});
    const scene = Scene.fromSource(source, stretch);
    const { window } = item;
    const longest = Math.max(window.width, window.height);
    // read reduced (from overviews, nearest) only when far larger than the output, then resize properly
    const reduce = longest > 4 * maxSide ? (2 * maxSide) / longest : 1;
    const read = reduce < 1 ? { outWidth: Math.max(1, Math.round(window.width * reduce)), outHeight: Math.max(1, Math.round(window.height * reduce)) } : undefined;
    const rgb = await scene.readWindow(window, read);
    return await encodeRgb(rgb.rgb, rgb.width, rgb.height, format, { maxSide });
  } finally {
    await source.close();
  }
}
