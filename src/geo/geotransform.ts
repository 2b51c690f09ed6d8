/**
 * The affine transform from pixel to CRS coordinates, in GDAL's order and meaning
 * (`gdalinfo -json`'s `geoTransform`): for a pixel corner (col, row),
 *   x = gt[0] + col * gt[1] + row * gt[2]
 *   y = gt[3] + col * gt[4] + row * gt[5]
 * (0, 0) is the outer top-left corner of the top-left pixel (PixelIsArea convention).
 */
export type GeoTransform = readonly [number, number, number, number, number, number];

/** CRS coordinates of a pixel-space point (pixel corners are integers, centres are +0.5). */
export function pixelToCrs(gt: GeoTransform, col: number, row: number): [number, number] {
  return [gt[0] + col * gt[1] + row * gt[2], gt[3] + col * gt[4] + row * gt[5]];
}

/** The inverse of `pixelToCrs`; throws for a degenerate transform. */
export function crsToPixel(gt: GeoTransform, x: number, y: number): [number, number] {
  const det = gt[1] * gt[5] - gt[2] * gt[4];
  if (det === 0 || !Number.isFinite(det)) throw new RangeError('geotransform is not invertible');
  const dx = x - gt[0];
  const dy = y - gt[3];
  return [(dx * gt[5] - dy * gt[2]) / det, (dy * gt[1] - dx * gt[4]) / det];
}

/** Whether the transform has no rotation or shear terms. */
export function isNorthUp(gt: GeoTransform): boolean {
  return gt[2] === 0 && gt[4] === 0;
}

/** Shifts a transform by half a pixel so that (0, 0) is the pixel's corner, not its centre. */
export function shiftHalfPixel(gt: GeoTransform): GeoTransform {
  return [gt[0] - (gt[1] + gt[2]) / 2, gt[1], gt[2], gt[3] - (gt[4] + gt[5]) / 2, gt[4], gt[5]];
}
