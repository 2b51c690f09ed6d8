/**
 * Places to search by, and when an item's footprint matches one:
 * - `bbox` W,S,E,N in degrees (W > E crosses the antimeridian): the footprint intersects the box;
 * - `near` lon,lat + radius in metres: the footprint's geodesic distance (WGS84) to the point is at
 *   most the radius, 0 inside the footprint;
 * - `within` a GeoJSON Polygon/MultiPolygon: the footprint intersects it.
 * Footprints and areas are RFC 7946 geometries (straight segments in lon/lat, split at the
 * antimeridian); intersection is planar in lon/lat, distance is geodesic.
 *
 * `placeQueryBoxes` gives lon/lat boxes (west <= east) that every matching footprint's own boxes
 * intersect, to query a spatial index with; `footprintMatchesPlace` is the exact test after it.
 */
import { readFile } from 'node:fs/promises';
import geodesic from 'geographiclib-geodesic';
import { RsclipError } from '../errors.js';
import type { AreaGeometry, LonLatBox, Position, Ring } from './geojson-types.js';
import { polygonsOf } from './geojson-types.js';
import { geometryBoxes } from './lonlat-ring.js';
import { pointInPolygon, polygonsIntersect, preparePolygon, type PreparedPolygon } from './planar.js';

const WGS84 = geodesic.Geodesic.WGS84;

export type Place =
  | { kind: 'bbox'; west: number; south: number; east: number; north: number }
  | { kind: 'near'; lon: number; lat: number; radius: number }
  | { kind: 'within'; geometry: AreaGeometry };

function badPlace(message: string, hint: string): RsclipError {
  return new RsclipError('BAD_QUERY', message, { hint });
}

function checkLonLat(lon: number, lat: number, what: string): void {
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) throw badPlace(`${what}: longitude ${lon} is outside -180..180`, 'write longitude first, then latitude, in degrees');
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw badPlace(`${what}: latitude ${lat} is outside -90..90`, 'write longitude first, then latitude, in degrees');
}

/** A decimal number (`-12.5`, `1e3`): Number() alone also reads hex, binary and octal (`0x10` is 16). */
export const DECIMAL_NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

function numbers(text: string, count: number, what: string, example: string): number[] {
  const parts = text.split(',').map((t) => t.trim());
  const values = parts.map((t) => (DECIMAL_NUMBER.test(t) ? Number(t) : NaN));
  if (parts.length !== count || values.some((v) => !Number.isFinite(v))) {
    throw badPlace(`${what} must be ${count} numbers separated by commas, got ${JSON.stringify(text)}`, `e.g. ${example}`);
  }
  return values;
}

/** A bbox place from `W,S,E,N` (degrees; W > E crosses the antimeridian). */
export function bboxPlace(west: number, south: number, east: number, north: number): Place {
  checkLonLat(west, south, 'bbox');
  checkLonLat(east, north, 'bbox');
  if (south > north) throw badPlace(`bbox south ${south} is north of its north ${north}`, 'write W,S,E,N (west, south, east, north)');
  return { kind: 'bbox', west, south, east, north };
}

export function parseBboxPlace(text: string): Place {
  const [w, s, e, n] = numbers(text, 4, 'bbox', '--bbox 12.3,41.8,12.6,42.0 (W,S,E,N)') as [number, number, number, number];
  return bboxPlace(w, s, e, n);
}

/** Metres from `5km`, `500m`, `1.5 km` or a bare number of metres. */
export function parseDistance(text: string | number): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text >= 0) return text;
    throw badPlace(`radius must be a non-negative number of metres, got ${text}`, 'e.g. --radius 5km or --radius 500m');
  }
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(m|km)?\s*$/i.exec(text);
  if (!m) throw badPlace(`cannot read the distance ${JSON.stringify(text)}`, 'write metres or kilometres, e.g. 500m, 5km, 2.5km');
  return Number(m[1]) * ((m[2] ?? 'm').toLowerCase() === 'km' ? 1000 : 1);
}

export function nearPlace(lon: number, lat: number, radius: number): Place {
  checkLonLat(lon, lat, 'near');
  return { kind: 'near', lon, lat, radius: parseDistance(radius) };
}

/** A near place from `LON,LAT` and a radius such as `5km`. */
export function parseNearPlace(lonLat: string, radius: string | number): Place {
  const [lon, lat] = numbers(lonLat, 2, 'near', '--near 12.49,41.89 --radius 5km (LON,LAT)') as [number, number];
  return nearPlace(lon, lat, parseDistance(radius));
}

function checkRing(ring: unknown, where: string): Ring {
  if (!Array.isArray(ring) || ring.length < 4) throw badPlace(`${where} must be a closed ring of at least 4 positions`, 'a GeoJSON ring repeats its first position at the end');
  const out: Ring = ring.map((pos: unknown, i) => {
    if (!Array.isArray(pos) || pos.length < 2 || typeof pos[0] !== 'number' || typeof pos[1] !== 'number') {
      throw badPlace(`${where}[${i}] is not a [lon, lat] position`, 'positions are [longitude, latitude] arrays of numbers');
    }
    const lon = pos[0];
    const lat = pos[1];
    if (!Number.isFinite(lon) || lon < -180 || lon > 180) {
      throw badPlace(`${where}[${i}] has longitude ${lon} outside -180..180`, 'split polygons that cross the antimeridian into a MultiPolygon (RFC 7946, 3.1.9)');
    }
    if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw badPlace(`${where}[${i}] has latitude ${lat} outside -90..90`, 'positions are [longitude, latitude]');
    return [lon, lat] as Position;
  });
  const first = out[0]!;
  const last = out[out.length - 1]!;
  if (first[0] !== last[0] || first[1] !== last[1]) throw badPlace(`${where} is not closed (its last position differs from its first)`, 'repeat the first position at the end of the ring');
  return out;
}

function checkPolygon(coordinates: unknown, where: string): Ring[] {
  if (!Array.isArray(coordinates) || coordinates.length === 0) throw badPlace(`${where} must be an array of rings`, 'see RFC 7946, 3.1.6');
  return coordinates.map((ring, i) => checkRing(ring, `${where}.coordinates[${i}]`));
}

function geometryPolygons(value: unknown, where: string): Ring[][] {
  if (typeof value !== 'object' || value === null) throw badPlace(`${where} is not a GeoJSON object`, 'give a Polygon, MultiPolygon, Feature or FeatureCollection');
  const obj = value as { type?: unknown; coordinates?: unknown; geometry?: unknown; features?: unknown };
  switch (obj.type) {
    case 'Polygon':
      return [checkPolygon(obj.coordinates, where)];
    case 'MultiPolygon':
      if (!Array.isArray(obj.coordinates) || obj.coordinates.length === 0) throw badPlace(`${where} has no polygons`, 'see RFC 7946, 3.1.7');
      return obj.coordinates.map((p, i) => checkPolygon(p, `${where}.coordinates[${i}]`));
    case 'Feature':
      return geometryPolygons(obj.geometry, `${where}.geometry`);
    case 'FeatureCollection':
      if (!Array.isArray(obj.features) || obj.features.length === 0) throw badPlace(`${where} has no features`, 'give at least one Polygon feature');
      return obj.features.flatMap((f, i) => geometryPolygons(f, `${where}.features[${i}]`));
    default:
      throw badPlace(`${where} is a ${JSON.stringify(obj.type)}, not an area`, 'give a Polygon or MultiPolygon (or a Feature/FeatureCollection of them)');
  }
}

/** A within place from a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection of them (validated). */
export function withinPlace(geojson: unknown): Place {
  const polygons = geometryPolygons(geojson, 'the area');
  const geometry: AreaGeometry = polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0]! } : { type: 'MultiPolygon', coordinates: polygons };
  return { kind: 'within', geometry };
}

/** A within place from a GeoJSON file. */
export async function readWithinPlace(file: string): Promise<Place> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RsclipError('BAD_QUERY', `cannot read the area file ${file}: ${(cause as Error).message}`, { hint: 'check the path', cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new RsclipError('BAD_QUERY', `the area file ${file} is not valid JSON: ${(cause as Error).message}`, { hint: 'give a GeoJSON file', cause });
  }
  return withinPlace(json);
}

function splitBox(west: number, south: number, east: number, north: number): LonLatBox[] {
  if (west <= east) return [{ west, south, east, north }];
  return [{ west, south, east: 180, north }, { west: -180, south, east, north }];
}

/** Lon/lat boxes (west <= east) that contain every point within `radius` metres of (lon, lat). */
function nearBoxes(lon: number, lat: number, radius: number): LonLatBox[] {
  const toNorthPole = WGS84.Inverse(lat, lon, 90, lon).s12 ?? Infinity;
  const toSouthPole = WGS84.Inverse(lat, lon, -90, lon).s12 ?? Infinity;
  const north = toNorthPole <= radius ? 90 : (WGS84.Direct(lat, lon, 0, radius).lat2 ?? 90);
  const south = toSouthPole <= radius ? -90 : (WGS84.Direct(lat, lon, 180, radius).lat2 ?? -90);
  const pad = 1e-9;
  if (toNorthPole <= radius || toSouthPole <= radius) return [{ west: -180, south: Math.max(-90, south - pad), east: 180, north: Math.min(90, north + pad) }];
  // The widest longitude reach of the geodesic circle, found over azimuths then refined.
  const reach = (azimuth: number): number => Math.abs((WGS84.Direct(lat, lon, azimuth, radius, geodesic.Geodesic.LONGITUDE | geodesic.Geodesic.LONG_UNROLL).lon2 ?? lon) - lon);
  let best = 0;
  let bestAz = 90;
  for (let az = 0; az <= 180; az += 5) {
    const r = reach(az);
    if (r > best) [best, bestAz] = [r, az];
  }
  let lo = Math.max(0, bestAz - 5);
  let hi = Math.min(180, bestAz + 5);
  for (let i = 0; i < 60; i++) {
    const m1 = lo + (hi - lo) / 3;
    const m2 = hi - (hi - lo) / 3;
    if (reach(m1) < reach(m2)) lo = m1;
    else hi = m2;
  }
  const halfWidth = Math.max(best, reach((lo + hi) / 2)) * (1 + 1e-6) + pad;
  const s = Math.max(-90, south - pad);
  const n = Math.min(90, north + pad);
  if (halfWidth >= 180) return [{ west: -180, south: s, east: 180, north: n }];
  let west = lon - halfWidth;
  let east = lon + halfWidth;
  if (west < -180) west += 360;
  if (east > 180) east -= 360;
  return splitBox(west, s, east, n);
}

/** Lon/lat boxes (west <= east) to query a spatial index with: a matching footprint's boxes intersect at least one. */
export function placeQueryBoxes(place: Place): LonLatBox[] {
  switch (place.kind) {
    case 'bbox':
      return splitBox(place.west, place.south, place.east, place.north);
    case 'near':
      return nearBoxes(place.lon, place.lat, place.radius);
    case 'within':
      return geometryBoxes(place.geometry);
  }
}

function boxPolygon(b: LonLatBox): PreparedPolygon {
  return preparePolygon([[[b.west, b.south], [b.east, b.south], [b.east, b.north], [b.west, b.north], [b.west, b.south]]]);
}

/** Geodesic distance in metres from a point to a segment that is straight in lon/lat. */
function distanceToSegment(lon: number, lat: number, a: Position, b: Position, da: number, db: number): number {
  const at = (t: number): number => WGS84.Inverse(lat, lon, a[1] + t * (b[1] - a[1]), a[0] + t * (b[0] - a[0])).s12 ?? Infinity;
  const samples = 16;
  let bestT = 0;
  let best = da;
  for (let i = 1; i <= samples; i++) {
    const t = i / samples;
    const d = i === samples ? db : at(t);
    if (d < best) [best, bestT] = [d, t];
  }
  let lo = Math.max(0, bestT - 1 / samples);
  let hi = Math.min(1, bestT + 1 / samples);
  const phi = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - phi * (hi - lo);
  let x2 = lo + phi * (hi - lo);
  let f1 = at(x1);
  let f2 = at(x2);
  for (let i = 0; i < 48 && hi - lo > 1e-12; i++) {
    if (f1 < f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - phi * (hi - lo);
      f1 = at(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + phi * (hi - lo);
      f2 = at(x2);
    }
  }
  return Math.min(best, f1, f2);
}

/** How near a point must be to an edge to be on it, in metres. */
const ON_EDGE_METRES = 1e-3;

/**
 * Whether any point of the footprint lies within `radius` metres of (lon, lat). Vertices first;
 * an edge is searched only when the triangle inequality cannot rule it out.
 */
function footprintNear(polygons: Ring[][], lon: number, lat: number, searchRadius: number): boolean {
  // a point on an edge is in (the polygon test leaves out points on some edges; a computed
  // distance to an edge through the point comes out a few nanometres above 0)
  const radius = searchRadius + ON_EDGE_METRES;
  const p: Position = [lon, lat];
  for (const rings of polygons) if (pointInPolygon(p, rings)) return true;
  for (const rings of polygons) {
    for (const ring of rings) {
      const dist = ring.map(([x, y]) => WGS84.Inverse(lat, lon, y, x).s12 ?? Infinity);
      if (dist.some((d) => d <= radius)) return true;
      for (let i = 0; i + 1 < ring.length; i++) {
        const a = ring[i]!;
        const b = ring[i + 1]!;
        const mid: Position = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
        // An upper bound of the edge's length: the two half chords, padded for their curvature.
        const length = ((WGS84.Inverse(a[1], a[0], mid[1], mid[0]).s12 ?? Infinity) + (WGS84.Inverse(mid[1], mid[0], b[1], b[0]).s12 ?? Infinity)) * 1.001 + 1;
        if ((dist[i]! + dist[i + 1]! - length) / 2 > radius) continue;
        if (distanceToSegment(lon, lat, a, b, dist[i]!, dist[i + 1]!) <= radius) return true;
      }
    }
  }
  return false;
}

/** A place prepared for testing many footprints. */
export interface CompiledPlace {
  readonly place: Place;
  /** Boxes to query a spatial index with (see `placeQueryBoxes`). */
  readonly boxes: LonLatBox[];
  /** The exact test. */
  matches(footprint: AreaGeometry): boolean;
}

export function compilePlace(place: Place): CompiledPlace {
  const boxes = placeQueryBoxes(place);
  let matches: (footprint: AreaGeometry) => boolean;
  if (place.kind === 'near') {
    matches = (footprint) => footprintNear(polygonsOf(footprint), place.lon, place.lat, place.radius);
  } else {
    const areas = place.kind === 'bbox' ? boxes.map(boxPolygon) : polygonsOf(place.geometry).map(preparePolygon);
    matches = (footprint) => {
      const parts = polygonsOf(footprint).map(preparePolygon);
      return parts.some((part) => areas.some((area) => polygonsIntersect(part, area)));
    };
  }
  return { place, boxes, matches };
}

/** Whether a footprint matches a place (the exact test; compile once with `compilePlace` for many). */
export function footprintMatchesPlace(place: Place, footprint: AreaGeometry): boolean {
  return compilePlace(place).matches(footprint);
}
