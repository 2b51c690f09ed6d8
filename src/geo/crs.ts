/**
 * Coordinate reference systems and their transforms to WGS84 longitude/latitude.
 *
 * proj4js does the arithmetic. Definitions come from packages: EPSG codes from `epsg-index` (the
 * EPSG registry as proj4 strings and WKT, one small JSON file per code, read on demand), WKT (a
 * `.prj` file, an ESRI PE string in a GeoTIFF) through proj4js's WKT parser, and user-defined
 * GeoTIFF keys through `geotiff-geokeys-to-proj4` (see `geotiff-georeference.ts`). The one table
 * of ours corrects `epsg-index`: the datum shifts it writes with Coordinate Frame rotations, other
 * units or a Molodensky-Badekas pivot, as the Position Vector parameters proj4 reads, and the
 * single Helmert shift PROJ has where it writes none (`epsg-datum-shift-fixes.ts`, derived from
 * PROJ's database by scripts/epsg-datum-shifts.ts). It also reads the geographic CRSs in grads,
 * whose proj4 strings do not say so, from their entries' unit.
 * Datum grids a definition names come from PROJ's folders (`datum-grids.ts`).
 *
 * Data coordinates are always easting/longitude first (GDAL's traditional GIS order, which is
 * what GeoTIFFs and world files store), whatever axis order a definition declares.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Proj4 from 'proj4';
import { RsclipError } from '../errors.js';
import { lazyPackage } from '../lazy-package.js';
import { loadDatumGrids } from './datum-grids.js';
import { EPSG_DATUM_SHIFT_FIXES } from './epsg-datum-shift-fixes.js';

export interface Crs {
  /** A human name: the EPSG name, the WKT's name, or the proj4 string. */
  readonly name: string;
  /** The EPSG code when the CRS is one, else null. */
  readonly epsg: number | null;
  /** What proj4js is given: a proj4 string or WKT. */
  readonly definition: string;
  /** WKT when known (EPSG codes and `.prj` files), else null. */
  readonly wkt: string | null;
  /** Longitude/latitude (a geographic CRS) rather than projected units. */
  readonly geographic: boolean;
  /** Degrees in one unit of a geographic CRS's coordinates: 1, or 0.9 for grads (which proj4 does not read); 1 when projected. */
  readonly degreesPerUnit: number;
}

/** A longitude/latitude pair, in that order (GeoJSON). */
export type LonLat = [number, number];

interface EpsgEntry {
  code: string;
  name: string;
  kind: string;
  wkt: string | null;
  proj4: string | null;
  /** The coordinates' unit: `grad` for a few geographic CRSs, which their proj4 strings do not say. */
  unit: string | null;
}

const DEGREES_PER_GRAD = 0.9;

/** The folder of `epsg-index`'s entries, one `<code>.json` a code. */
export const EPSG_INDEX_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('epsg-index/package.json')), 's');
const epsgCache = new Map<number, Crs>();

const loadProj4 = lazyPackage<typeof Proj4>('proj4');

type Projection = InstanceType<typeof Proj4.Proj> & { projName?: string };

function projOf(definition: string): Projection {
  return new (loadProj4().Proj)(definition) as Projection;
}

function isGeographic(definition: string): boolean {
  return projOf(definition).projName === 'longlat';
}

/** The CRS of an EPSG code, from the `epsg-index` package. */
export function crsFromEpsg(code: number): Crs {
  if (!Number.isInteger(code) || code <= 0) {
    throw new RsclipError('BAD_INPUT', `EPSG code must be a positive integer, got ${String(code)}`, { hint: 'write a CRS as EPSG:4326 or EPSG:32633' });
  }
  const cached = epsgCache.get(code);
  if (cached) return cached;
  let entry: EpsgEntry;
  try {
    entry = JSON.parse(readFileSync(path.join(EPSG_INDEX_DIR, `${code}.json`), 'utf8')) as EpsgEntry;
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `EPSG:${code} is not a coordinate reference system in the EPSG registry`, {
      hint: 'check the code (e.g. EPSG:32633 for WGS 84 / UTM zone 33N), or give the CRS as WKT in a .prj file',
      cause,
    });
  }
  if (!entry.proj4 || !entry.kind.startsWith('CRS-')) {
    throw new RsclipError('BAD_INPUT', `EPSG:${code} (${entry.name}) has no horizontal transform that proj4 can use`, {
      hint: 'use a projected or geographic CRS code',
    });
  }
  const { proj4, wkt } = withDatumShiftFixed(code, entry.proj4, entry.wkt);
  loadDatumGrids(loadProj4(), proj4, `EPSG:${code} (${entry.name})`);
  const geographic = isGeographic(proj4);
  const degreesPerUnit = geographic && entry.unit === 'grad' ? DEGREES_PER_GRAD : 1;
  const crs: Crs = { name: entry.name, epsg: code, definition: proj4, wkt, geographic, degreesPerUnit };
  epsgCache.set(code, crs);
  return crs;
}

/**
 * An EPSG entry's definitions with its datum shift as PROJ applies it: a `+towgs84` proj4 would
 * misread replaced (and the WKT's TOWGS84), a missing one added (NTF (Paris): -168,-60,320).
 */
function withDatumShiftFixed(code: number, proj4: string, wkt: string | null): { proj4: string; wkt: string | null } {
  const towgs84 = EPSG_DATUM_SHIFT_FIXES.get(code);
  if (towgs84 === undefined) return { proj4, wkt };
  if (!/\+towgs84=/.test(proj4)) return { proj4: `${proj4} +towgs84=${towgs84}`, wkt: wkt?.replace(/SPHEROID\[(?:[^[\]]|\[[^[\]]*\])*\]/, `$&,TOWGS84[${towgs84}]`) ?? null };
  return { proj4: proj4.replace(/\+towgs84=\S+/, `+towgs84=${towgs84}`), wkt: wkt?.replace(/TOWGS84\[[^\]]*\]/, `TOWGS84[${towgs84}]`) ?? null };
}

function wktName(wkt: string): string {
  return /^\s*[A-Z_0-9]+\s*\[\s*"([^"]*)"/i.exec(wkt)?.[1] ?? 'unnamed';
}

/** The CRS of a WKT text (a `.prj` file, an ESRI PE string); the EPSG code is used when the WKT names one at its top level. */
export function crsFromWkt(wkt: string): Crs {
  const text = wkt.trim();
  const topCode = /AUTHORITY\s*\[\s*"EPSG"\s*,\s*"?(\d+)"?\s*\]\s*\]\s*$/i.exec(text) ?? /\bID\s*\[\s*"EPSG"\s*,\s*(\d+)\s*\]\s*\]\s*$/i.exec(text);
  try {
    const crs: Crs = { name: wktName(text), epsg: topCode ? Number(topCode[1]) : null, definition: text, wkt: text, geographic: isGeographic(text), degreesPerUnit: 1 };
    checkUsable(crs);
    return crs;
  } catch (cause) {
    if (cause instanceof RsclipError) throw cause;
    throw new RsclipError('BAD_INPUT', `cannot use the WKT CRS "${wktName(text)}": ${cause instanceof Error ? cause.message : String(cause)}`, {
      hint: 'give the CRS as an EPSG code instead, e.g. EPSG:32633',
      cause,
    });
  }
}

/** The CRS of a proj4 string such as `+proj=utm +zone=33 +datum=WGS84`. */
export function crsFromProj4(definition: string, name?: string): Crs {
  const text = definition.trim();
  try {
    loadDatumGrids(loadProj4(), text, `the proj4 CRS "${text}"`);
    const crs: Crs = { name: name ?? text, epsg: null, definition: text, wkt: null, geographic: isGeographic(text), degreesPerUnit: 1 };
    checkUsable(crs);
    return crs;
  } catch (cause) {
    if (cause instanceof RsclipError) throw cause;
    throw new RsclipError('BAD_INPUT', `cannot use the proj4 CRS "${text}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * The CRS a file's recorded georeference names: its EPSG code, else its recorded definition (or,
 * in a catalog from before definitions, its name when that is one); null when none reads.
 */
export function recordedCrs(geo: { crs: string | null; epsg: number | null; definition?: string }): Crs | null {
  try {
    if (geo.epsg !== null) return crsFromEpsg(geo.epsg);
    const text = geo.definition ?? geo.crs;
    return text ? parseCrs(text) : null;
  } catch {
    return null;
  }
}

/**
 * Parses a CRS given by a user: `EPSG:32633` (or a bare code), WKT (a `.prj` file's text), or
 * a proj4 string starting with `+proj=`.
 */
export function parseCrs(text: string): Crs {
  const t = text.trim();
  const code = /^(?:EPSG:)?(\d+)$/i.exec(t);
  if (code) return crsFromEpsg(Number(code[1]));
  if (t.startsWith('+')) return crsFromProj4(t);
  if (/^[A-Z_0-9]+\s*\[/i.test(t)) return crsFromWkt(t);
  throw new RsclipError('BAD_INPUT', `cannot read the CRS ${JSON.stringify(t.length > 60 ? `${t.slice(0, 60)}...` : t)}`, {
    hint: 'give EPSG:<code> (e.g. EPSG:32633), a WKT text (as in a .prj file) or a proj4 string (+proj=...)',
  });
}

/** A transform between a CRS and WGS84 longitude/latitude. Points it cannot map give null. */
export interface LonLatTransform {
  readonly crs: Crs;
  toLonLat(x: number, y: number): LonLat | null;
  fromLonLat(lon: number, lat: number): [number, number] | null;
}

let wgs84: Projection | undefined;
const transformCache = new Map<string, LonLatTransform>();

function finitePair(p: number[]): [number, number] | null {
  const [a, b] = p;
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) ? [a, b] : null;
}

/** The (cached) transform of a CRS to and from WGS84 longitude/latitude. */
export function lonLatTransform(crs: Crs): LonLatTransform {
  const key = `${crs.degreesPerUnit} ${crs.definition}`;
  const cached = transformCache.get(key);
  if (cached) return cached;
  const source = projOf(crs.definition);
  // Data coordinates are easting/longitude first, whatever the definition's AXIS says.
  source.axis = 'enu';
  wgs84 ??= projOf('+proj=longlat +datum=WGS84 +no_defs');
  const converter = loadProj4()(source, wgs84);
  // proj4 reads a geographic CRS's coordinates as degrees; grads are made degrees before its prime meridian and datum apply.
  const unit = crs.degreesPerUnit;
  const transform: LonLatTransform = {
    crs,
    toLonLat(x, y) {
      try {
        return finitePair(converter.forward([x * unit, y * unit]));
      } catch {
        return null;
      }
    },
    fromLonLat(lon, lat) {
      try {
        const xy = finitePair(converter.inverse([lon, lat]));
        return xy && [xy[0] / unit, xy[1] / unit];
      } catch {
        return null;
      }
    },
  };
  transformCache.set(key, transform);
  return transform;
}

function checkUsable(crs: Crs): void {
  const proj = projOf(crs.definition) as Projection & { units?: string };
  if (!proj.projName) throw new Error('proj4 does not know its projection');
  if (crs.geographic && proj.units !== undefined && !/^deg/i.test(proj.units)) {
    // proj4 would read them as degrees, and WKT writers disagree on the unit of the prime meridian.
    throw new RsclipError('BAD_INPUT', `the CRS "${crs.name}" gives longitude and latitude in ${proj.units}, and rsclip reads a WKT or proj4 geographic CRS in degrees only`, {
      hint: 'give the CRS as its EPSG code (e.g. EPSG:4807 for NTF (Paris) in grads): a GeoTIFF key, or --crs for a world file without a .prj',
    });
  }
}
