/**
 * Planar geometry on longitude/latitude (GeoJSON's model: straight segments in lon/lat), closed
 * sets: touching counts as intersecting. Polygons are lists of rings (exterior first, holes after);
 * point-in-polygon uses the even-odd rule over all rings.
 */
import type { Position, Ring } from './geojson-types.js';

function orient(a: Position, b: Position, c: Position): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

function onSegment(a: Position, b: Position, p: Position): boolean {
  return Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
}

/** Whether closed segments ab and cd share a point. */
export function segmentsIntersect(a: Position, b: Position, c: Position, d: Position): boolean {
  const d1 = orient(c, d, a);
  const d2 = orient(c, d, b);
  const d3 = orient(a, b, c);
  const d4 = orient(a, b, d);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return (d1 === 0 && onSegment(c, d, a)) || (d2 === 0 && onSegment(c, d, b)) || (d3 === 0 && onSegment(a, b, c)) || (d4 === 0 && onSegment(a, b, d));
}

/** Even-odd point in polygon (boundary points may fall either way; callers test edges for those). */
export function pointInPolygon(p: Position, rings: Ring[]): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i]!;
      const [xj, yj] = ring[j]!;
      if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

export interface Bounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export function ringsBounds(rings: Ring[]): Bounds {
  const b: Bounds = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  for (const ring of rings) {
    for (const [x, y] of ring) {
      if (x < b.minX) b.minX = x;
      if (x > b.maxX) b.maxX = x;
      if (y < b.minY) b.minY = y;
      if (y > b.maxY) b.maxY = y;
    }
  }
  return b;
}

export function boundsIntersect(a: Bounds, b: Bounds): boolean {
  return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY;
}

/** A polygon with its bounds computed once. */
export interface PreparedPolygon {
  rings: Ring[];
  bounds: Bounds;
}

export function preparePolygon(rings: Ring[]): PreparedPolygon {
  return { rings, bounds: ringsBounds(rings) };
}

/** Whether two polygons (with holes) share a point. */
export function polygonsIntersect(a: PreparedPolygon, b: PreparedPolygon): boolean {
  if (!boundsIntersect(a.bounds, b.bounds)) return false;
  for (const ra of a.rings) {
    for (let i = 0; i + 1 < ra.length; i++) {
      const p = ra[i]!;
      const q = ra[i + 1]!;
      const eMinX = Math.min(p[0], q[0]);
      const eMaxX = Math.max(p[0], q[0]);
      const eMinY = Math.min(p[1], q[1]);
      const eMaxY = Math.max(p[1], q[1]);
      if (eMaxX < b.bounds.minX || eMinX > b.bounds.maxX || eMaxY < b.bounds.minY || eMinY > b.bounds.maxY) continue;
      for (const rb of b.rings) {
        for (let j = 0; j + 1 < rb.length; j++) {
          const r = rb[j]!;
          const s = rb[j + 1]!;
          if (Math.max(r[0], s[0]) < eMinX || Math.min(r[0], s[0]) > eMaxX || Math.max(r[1], s[1]) < eMinY || Math.min(r[1], s[1]) > eMaxY) continue;
          if (segmentsIntersect(p, q, r, s)) return true;
        }
      }
    }
  }
  // No boundaries cross: one contains the other, or they are apart.
  const fa = a.rings[0]?.[0];
  const fb = b.rings[0]?.[0];
  return (fa !== undefined && pointInPolygon(fa, b.rings)) || (fb !== undefined && pointInPolygon(fb, a.rings));
}
