/**
 * Where a file's pixels are on the Earth: the CRS, the affine transform from pixel corners to
 * CRS coordinates (GDAL's `geoTransform`) and the size in pixels.
 */
import { isRsclipError, RsclipError } from '../errors.js';
import type { Crs } from './crs.js';
import type { GcpFitResiduals } from './gcp-fit.js';
import { pixelToCrs, type GeoTransform } from './geotransform.js';

export interface Georeference {
  /** Null when the file has a transform but no CRS (it then has no footprint on the Earth). */
  readonly crs: Crs | null;
  readonly geoTransform: GeoTransform;
  readonly width: number;
  readonly height: number;
  /** Where it was read from. */
  readonly source: 'geotiff' | 'world-file' | 'stac';
  /**
   * A GeoTIFF georeferenced by ground control points: `geoTransform` is their affine fit, and this
   * is how far the GCPs lie from it (past GCP_RESIDUAL_TOLERANCE_PIXELS the place is approximate).
   */
  readonly gcpFit?: GcpFitResiduals;
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

/** Float noise allowed past the Earth's edges, in degrees (a global grid's corner at -180.0000000001). */
const EDGE_SLACK_DEGREES = 1e-6;

/**
 * Refuses a georeference whose corners lie off the Earth in its geographic CRS, as projected metres
 * read as degrees give: a latitude past ±90 by more than half a pixel (a grid whose pixel centres
 * lie on the poles has its edge half a pixel beyond them), or a longitude more than a turn from 0
 * (-180..180 and 0..360 are both in use, and a scene across the antimeridian goes past either).
 * `label` names the georeference in the message ("world file a.pgw"); `hint` says how to fix it.
 */
export function checkOnTheEarth(geo: Georeference, label: string, hint: string): void {
  const { crs, geoTransform: gt, width, height } = geo;
  if (!crs?.geographic) return;
  const latSlack = Math.max(EDGE_SLACK_DEGREES, ((Math.abs(gt[4]) + Math.abs(gt[5])) / 2) * crs.degreesPerUnit);
  for (const [col, row] of [[0, 0], [width, 0], [width, height], [0, height]] as const) {
    const [lon, lat] = pixelToCrs(gt, col, row).map((v) => v * crs.degreesPerUnit) as [number, number];
    if (!(Math.abs(lon) <= 360 + EDGE_SLACK_DEGREES && Math.abs(lat) <= 90 + latSlack)) {
      throw new RsclipError('BAD_INPUT', `${label} puts the image's corner at longitude ${lon}, latitude ${lat} in ${crs.name}, a geographic CRS: off the Earth`, { hint });
    }
  }
}
