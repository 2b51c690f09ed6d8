/**
 * Turning a ring of longitude/latitude points (as a projected window's outline maps to WGS84)
 * into RFC 7946 geometry: longitudes unwrapped along the ring, then cut at the antimeridian into
 * parts inside [-180, 180] (a ring around a pole is closed through the pole along the antimeridian,
 * one polygon), every exterior ring counter-clockwise.
 */
import type { AreaGeometry, BBox, LonLatBox, Position, Ring } from './geojson-types.js';
import { polygonsOf } from './geojson-types.js';

/** Longitude in [-180, 180). */
export function normalizeLon(lon: number): number {
  const l = ((((lon + 180) % 360) + 360) % 360) - 180;
  return l + 0; // no -0
}

/**
 * Shoelace area in square degrees: positive for a counter-clockwise ring. Taken relative to the
 * first vertex: on absolute coordinates the rounding of the products (about 1e-14 at lon 12,
 * lat 42) swamps the area of a footprint of 1e-9 degree pixels.
 */
export function signedArea(ring: Ring): number {
  if (ring.length === 0) return 0;
  const [x0, y0] = ring[0]!;
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const x1 = ring[i]![0] - x0;
    const y1 = ring[i]![1] - y0;
    const x2 = ring[i + 1]![0] - x0;
    const y2 = ring[i + 1]![1] - y0;
    sum += x1 * y2 - x2 * y1;
  }
  return sum / 2;
}

/** Longitudes made continuous along the open ring (each step under 180 degrees), starting in [-180, 180). */
export function unwrapRing(points: Position[]): Position[] {
  const out: Position[] = [];
  let prev = 0;
  for (let i = 0; i < points.length; i++) {
    const [lon, lat] = points[i]!;
    let l = i === 0 ? normalizeLon(lon) : lon;
    if (i > 0) {
      while (l - prev > 180) l -= 360;
      while (l - prev < -180) l += 360;
    }
    out.push([l, lat]);
    prev = l;
  }
  return out;
}

/** Sutherland-Hodgman clip of a closed ring against lon >= bound (keep = 1) or lon <= bound (keep = -1). */
function clipHalfPlane(ring: Ring, bound: number, keep: 1 | -1): Ring {
  const inside = (p: Position) => keep * (p[0] - bound) >= 0;
  const out: Position[] = [];
  for (let i = 0; i + 1 < ring.length; i++) {
    const a = ring[i]!;
    const b = ring[i + 1]!;
    const ia = inside(a);
    const ib = inside(b);
    if (ia) out.push(a);
    if (ia !== ib) {
      const t = (bound - a[0]) / (b[0] - a[0]);
      out.push([bound, a[1] + t * (b[1] - a[1])]);
    }
  }
  if (out.length > 0) out.push(out[0]!);
  return out;
}

function closeRing(points: Position[]): Ring {
  const first = points[0]!;
  const last = points[points.length - 1]!;
  return first[0] === last[0] && first[1] === last[1] ? points : [...points, first];
}

function ccw(ring: Ring): Ring {
  return signedArea(ring) < 0 ? [...ring].reverse() : ring;
}

/**
 * The closed ring of a path that winds once around a pole (its end is its start moved by 360
 * degrees of longitude), started where it crosses the antimeridian and closed along it through
 * the pole, so that it spans one 360-degree band: one polygon, where a closure along any other
 * meridian would be cut at the antimeridian into two parts sharing that meridian up to the pole.
 */
function ringAroundPole(path: Position[], poleLat: number): Ring {
  const winding = Math.sign(path[path.length - 1]![0] - path[0]![0]) * 360;
  const start = path[0]![0];
  // The antimeridian (180 + 360 k) the path crosses: one lies between its start and its end.
  const seam = winding > 0 ? 180 + 360 * Math.floor((start - 180) / 360 + 1) : 180 + 360 * Math.ceil((start - 180) / 360 - 1);
  let i = 0;
  while (i + 2 < path.length && (path[i + 1]![0] - seam) * (path[i]![0] - seam) > 0) i++;
  const [a, b] = [path[i]!, path[i + 1]!];
  const crossingLat = a[0] === b[0] ? a[1] : a[1] + ((seam - a[0]) / (b[0] - a[0])) * (b[1] - a[1]);
  const shifted = (p: Position): Position => [p[0] + winding, p[1]];
  const around: Position[] = [[seam, crossingLat], ...path.slice(i + 1), ...path.slice(1, i + 1).map(shifted), [seam + winding, crossingLat], [seam + winding, poleLat], [seam, poleLat], [seam, crossingLat]];
  return around.filter((p, k) => k === 0 || p[0] !== around[k - 1]![0] || p[1] !== around[k - 1]![1]);
}

const MIN_PART_AREA = 1e-18;

/**
 * RFC 7946 geometry of an open ring of [lon, lat] points: a Polygon, or a MultiPolygon when it
 * crosses the antimeridian. Also returns the RFC 7946 bbox.
 */
export function ringToGeometry(points: Position[]): { geometry: AreaGeometry; bbox: BBox } {
  // a grid whose pixel centres lie on a pole has its edge half a pixel past it
  const open = unwrapRing(points.map(([lon, lat]) => [lon, Math.max(-90, Math.min(90, lat))]));
  const first = open[0]!;
  const last = open[open.length - 1]!;
  let closingLon = first[0];
  while (closingLon - last[0] > 180) closingLon -= 360;
  while (closingLon - last[0] < -180) closingLon += 360;
  const winding = closingLon - first[0];
  let ring: Ring;
  let lats = open.map((p) => p[1]);
  let poleLat: number | undefined;
  if (Math.abs(winding) > 180) {
    poleLat = lats.reduce((a, b) => a + b, 0) / lats.length >= 0 ? 90 : -90;
    ring = ringAroundPole([...open, [closingLon, first[1]]], poleLat);
    lats = [...lats, poleLat];
  } else {
    ring = closeRing(open);
  }
  const lons = ring.map((p) => p[0]);
  const minLon = Math.min(...lons);
  const maxLon = Math.max(...lons);
  const parts: Ring[] = [];
  for (let k = Math.floor((minLon + 180) / 360); k <= Math.floor((maxLon + 180) / 360); k++) {
    const lo = -180 + 360 * k;
    const hi = 180 + 360 * k;
    let part = minLon >= lo ? ring : clipHalfPlane(ring, lo, 1);
    if (part.length > 0 && maxLon > hi) part = clipHalfPlane(part, hi, -1);
    if (part.length < 4) continue;
    const shifted: Ring = part.map(([x, y]) => [Math.min(180, Math.max(-180, x - 360 * k)), y]);
    if (Math.abs(signedArea(shifted)) > MIN_PART_AREA) parts.push(ccw(shifted));
  }
  const south = Math.min(...lats);
  const north = Math.max(...lats);
  let bbox: BBox;
  if (poleLat !== undefined || maxLon - minLon >= 360) bbox = [-180, south, 180, north];
  else {
    const west = normalizeLon(minLon);
    let east = normalizeLon(maxLon);
    if (east === -180 && maxLon > minLon) east = 180;
    bbox = [west, south, east, north];
  }
  const geometry: AreaGeometry = parts.length === 1 ? { type: 'Polygon', coordinates: [parts[0]!] } : { type: 'MultiPolygon', coordinates: parts.map((p) => [p]) };
  return { geometry, bbox };
}

/** Boxes (west <= east) around each polygon of a geometry: what a spatial index stores for it. */
export function geometryBoxes(geometry: AreaGeometry): LonLatBox[] {
  return polygonsOf(geometry).map((rings) => {
    const box: LonLatBox = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity };
    for (const [lon, lat] of rings[0] ?? []) {
      if (lon < box.west) box.west = lon;
      if (lon > box.east) box.east = lon;
      if (lat < box.south) box.south = lat;
      if (lat > box.north) box.north = lat;
    }
    return box;
  });
}

/**
 * The RFC 7946 bbox of several longitude intervals and latitudes: the smallest longitude arc
 * covering all boxes (west > east when it crosses the antimeridian).
 */
export function boxesToBBox(boxes: LonLatBox[]): BBox | undefined {
  if (boxes.length === 0) return undefined;
  const south = Math.min(...boxes.map((b) => b.south));
  const north = Math.max(...boxes.map((b) => b.north));
  const intervals = boxes.map((b) => [b.west, b.east] as [number, number]).sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const iv of intervals) {
    const top = merged[merged.length - 1];
    if (top && iv[0] <= top[1]) top[1] = Math.max(top[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  // The largest gap between merged intervals (going round the circle) is left out of the bbox.
  let bestGap = -1;
  let bbox: BBox = [-180, south, 180, north];
  for (let i = 0; i < merged.length; i++) {
    const cur = merged[i]!;
    const next = merged[(i + 1) % merged.length]!;
    const gap = i + 1 < merged.length ? next[0] - cur[1] : next[0] + 360 - cur[1];
    if (gap > bestGap) {
      bestGap = gap;
      bbox = [next[0], south, cur[1], north];
    }
  }
  if (bestGap <= 0) return [-180, south, 180, north];
  if (bbox[0] === 180) bbox[0] = -180;
  if (bbox[2] === -180) bbox[2] = 180;
  return bbox;
}
