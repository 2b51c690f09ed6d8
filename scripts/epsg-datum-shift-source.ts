/**
 * Finds the EPSG codes whose `+towgs84` in `epsg-index` is not the Position Vector transformation
 * proj4 reads it as, or is missing where PROJ has one, and their parameters, from PROJ's database (see
 * scripts/epsg-datum-shifts.ts, which writes them into src/geo/epsg-datum-shift-fixes.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database, { type Statement } from 'better-sqlite3';
import { EPSG_INDEX_DIR } from '../src/geo/crs.js';
import { findInProjFolders } from '../src/geo/datum-grids.js';

/** `proj.db` in the first of PROJ's folders that has one, else null. */
export function findProjDb(env: NodeJS.ProcessEnv = process.env): string | null {
  return findInProjFolders('proj.db', env) ?? null;
}

/** A transformation's parameters as EPSG gives them, with its units' factors to metres, radians and unity. */
interface HelmertRow {
  code: number;
  method: string;
  tx: number;
  ty: number;
  tz: number;
  rx: number | null;
  ry: number | null;
  rz: number | null;
  ds: number | null;
  px: number | null;
  py: number | null;
  pz: number | null;
  translationUnit: number;
  rotationUnit: number | null;
  scaleUnit: number | null;
  pivotUnit: number | null;
}

/** Seven Position Vector parameters: metres, arc-seconds, parts per million (proj4's `+towgs84`). */
export type Towgs84 = [number, number, number, number, number, number, number];

const ARC_SECOND = Math.PI / (180 * 3600);

/**
 * The Position Vector parameters, in proj4's units, of a transformation that maps points as `row`
 * does. Molodensky-Badekas (X' = T + P + M R (X - P)) equals the Position Vector transformation
 * X' = T' + M R X with T' = T + P - M R P, R the linearised rotation proj4 applies too.
 */
export function positionVectorOf(row: HelmertRow): Towgs84 {
  const frame = /coordinate frame|\bCF\b/i.test(row.method);
  const badekas = /molodensky-badekas/i.test(row.method);
  const toArcSeconds = (row.rotationUnit ?? ARC_SECOND) / ARC_SECOND;
  const [rx, ry, rz] = [row.rx ?? 0, row.ry ?? 0, row.rz ?? 0].map((r) => (frame ? -1 : 1) * r * toArcSeconds) as [number, number, number];
  const ds = ((row.ds ?? 0) * (row.scaleUnit ?? 1e-6)) / 1e-6;
  let [tx, ty, tz] = [row.tx, row.ty, row.tz].map((t) => t * row.translationUnit) as [number, number, number];
  if (badekas) {
    const [x, y, z] = [row.px ?? 0, row.py ?? 0, row.pz ?? 0].map((v) => v * (row.pivotUnit ?? 1)) as [number, number, number];
    const m = 1 + ds * 1e-6;
    const [ax, ay, az] = [rx * ARC_SECOND, ry * ARC_SECOND, rz * ARC_SECOND];
    tx += x - m * (x - az * y + ay * z);
    ty += y - m * (az * x + y - ax * z);
    tz += z - m * (-ay * x + ax * y + z);
  }
  return [tx, ty, tz, rx, ry, rz, ds];
}

function parseTowgs84(proj4: string): number[] | null {
  const m = /\+towgs84=([^\s]+)/.exec(proj4);
  return m ? m[1]!.split(',').map(Number) : null;
}

function near(a: number, b: number, tolerance: number): boolean {
  return Math.abs(a - b) <= tolerance;
}

/** Whether seven parameters equal `given` (seven, or three translations). */
function sameParameters(p: readonly number[], given: readonly number[]): boolean {
  const full = [...given, 0, 0, 0, 0].slice(0, 7);
  return p.every((v, i) => near(v, full[i]!, i < 3 ? 1e-3 : 1e-6));
}

/** The numbers as EPSG writes them, whatever their method and units: what epsg-index copies. */
function rawParameters(row: HelmertRow): number[] {
  return [row.tx, row.ty, row.tz, row.rx ?? 0, row.ry ?? 0, row.rz ?? 0, row.ds ?? 0];
}

/** Rounds away float noise, and writes `-0` as `0`. */
function tidy(v: number): number {
  return Number(v.toPrecision(12)) + 0;
}

export function formatTowgs84(p: Towgs84): string {
  return p.map(tidy).join(',');
}

export interface FixesFromProj {
  /** EPSG code: corrected `+towgs84` value. */
  fixes: Map<number, string>;
  projVersion: string;
  epsgVersion: string;
}

interface EpsgEntry {
  kind: string;
  proj4: string | null;
}

/** The datum of an EPSG code's geodetic CRS (its own, or its projected CRS's base). */
const DATUM_OF_CRS = `SELECT g.datum_code AS datum FROM geodetic_crs g WHERE g.auth_name = 'EPSG' AND g.code = ?
  UNION ALL
  SELECT g.datum_code FROM projected_crs p JOIN geodetic_crs g ON g.auth_name = p.geodetic_crs_auth_name AND g.code = p.geodetic_crs_code
  WHERE p.auth_name = 'EPSG' AND p.code = ?`;

const HELMERT_ROWS = `SELECT h.code, m.name AS method, h.tx, h.ty, h.tz, h.rx, h.ry, h.rz, h.scale_difference AS ds, h.px, h.py, h.pz,
         ut.conv_factor AS translationUnit, ur.conv_factor AS rotationUnit, us.conv_factor AS scaleUnit, up.conv_factor AS pivotUnit, h.deprecated
  FROM helmert_transformation_table h
  JOIN coordinate_operation_method m ON m.auth_name = h.method_auth_name AND m.code = h.method_code
  JOIN unit_of_measure ut ON ut.auth_name = h.translation_uom_auth_name AND ut.code = h.translation_uom_code
  LEFT JOIN unit_of_measure ur ON ur.auth_name = h.rotation_uom_auth_name AND ur.code = h.rotation_uom_code
  LEFT JOIN unit_of_measure us ON us.auth_name = h.scale_difference_uom_auth_name AND us.code = h.scale_difference_uom_code
  LEFT JOIN unit_of_measure up ON up.auth_name = h.pivot_uom_auth_name AND up.code = h.pivot_uom_code`;

/** Transformations of one of EPSG's own datums to WGS 84 (any of its CRSs: 2D, 3D or geocentric). */
const HELMERT_TO_WGS84 = `${HELMERT_ROWS}
  JOIN geodetic_crs s ON s.auth_name = h.source_crs_auth_name AND s.code = h.source_crs_code
  JOIN geodetic_crs t ON t.auth_name = h.target_crs_auth_name AND t.code = h.target_crs_code
  WHERE h.auth_name = 'EPSG' AND s.datum_auth_name = 'EPSG' AND s.datum_code = ?
    AND t.datum_auth_name = 'EPSG' AND t.datum_code = '6326' AND m.name NOT LIKE 'Time-%'`;

/** EPSG's grid transformations of a datum to WGS 84 in use: where one exists, PROJ prefers it to any Helmert shift. */
const GRIDS_TO_WGS84 = `SELECT count(*) AS n FROM grid_transformation g
  JOIN geodetic_crs s ON s.auth_name = g.source_crs_auth_name AND s.code = g.source_crs_code
  JOIN geodetic_crs t ON t.auth_name = g.target_crs_auth_name AND t.code = g.target_crs_code
  WHERE g.auth_name = 'EPSG' AND g.deprecated = 0 AND s.datum_auth_name = 'EPSG' AND s.datum_code = ? AND t.datum_auth_name = 'EPSG' AND t.datum_code = '6326'`;

/**
 * The datums a datum is the same as but for its prime meridian (EPSG's Longitude rotation, method
 * 9601: NTF (Paris) to NTF), whose shift to WGS 84 PROJ chains after the rotation. proj4 applies
 * `+pm` before `+towgs84`, so that shift is the CRS's own.
 */
const SAME_BUT_PRIME_MERIDIAN = `SELECT DISTINCT t.datum_code AS datum FROM other_transformation o
  JOIN geodetic_crs s ON s.auth_name = o.source_crs_auth_name AND s.code = o.source_crs_code
  JOIN geodetic_crs t ON t.auth_name = o.target_crs_auth_name AND t.code = o.target_crs_code
  WHERE o.auth_name = 'EPSG' AND o.deprecated = 0 AND o.method_auth_name = 'EPSG' AND o.method_code = '9601'
    AND s.datum_auth_name = 'EPSG' AND s.datum_code = ? AND t.datum_auth_name = 'EPSG' AND t.datum_code <> ?`;

/**
 * The EPSG codes whose datum shift proj4 would misread or miss, with the `+towgs84` that maps
 * points as PROJ does:
 * - a `+towgs84` that is not the Position Vector transformation it is read as (see positionVectorOf);
 * - no datum shift at all (no `+towgs84`, `+nadgrids` or `+datum`) where PROJ has exactly one,
 *   a Helmert transformation in use, for the CRS's datum or, where it has none, for the datum it
 *   is but for its prime meridian; and no grid (NTF (Paris), Lambert zones I-IV: -168,-60,320).
 *   EPSG's own chains of a prime meridian change and a shift (Carthage (Paris) to WGS 84) are left
 *   out: PROJ uses some and not others (Monte Mario (Rome), Tokyo 1892), for reasons not read here.
 */
export function epsgDatumShiftFixes(projDbFile: string): FixesFromProj {
  const db = new Database(projDbFile, { readonly: true, fileMustExist: true });
  try {
    const meta = new Map((db.prepare('SELECT key, value FROM metadata').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const datumOf = db.prepare<[string, string], { datum: string }>(DATUM_OF_CRS);
    const toWgs84 = db.prepare<[string], HelmertRow & { deprecated: number }>(HELMERT_TO_WGS84);
    const gridsToWgs84 = db.prepare<[string], { n: number }>(GRIDS_TO_WGS84);
    const sameButPrimeMeridian = db.prepare<[string, string], { datum: string }>(SAME_BUT_PRIME_MERIDIAN);
    const fixes = new Map<number, string>();
    for (const file of readdirSync(EPSG_INDEX_DIR).filter((f) => f.endsWith('.json'))) {
      const code = Number(path.basename(file, '.json'));
      const entry = JSON.parse(readFileSync(path.join(EPSG_INDEX_DIR, file), 'utf8')) as EpsgEntry;
      if (!entry.kind.startsWith('CRS-') || !entry.proj4) continue;
      const given = parseTowgs84(entry.proj4);
      const datum = datumOf.get(String(code), String(code))?.datum;
      if (datum === undefined) continue;
      if (given === null) {
        const missing = missingShift(datum, entry.proj4, { toWgs84, gridsToWgs84, sameButPrimeMeridian });
        if (missing !== undefined) fixes.set(code, missing);
        continue;
      }
      if (given.length < 7 || given.slice(3).every((v) => v === 0)) continue;
      const rows = toWgs84.all(datum).filter((r) => sameParameters(rawParameters(r), given));
      const meant = rows.map(positionVectorOf);
      // A value some transformation of this datum means as written is read right already.
      if (meant.length === 0 || meant.some((p) => sameParameters(p, given))) continue;
      const fixed = new Set(meant.map(formatTowgs84));
      if (fixed.size === 1) fixes.set(code, [...fixed][0]!);
    }
    return { fixes, projVersion: meta.get('PROJ.VERSION') ?? 'unknown', epsgVersion: meta.get('EPSG.VERSION') ?? 'unknown' };
  } finally {
    db.close();
  }
}

interface ShiftQueries {
  toWgs84: Statement<[string], HelmertRow & { deprecated: number }>;
  gridsToWgs84: Statement<[string], { n: number }>;
  sameButPrimeMeridian: Statement<[string, string], { datum: string }>;
}

/** The one Helmert shift PROJ has for a definition that has none, else undefined. */
function missingShift(datum: string, proj4: string, queries: ShiftQueries): string | undefined {
  if (/\+(nadgrids|datum)=/.test(proj4) || datum === '6326') return undefined;
  const hasGrid = (d: string) => queries.gridsToWgs84.get(d)!.n > 0;
  const helmerts = (d: string) => queries.toWgs84.all(d).filter((r) => r.deprecated === 0);
  if (hasGrid(datum)) return undefined;
  let rows = helmerts(datum);
  if (rows.length === 0) {
    const alike = queries.sameButPrimeMeridian.all(datum, datum).map((r) => r.datum);
    if (alike.length !== 1 || hasGrid(alike[0]!)) return undefined;
    rows = helmerts(alike[0]!);
  }
  return rows.length === 1 ? formatTowgs84(positionVectorOf(rows[0]!)) : undefined;
}

export function renderFixesModule(fixes: Map<number, string>, source: { projVersion: string; epsgVersion: string }): string {
  const lines = [...fixes].sort(([a], [b]) => a - b).map(([code, towgs84]) => `  [${code}, '${towgs84}'],`);
  return `// Generated by scripts/epsg-datum-shifts.ts from PROJ ${source.projVersion}'s database (EPSG ${source.epsgVersion}); do not edit.
// The +towgs84 of EPSG codes whose datum shift epsg-index writes with Coordinate Frame or
// Molodensky-Badekas parameters, rewritten as the Position Vector transformation proj4 reads,
// and of codes it writes with none where PROJ has one Helmert transformation.
export const EPSG_DATUM_SHIFT_FIXES: ReadonlyMap<number, string> = new Map([
${lines.join('\n')}
]);
`;
}
