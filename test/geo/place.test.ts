/**
 * Place predicates against a brute-force geometry check on thousands of random footprints
 * (including ones crossing the antimeridian and around the poles): bbox and within against
 * turf's planar intersection, near against dense geodesic sampling of every edge (GeographicLib).
 * Every match must also be found through the query boxes, as a spatial index would.
 */
import booleanIntersects from '@turf/boolean-intersects';
import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import geodesic from 'geographiclib-geodesic';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  bboxPlace,
  compilePlace,
  geometryBoxes,
  nearPlace,
  parseBboxPlace,
  parseDistance,
  parseNearPlace,
  polygonsOf,
  readWithinPlace,
  withinPlace,
  type AreaGeometry,
  type LonLatBox,
  type Place,
  type Position,
  type Ring,
} from '../../src/geo/index.js';
import { isRsclipError } from '../../src/errors.js';
import { randomFootprints, seededRandom, type RandomFootprint } from './random-footprints.js';

const WGS84 = geodesic.Geodesic.WGS84;
const FOOTPRINTS = randomFootprints(3000, 7);
/** Fewer for near, whose brute force samples every edge geodesically. */
const NEAR_FOOTPRINTS = FOOTPRINTS.slice(0, 1000);

function boxesIntersect(a: LonLatBox, b: LonLatBox): boolean {
  return a.west <= b.east && b.west <= a.east && a.south <= b.north && b.south <= a.north;
}

/** What a spatial index + the exact test return. */
function viaIndex(place: Place, items: RandomFootprint[]): number[] {
  const compiled = compilePlace(place);
  return items.filter((f) => geometryBoxes(f.footprint).some((fb) => compiled.boxes.some((qb) => boxesIntersect(fb, qb))) && compiled.matches(f.footprint)).map((f) => f.id);
}

function turfPolygons(g: AreaGeometry) {
  return polygonsOf(g).map((rings) => ({ type: 'Polygon' as const, coordinates: rings }));
}

function placePolygons(place: Place): { type: 'Polygon'; coordinates: Ring[] }[] {
  if (place.kind === 'within') return turfPolygons(place.geometry);
  if (place.kind !== 'bbox') throw new Error('not an area');
  const boxes = place.west <= place.east ? [[place.west, place.east]] : [[place.west, 180], [-180, place.east]];
  return boxes.map(([w, e]) => ({ type: 'Polygon', coordinates: [[[w!, place.south], [e!, place.south], [e!, place.north], [w!, place.north], [w!, place.south]]] }));
}

function bruteArea(place: Place): number[] {
  const areas = placePolygons(place);
  return FOOTPRINTS.filter((f) => turfPolygons(f.footprint).some((p) => areas.some((a) => booleanIntersects(p, a)))).map((f) => f.id);
}

/**
 * Brute-force distance (metres) from a point to a footprint: 0 inside (turf), else the closest of
 * 64 samples an edge, then of 64 more between the best sample's neighbours.
 */
function bruteDistance(lon: number, lat: number, footprint: AreaGeometry, radius: number): number {
  for (const p of turfPolygons(footprint)) if (booleanPointInPolygon([lon, lat], p)) return 0;
  const dist = (a: Position, b: Position, t: number) => WGS84.Inverse(lat, lon, a[1] + t * (b[1] - a[1]), a[0] + t * (b[0] - a[0])).s12!;
  let best = Infinity;
  for (const rings of polygonsOf(footprint)) {
    for (const ring of rings) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const a = ring[i]!;
        const b = ring[i + 1]!;
        const da = dist(a, b, 0);
        const db = dist(a, b, 1);
        best = Math.min(best, da, db);
        // Triangle inequality: no point of this edge can be within the radius.
        const length = WGS84.Inverse(a[1], a[0], b[1], b[0]).s12!;
        if (Math.min(da, db) - length * 0.51 - 1000 > radius) continue;
        let bestT = 0;
        let edgeBest = da;
        for (let k = 1; k < 64; k++) {
          const d = dist(a, b, k / 64);
          if (d < edgeBest) [edgeBest, bestT] = [d, k / 64];
        }
        for (let k = -64; k <= 64; k++) edgeBest = Math.min(edgeBest, dist(a, b, Math.min(1, Math.max(0, bestT + k / 4096))));
        best = Math.min(best, edgeBest);
      }
    }
  }
  return best;
}

describe('random footprints', () => {
  it('include antimeridian crossings and polar caps', () => {
    const multi = FOOTPRINTS.filter((f) => f.footprint.type === 'MultiPolygon').length;
    const polar = FOOTPRINTS.filter((f) => polygonsOf(f.footprint).some((rings) => rings[0]!.some(([, lat]) => Math.abs(lat) === 90))).length;
    expect(multi).toBeGreaterThan(50);
    expect(polar).toBeGreaterThan(5);
  });
});

describe('bbox', () => {
  const rand = seededRandom(11);
  const boxes: string[] = ['170,-30,-170,30', '179.9,-89,-179.9,89', '-180,80,180,90', '-10,-90,10,-85', '100,60,-100,80'];
  for (let i = 0; i < 25; i++) {
    const w = -180 + 360 * rand();
    const s = -90 + 170 * rand();
    const e = -180 + 360 * rand();
    boxes.push(`${w},${s},${e},${Math.min(90, s + 40 * rand())}`);
  }
  it.each(boxes)('%s matches the brute-force set', (text) => {
    const place = parseBboxPlace(text);
    expect(viaIndex(place, FOOTPRINTS)).toEqual(bruteArea(place));
  });
});

describe('place text', () => {
  it('takes decimal numbers only (Number() reads 0x10 as 16)', () => {
    expect(parseBboxPlace('1e1, -5.5,+12,.5')).toEqual(bboxPlace(10, -5.5, 12, 0.5));
    expect(parseNearPlace('12.49,41.89', '5km')).toEqual(nearPlace(12.49, 41.89, 5000));
    for (const text of ['0x10,5,20,6', '1,0b1,2,3', '1,2,0o7,4', '1,2,3,']) expect(() => parseBboxPlace(text), text).toThrow(/bbox must be 4 numbers/);
    expect(() => parseNearPlace('0x10,5', 0)).toThrow(/near must be 2 numbers/);
  });
});

function randomPolygon(rand: () => number, cx: number, cy: number, radius: number): Ring {
  const n = 5 + Math.floor(rand() * 10);
  const ring: Position[] = [];
  for (let i = 0; i < n; i++) {
    const angle = (2 * Math.PI * i) / n;
    const r = radius * (0.3 + 0.7 * rand());
    ring.push([Math.max(-180, Math.min(180, cx + r * Math.cos(angle))), Math.max(-90, Math.min(90, cy + r * Math.sin(angle)))]);
  }
  ring.push(ring[0]!);
  return ring;
}

describe('within', () => {
  const rand = seededRandom(12);
  const places: [string, Place][] = [];
  for (let i = 0; i < 20; i++) {
    const cx = -180 + 360 * rand();
    const cy = -80 + 160 * rand();
    const radius = 1 + 25 * rand();
    const outer = randomPolygon(rand, cx, cy, radius);
    const hole = i % 3 === 0 ? [randomPolygon(rand, cx, cy, radius * 0.2).reverse()] : [];
    places.push([`polygon ${i}`, withinPlace({ type: 'Polygon', coordinates: [outer, ...hole] })]);
  }
  // An area across the antimeridian, split as RFC 7946 asks, and one around the north pole.
  places.push(['split at the antimeridian', withinPlace({ type: 'MultiPolygon', coordinates: [[[[170, -20], [180, -20], [180, 20], [170, 20], [170, -20]]], [[[-180, -20], [-170, -20], [-170, 20], [-180, 20], [-180, -20]]]] })]);
  places.push(['a polar cap', withinPlace({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[-180, 75], [180, 75], [180, 90], [-180, 90], [-180, 75]]] } })]);
  it.each(places)('%s matches the brute-force set', (_name, place) => {
    expect(viaIndex(place, FOOTPRINTS)).toEqual(bruteArea(place));
  });
});

describe('near', () => {
  const rand = seededRandom(13);
  const points: [number, number, number][] = [
    [179.99, 0, 50_000],
    [-179.9, -45, 300_000],
    [0, 89.9, 100_000],
    [45, -89.5, 500_000],
    [120, 85, 800_000],
  ];
  for (let i = 0; i < 10; i++) points.push([-180 + 360 * rand(), -90 + 180 * rand(), 10 ** (3 + 3 * rand())]);
  it.each(points)('near %d,%d within %d m matches the brute-force set', (lon, lat, radius) => {
    const place = parseNearPlace(`${lon},${lat}`, `${radius}m`);
    const ours = new Set(viaIndex(place, NEAR_FOOTPRINTS));
    let undecided = 0;
    for (const f of NEAR_FOOTPRINTS) {
      const d = bruteDistance(lon, lat, f.footprint, radius);
      // Sampling overestimates a distance by at most centimetres; leave those cases out.
      if (Math.abs(d - radius) < 0.05) {
        undecided++;
        continue;
      }
      expect(ours.has(f.id), `footprint ${f.id} at ${d.toFixed(3)} m`).toBe(d <= radius);
    }
    expect(undecided).toBeLessThanOrEqual(1);
  });
});

describe('near, on an edge', () => {
  // the footprint of a window of a scene across the antimeridian (EPSG:4326), split there as rsclip stores it
  const split: AreaGeometry = {
    type: 'MultiPolygon',
    coordinates: [
      [[[179, -16], [179, -17.12], [180, -17.12], [180, -16], [179, -16]]],
      [[[-180, -16], [-180, -17.12], [-179.88, -17.12], [-179.88, -16], [-180, -16]]],
    ],
  };
  it('finds a footprint from a point on its edge with no radius, at 180 as at -180', () => {
    for (const lon of [180, -180]) expect(compilePlace(parseNearPlace(`${lon},-16.5`, '0m')).matches(split), `lon ${lon}`).toBe(true);
    // the edge at 179 (a point on it), and a point just off it, which no radius reaches
    expect(compilePlace(parseNearPlace('179,-16.5', '0m')).matches(split)).toBe(true);
    expect(compilePlace(parseNearPlace('178.999,-16.5', '0m')).matches(split)).toBe(false);
  });
});

describe('parsing places', () => {
  function code(fn: () => unknown): string {
    try {
      fn();
    } catch (error) {
      if (isRsclipError(error)) return `${error.code}: ${error.message}`;
      throw error;
    }
    return 'no error';
  }
  it('reads distances in metres and kilometres', () => {
    expect(parseDistance('5km')).toBe(5000);
    expect(parseDistance('500m')).toBe(500);
    expect(parseDistance('2.5 km')).toBe(2500);
    expect(parseDistance('40')).toBe(40);
    expect(code(() => parseDistance('5 miles'))).toMatch(/^BAD_QUERY: cannot read the distance "5 miles"/);
  });
  it('rejects bad boxes and points with a clear message', () => {
    expect(code(() => parseBboxPlace('1,2,3'))).toMatch(/bbox must be 4 numbers/);
    expect(code(() => parseBboxPlace('0,10,5,5'))).toMatch(/south 10 is north of its north 5/);
    expect(code(() => parseBboxPlace('0,-95,5,5'))).toMatch(/latitude -95 is outside -90..90/);
    expect(code(() => parseNearPlace('200,10', '5km'))).toMatch(/longitude 200 is outside/);
  });
  it('validates GeoJSON areas', async () => {
    expect(code(() => withinPlace({ type: 'Point', coordinates: [0, 0] }))).toMatch(/is a "Point", not an area/);
    expect(code(() => withinPlace({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }))).toMatch(/not closed/);
    expect(code(() => withinPlace({ type: 'Polygon', coordinates: [[[170, 0], [190, 0], [190, 1], [170, 0]]] }))).toMatch(/longitude 190 outside -180..180.*|split polygons/);
    const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-place-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'bad.geojson'), '{"type": "Polygon",');
    await expect(readWithinPlace(path.join(dir, 'bad.geojson'))).rejects.toThrow(/is not valid JSON/);
    writeFileSync(path.join(dir, 'area.geojson'), JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }] }));
    expect((await readWithinPlace(path.join(dir, 'area.geojson'))).kind).toBe('within');
  });
});
