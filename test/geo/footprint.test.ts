/**
 * Footprints: RFC 7946 shape (closed counter-clockwise rings inside [-180, 180], split at the
 * antimeridian, caps around the poles), densified edges that follow the projection, the bbox,
 * centre, native bounds and GSD.
 */
import { describe, expect, it } from 'vitest';
import { compilePlace, crsFromEpsg, geodesicDistance, lonLatTransform, nearPlace, placeOfWindow, polygonsOf, type Georeference, type Ring } from '../../src/geo/index.js';
import { signedArea } from '../../src/geo/lonlat-ring.js';

function utm(epsg: number, x0: number, y0: number, pixel: number, size: number): Georeference {
  return { crs: crsFromEpsg(epsg), geoTransform: [x0, pixel, 0, y0, 0, -pixel], width: size, height: size, source: 'geotiff' };
}

function expectRfc7946(geometry: ReturnType<typeof placeOfWindow> extends infer P ? (P extends { footprint: infer F } ? F : never) : never): void {
  for (const rings of polygonsOf(geometry)) {
    const ring = rings[0]!;
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    expect(signedArea(ring)).toBeGreaterThan(0);
    for (const [lon, lat] of ring) {
      expect(Math.abs(lon)).toBeLessThanOrEqual(180);
      expect(Math.abs(lat)).toBeLessThanOrEqual(90);
    }
  }
}

/** Whether two segments share a point (touching and collinear overlap included). */
function segmentsMeet(a: Ring[number], b: Ring[number], c: Ring[number], d: Ring[number]): boolean {
  const cross = (o: Ring[number], p: Ring[number], q: Ring[number]) => (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0]);
  const within = (o: Ring[number], p: Ring[number], q: Ring[number]) => Math.min(o[0], p[0]) <= q[0] && q[0] <= Math.max(o[0], p[0]) && Math.min(o[1], p[1]) <= q[1] && q[1] <= Math.max(o[1], p[1]);
  const [d1, d2, d3, d4] = [cross(c, d, a), cross(c, d, b), cross(a, b, c), cross(a, b, d)];
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  return (d1 === 0 && within(c, d, a)) || (d2 === 0 && within(c, d, b)) || (d3 === 0 && within(a, b, c)) || (d4 === 0 && within(a, b, d));
}

/** A ring is simple (what GEOS checks of a polygon's shell) when only consecutive segments meet, at their shared vertex. */
function isSimpleRing(ring: Ring): boolean {
  const n = ring.length - 1;
  for (let i = 0; i < n; i++) {
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue;
      if (segmentsMeet(ring[i]!, ring[i + 1]!, ring[j]!, ring[j + 1]!)) return false;
    }
  }
  return true;
}

describe('placeOfWindow', () => {
  it('gives a UTM tile its footprint, centre, native bounds and GSD', () => {
    const geo = utm(32633, 500000, 4650000, 10, 10000);
    const place = placeOfWindow(geo, { x: 224, y: 448, width: 224, height: 224 })!;
    expect(place.footprint.type).toBe('Polygon');
    expectRfc7946(place.footprint);
    expect(place.nativeBounds).toEqual([502240, 4643280, 504480, 4645520]);
    const [lon, lat] = lonLatTransform(geo.crs!).toLonLat(503360, 4644400)!;
    expect(place.center[0]).toBeCloseTo(lon, 12);
    expect(place.center[1]).toBeCloseTo(lat, 12);
    // UTM's scale factor near the central meridian is 0.9996: a 10 m pixel is 10.004 m on the ground.
    expect(place.gsd).toBeGreaterThan(10);
    expect(place.gsd).toBeLessThan(10.01);
    const [w, s, e, n] = place.bbox;
    expect(w).toBeLessThan(e);
    expect(s).toBeLessThan(n);
  });

  it('densifies edges that curve in lon/lat, within the tolerance', () => {
    // A 200 km scene in polar stereographic: its straight edges are curves in lon/lat.
    const geo = utm(3413, -100_000, -1_000_000, 1000, 200);
    const place = placeOfWindow(geo, { x: 0, y: 0, width: 200, height: 200 }, { maxErrorDegrees: 1e-4 })!;
    const ring = polygonsOf(place.footprint)[0]![0]!;
    expect(ring.length).toBeGreaterThan(20);
    // Every midpoint of a segment is within the tolerance of the true edge point (checked on one edge).
    const t = lonLatTransform(geo.crs!);
    for (let i = 0; i + 1 < ring.length; i++) {
      const a = ring[i]!;
      const b = ring[i + 1]!;
      const pa = t.fromLonLat(a[0], a[1])!;
      const pb = t.fromLonLat(b[0], b[1])!;
      const mid = t.toLonLat((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2)!;
      const dLon = Math.abs(((mid[0] - (a[0] + b[0]) / 2 + 540) % 360) - 180);
      if (Math.abs(a[0] - b[0]) < 180) expect(Math.hypot(dLon, mid[1] - (a[1] + b[1]) / 2)).toBeLessThan(2e-4);
    }
  });

  it('splits a window across the antimeridian into two counter-clockwise parts', () => {
    // UTM zone 60N reaches past 180 E at its eastern edge.
    const geo = utm(32660, 600_000, 6_000_000, 100, 2000);
    const place = placeOfWindow(geo, { x: 0, y: 0, width: 2000, height: 2000 })!;
    expect(place.footprint.type).toBe('MultiPolygon');
    expectRfc7946(place.footprint);
    const [w, , e] = place.bbox;
    expect(w).toBeGreaterThan(e);
    const lons = polygonsOf(place.footprint).flatMap((rings) => rings[0]!.map((p) => p[0]));
    expect(lons).toContain(180);
    expect(lons).toContain(-180);
  });

  it('closes a window around the North Pole along latitude 90', () => {
    const geo = utm(3413, -100_000, 100_000, 1000, 200);
    const place = placeOfWindow(geo, { x: 0, y: 0, width: 200, height: 200 })!;
    expectRfc7946(place.footprint);
    expect(place.bbox[0]).toBe(-180);
    expect(place.bbox[2]).toBe(180);
    expect(place.bbox[3]).toBe(90);
    const lats = polygonsOf(place.footprint).flatMap((rings) => rings[0]!.map((p) => p[1]));
    expect(Math.max(...lats)).toBe(90);
    expect(place.gsd).toBeGreaterThan(900);
  });

  it('gives a window around the North Pole one simple polygon, closed along the antimeridian through the pole', () => {
    // QA's EPSG:3413 scene of 1,024 px of 1 km with the pole at pixel (512, 512): the four windows
    // around it were MultiPolygons whose parts shared a meridian up to the pole (GEOS: invalid).
    const geo = utm(3413, -512_000, 512_000, 1000, 1024);
    for (const [x, y] of [[336, 336], [504, 336], [336, 504], [504, 504]] as const) {
      const place = placeOfWindow(geo, { x, y, width: 224, height: 224 })!;
      expect(place.footprint.type).toBe('Polygon');
      expectRfc7946(place.footprint);
      const ring = polygonsOf(place.footprint)[0]![0]!;
      expect(isSimpleRing(ring)).toBe(true);
      expect(ring).toContainEqual([180, 90]);
      expect(ring).toContainEqual([-180, 90]);
      // Points inside the window, seen through the place filters: its centre, and a point on each side of the antimeridian.
      const t = lonLatTransform(geo.crs!);
      for (const [px, py] of [[x + 112, y + 112], [x + 20, y + 20], [x + 200, y + 200], [x + 20, y + 200], [x + 200, y + 20]] as const) {
        const [lon, lat] = t.toLonLat(-512_000 + px * 1000, 512_000 - py * 1000)!;
        expect(compilePlace(nearPlace(lon, lat, 0)).matches(place.footprint)).toBe(true);
      }
      expect(compilePlace(nearPlace(0, 80, 0)).matches(place.footprint)).toBe(false);
    }
  });

  it('has no place without a CRS or beyond the projection', () => {
    expect(placeOfWindow({ crs: null, geoTransform: [0, 1, 0, 0, 0, -1], width: 10, height: 10, source: 'geotiff' }, { x: 0, y: 0, width: 10, height: 10 })).toBeNull();
  });

  it('measures geodesic distances on WGS84', () => {
    // One degree of longitude at the equator: 111,319.49 m.
    expect(geodesicDistance([0, 0], [1, 0])).toBeCloseTo(111_319.49, 1);
  });
});
