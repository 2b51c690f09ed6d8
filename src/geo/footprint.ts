/**
 * Where a pixel window is on the Earth: its footprint polygon in EPSG:4326 (RFC 7946: lon/lat,
 * counter-clockwise, split at the antimeridian), the bbox, the centre, the bounds in the file's
 * CRS and the ground sample distance.
 *
 * Window edges are straight in the file's CRS but curve in lon/lat under most projections, so each
 * edge is subdivided until its midpoints lie within `maxErrorDegrees` of the chord (at most 2^6 = 64
 * segments an edge).
 */
import geodesic from 'geographiclib-geodesic';
import { RsclipError } from '../errors.js';
import { lonLatTransform, type Crs, type LonLat } from './crs.js';
import type { AreaGeometry, BBox, Position } from './geojson-types.js';
import type { Georeference } from './georeference.js';
import { pixelToCrs, type GeoTransform } from './geotransform.js';
import { normalizeLon, ringToGeometry } from './lonlat-ring.js';
import type { PixelWindow } from './window.js';

const WGS84 = geodesic.Geodesic.WGS84;

export interface WindowPlace {
  /** EPSG:4326 outline: a Polygon, or a MultiPolygon when the window crosses the antimeridian. */
  footprint: AreaGeometry;
  /** RFC 7946 bbox [west, south, east, north] (west > east across the antimeridian). */
  bbox: BBox;
  /** The window's centre pixel as [lon, lat]. */
  center: LonLat;
  /** [minX, minY, maxX, maxY] of the window's corners in the file's CRS. */
  nativeBounds: [number, number, number, number];
  /** Ground metres per file pixel at the window's centre (mean of the column and row directions). */
  gsd: number;
}

export interface FootprintOptions {
  /** Largest distance in degrees between a curved edge and the footprint's straight segments; default 1e-6 (about 0.1 m). */
  maxErrorDegrees?: number;
}

const MAX_DEPTH = 6;

/** Geodesic distance in metres between two lon/lat points on WGS84. */
export function geodesicDistance(a: LonLat, b: LonLat): number {
  return WGS84.Inverse(a[1], a[0], b[1], b[0]).s12 ?? NaN;
}

class UnmappablePoint extends Error {}

/**
 * The corners of a georeferenced image in lon/lat, top-left, top-right, bottom-right, bottom-left
 * (what places an image overlay on a rotated or polar scene, where a bbox cannot), longitudes in
 * [-180, 180) as footprints have them; null when one of them cannot be mapped.
 */
export function imageCorners(crs: Crs, geoTransform: GeoTransform, width: number, height: number): LonLat[] | null {
  const transform = lonLatTransform(crs);
  const corners = ([[0, 0], [width, 0], [width, height], [0, height]] as const).map(([col, row]) => transform.toLonLat(...pixelToCrs(geoTransform, col, row)));
  return corners.every((c) => c !== null) ? corners.map(([lon, lat]) => [normalizeLon(lon), lat] as LonLat) : null;
}

/**
 * The place of a window of a georeferenced file; null when the file has no CRS or part of the
 * window cannot be mapped to lon/lat (e.g. beyond the Earth's limb in a geostationary view).
 */
/** The whole image's place and its four corners in lon/lat (top left, clockwise): where a scene is shown or located. */
export function wholeImagePlace(geo: Georeference): { place: WindowPlace | null; corners: LonLat[] | null } {
  if (!geo.crs) return { place: null, corners: null };
  return { place: placeOfWindow(geo, { x: 0, y: 0, width: geo.width, height: geo.height }), corners: imageCorners(geo.crs, geo.geoTransform, geo.width, geo.height) };
}

export function placeOfWindow(geo: Georeference, window: PixelWindow, options: FootprintOptions = {}): WindowPlace | null {
  if (!geo.crs) return null;
  const tol = options.maxErrorDegrees ?? 1e-6;
  const transform = lonLatTransform(geo.crs);
  const toLonLat = (col: number, row: number): LonLat => {
    const [x, y] = pixelToCrs(geo.geoTransform, col, row);
    const ll = transform.toLonLat(x, y);
    if (!ll) throw new UnmappablePoint();
    return ll;
  };
  const { x, y, width, height } = window;
  const corners: [number, number][] = [[x, y], [x + width, y], [x + width, y + height], [x, y + height]];
  try {
    const ring: Position[] = [];
    for (let i = 0; i < 4; i++) {
      const [c0, r0] = corners[i]!;
      const [c1, r1] = corners[(i + 1) % 4]!;
      densifyEdge(toLonLat, c0, r0, toLonLat(c0, r0), c1, r1, toLonLat(c1, r1), tol, 0, ring);
    }
    const { geometry, bbox } = ringToGeometry(ring);
    const cx = x + width / 2;
    const cy = y + height / 2;
    const center = toLonLat(cx, cy);
    const gsdX = geodesicDistance(toLonLat(cx - 0.5, cy), toLonLat(cx + 0.5, cy));
    const gsdY = geodesicDistance(toLonLat(cx, cy - 0.5), toLonLat(cx, cy + 0.5));
    const native = corners.map(([c, r]) => pixelToCrs(geo.geoTransform, c, r));
    const xs = native.map((p) => p[0]);
    const ys = native.map((p) => p[1]);
    return {
      footprint: geometry,
      bbox,
      center: [normalizeLon(center[0]), center[1]],
      nativeBounds: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
      gsd: (gsdX + gsdY) / 2,
    };
  } catch (error) {
    if (error instanceof UnmappablePoint) return null;
    throw error;
  }
}

/**
 * Refuses a georeference under which none of `windows` (the file's tiles, or the whole image)
 * maps to lon/lat, as 100 km pixels in UTM give: every window reaches far outside the projection's
 * domain. Windows that do not map while others do (beyond a geostationary limb) just have no place.
 */
export function checkSomeWindowMaps(geo: Georeference, windows: readonly PixelWindow[]): void {
  if (!geo.crs || windows.length === 0 || windows.some((w) => placeOfWindow(geo, w) !== null)) return;
  const [x0, y0] = pixelToCrs(geo.geoTransform, 0, 0);
  const [x1, y1] = pixelToCrs(geo.geoTransform, geo.width, geo.height);
  throw new RsclipError('BAD_INPUT', `no window of the image maps to longitude/latitude from ${geo.crs.name}: its corners are at ${x0}, ${y0} and ${x1}, ${y1} (pixels of ${Math.hypot(geo.geoTransform[1], geo.geoTransform[4])} x ${Math.hypot(geo.geoTransform[2], geo.geoTransform[5])} units)`, {
    hint: 'check the pixel size and origin of its georeference against its CRS',
  });
}

/** Appends the edge's start and its subdivision points (not its end) to `out`. */
function densifyEdge(
  toLonLat: (col: number, row: number) => LonLat,
  c0: number, r0: number, p0: LonLat,
  c1: number, r1: number, p1: LonLat,
  tol: number, depth: number, out: Position[],
): void {
  const cm = (c0 + c1) / 2;
  const rm = (r0 + r1) / 2;
  const pm = toLonLat(cm, rm);
  let lon1 = p1[0];
  while (lon1 - p0[0] > 180) lon1 -= 360;
  while (lon1 - p0[0] < -180) lon1 += 360;
  let lonm = pm[0];
  while (lonm - p0[0] > 180) lonm -= 360;
  while (lonm - p0[0] < -180) lonm += 360;
  const err = Math.hypot(lonm - (p0[0] + lon1) / 2, pm[1] - (p0[1] + p1[1]) / 2);
  if (err > tol && depth < MAX_DEPTH) {
    densifyEdge(toLonLat, c0, r0, p0, cm, rm, pm, tol, depth + 1, out);
    densifyEdge(toLonLat, cm, rm, pm, c1, r1, p1, tol, depth + 1, out);
  } else {
    out.push([p0[0], p0[1]]);
  }
}
