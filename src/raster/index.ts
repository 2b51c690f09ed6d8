/**
 * Reading rasters in windows, in bounded memory: TIFF/GeoTIFF/BigTIFF/COG through geotiff.js,
 * JPEG/PNG/WebP through sharp; band choice, a per-scene percentile stretch to 8 bits, nodata
 * detection, and low-resolution overviews of whole scenes.
 */
export type { RasterSource, RasterDataType, BandColor, BandArray, BandWindow, ReadOptions } from './types.js';
export type { OpenRasterOptions } from './open-raster.js';
export { openRaster, readGeoreference, isTiffPath } from './open-raster.js';
export type { SceneStretch, StretchMode, StretchOptions } from './radiometry.js';
export { parseBandList, defaultBands, alphaBand, checkBands, computeSceneStretch, stretchToRgb } from './radiometry.js';
export type { ValiditySources, WindowValidity } from './nodata.js';
export { pixelValidity, windowValidity, isMostlyNodata } from './nodata.js';
export type { RgbWindow, SceneOptions } from './scene.js';
export { Scene } from './scene.js';
export type { EncodeOptions } from './libvips.js';
export { encodeRgb } from './libvips.js';
