/**
 * Opens any image as a raster source: TIFFs (GeoTIFF, BigTIFF, COG) through geotiff.js, other
 * formats through sharp; the georeference comes from the GeoTIFF keys or a world file.
 */
import path from 'node:path';
import type { Crs } from '../geo/crs.js';
import type { Georeference } from '../geo/georeference.js';
import type { WorldFileOptions } from '../geo/world-file.js';
import { openWithSharp } from './sharp-source.js';
import { openTiff } from './tiff-source.js';
import type { RasterSource } from './types.js';

export interface OpenRasterOptions extends Pick<WorldFileOptions, 'worldFile'> {
  /** The CRS of the file's coordinates when the file does not say (world files) or says wrongly (overrides GeoKeys). */
  crs?: Crs;
  /** TIFF: budget for decoded blocks kept between window reads; default 256 MiB. */
  blockCacheBytes?: number;
  /** TIFF: `auto` (default) cuts full-resolution windows with libvips where it is faster; `geotiff` uses geotiff.js only. */
  decoder?: 'auto' | 'geotiff';
  /** JPEG, PNG: the file's first bytes, already read; a header found in them spares libvips opening the file. */
  head?: Uint8Array;
}

const TIFF_EXTENSIONS = new Set(['.tif', '.tiff', '.gtif', '.gtiff']);

export function isTiffPath(file: string): boolean {
  return TIFF_EXTENSIONS.has(path.extname(file).toLowerCase());
}

export async function openRaster(file: string, options: OpenRasterOptions = {}): Promise<RasterSource> {
  return isTiffPath(file) ? openTiff(file, options) : openWithSharp(file, options);
}

/** The georeference of a file ({crs, geoTransform, width, height}), or null when it has none. */
export async function readGeoreference(file: string, options: OpenRasterOptions = {}): Promise<Georeference | null> {
  const source = await openRaster(file, options);
  try {
    return source.georeference;
  } finally {
    await source.close();
  }
}
