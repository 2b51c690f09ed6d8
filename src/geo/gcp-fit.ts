/**
 * The affine transform of a set of ground control points (GCPs), as GDAL's first-order polynomial
 * (`gdaltransform -order 1`, `gdalwarp -order 1`): CRS x and y each fitted to pixel and line by
 * least squares over all the GCPs (exact for three). GDAL picks a higher order for many GCPs; a
 * Georeference is affine, so the fit is measured instead: each GCP's residual is the distance in
 * pixels between its pixel/line and where the fitted transform's inverse puts its CRS point.
 */
import { crsToPixel, type GeoTransform } from './geotransform.js';

/** A ground control point: a pixel/line position ((0, 0): the outer corner of the top-left pixel, as GDAL's GCPs) and the CRS point there. */
export interface GroundControlPoint {
  readonly pixel: number;
  readonly line: number;
  readonly x: number;
  readonly y: number;
}

/** How well the affine transform fits its GCPs. */
export interface GcpFitResiduals {
  /** GCPs fitted. */
  readonly gcps: number;
  /** The largest residual, in pixels. */
  readonly maxResidualPixels: number;
  /** The root mean square of the residuals, in pixels. */
  readonly rmsResidualPixels: number;
}

export interface GcpFit extends GcpFitResiduals {
  readonly geoTransform: GeoTransform;
  /** Per GCP, in the order given. */
  readonly residualsPixels: readonly number[];
}

/**
 * The largest residual, in pixels, of a fit whose scene is placed without a warning. GCPs picked
 * on an image (or computed by a processor) are rarely better than a pixel, and a pixel is under
 * half a percent of a model window (224 px): the affine place is then as good as the GCPs. A
 * larger residual means the image is not affine to its CRS (a swath, terrain, a curved grid):
 * the place is approximate, off by about the residual.
 */
export const GCP_RESIDUAL_TOLERANCE_PIXELS = 1;

/** A pixel-area ratio under which the GCPs' pixel positions are taken as lying on one line. */
const COLLINEAR_RATIO = 1e-10;

/** The affine fit of `gcps`, or why there is none (fewer than 3, all on a line, non-finite values, a transform that maps the image to a line). */
export function fitAffineToGcps(gcps: readonly GroundControlPoint[]): { fit: GcpFit } | { problem: string } {
  const n = gcps.length;
  if (n < 3) return { problem: `${n} ground control point${n === 1 ? '' : 's'}, an affine fit needs 3 not on one line` };
  if (gcps.some((g) => ![g.pixel, g.line, g.x, g.y].every(Number.isFinite))) return { problem: 'a ground control point has a non-finite coordinate' };
  // centred sums: the normal equations of x = a + b p + c l stay well conditioned for large coordinates
  const mean = (f: (g: GroundControlPoint) => number) => gcps.reduce((s, g) => s + f(g), 0) / n;
  const [mp, ml, mx, my] = [mean((g) => g.pixel), mean((g) => g.line), mean((g) => g.x), mean((g) => g.y)];
  let spp = 0;
  let sll = 0;
  let spl = 0;
  let spx = 0;
  let slx = 0;
  let spy = 0;
  let sly = 0;
  for (const g of gcps) {
    const p = g.pixel - mp;
    const l = g.line - ml;
    const x = g.x - mx;
    const y = g.y - my;
    spp += p * p;
    sll += l * l;
    spl += p * l;
    spx += p * x;
    slx += l * x;
    spy += p * y;
    sly += l * y;
  }
  const det = spp * sll - spl * spl;
  if (!(det > COLLINEAR_RATIO * spp * sll) || !(spp > 0 && sll > 0)) return { problem: `the ${n} ground control points lie on one line in the image` };
  const b = (spx * sll - slx * spl) / det;
  const c = (slx * spp - spx * spl) / det;
  const e = (spy * sll - sly * spl) / det;
  const f = (sly * spp - spy * spl) / det;
  const geoTransform: GeoTransform = [mx - b * mp - c * ml, b, c, my - e * mp - f * ml, e, f];
  const scale = Math.max(Math.abs(b), Math.abs(c), Math.abs(e), Math.abs(f));
  if (!geoTransform.every(Number.isFinite) || !(Math.abs(b * f - c * e) > 1e-12 * scale * scale)) {
    return { problem: `the ${n} ground control points' CRS points lie on one line (the fit maps the image to a line)` };
  }
  const residualsPixels = gcps.map((g) => {
    const [p, l] = crsToPixel(geoTransform, g.x, g.y);
    return Math.hypot(p - g.pixel, l - g.line);
  });
  const maxResidualPixels = Math.max(...residualsPixels);
  const rmsResidualPixels = Math.sqrt(residualsPixels.reduce((s, r) => s + r * r, 0) / n);
  return { fit: { geoTransform, gcps: n, residualsPixels, maxResidualPixels, rmsResidualPixels } };
}
