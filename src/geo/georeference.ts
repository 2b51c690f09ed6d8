/**
 * Where a file's pixels are on the Earth: the CRS, the affine transform from pixel corners to
 * CRS coordinates (GDAL's `geoTransform`) and the size in pixels.
 */
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
