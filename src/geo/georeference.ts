/**
 * Where a file's pixels are on the Earth: the CRS, the affine transform from pixel corners to
 * CRS coordinates (GDAL's `geoTransform`) and the size in pixels.
 */
import { isRsclipError, RsclipError } from '../errors.js';
import type { Crs } from './crs.js';
import type { GeoTransform } from './geotransform.js';

export interface Georeference {
  /** Null when the file has a transform but no CRS (it then has no footprint on the Earth). */
  readonly crs: Crs | null;
  readonly geoTransform: GeoTransform;
  readonly width: number;
  readonly height: number;
  /** Where it was read from. */
  readonly source: 'geotiff' | 'world-file' | 'stac';
}

/**
 * `read`'s georeference of `file`; a problem with it (a CRS that cannot be converted, a world file
 * that is not six numbers, a datum grid not found) becomes GEOREFERENCE_INVALID naming the file,
 * so that the file is refused with the reason rather than taken for an image without a place.
 */
export async function readingGeoreference<T>(file: string, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isRsclipError(error) || error.code === 'DEPENDENCY_MISSING') throw error;
    throw new RsclipError('GEOREFERENCE_INVALID', `cannot use the georeference of ${file}: ${error.message}`, {
      hint: error.hint ?? 'fix the file\'s georeference (or remove its world file), or give its CRS with --crs',
      cause: error,
    });
  }
}
