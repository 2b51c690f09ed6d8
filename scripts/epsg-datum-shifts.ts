/**
 * Writes src/geo/epsg-datum-shift-fixes.ts: the corrected `+towgs84` of the EPSG codes whose
 * datum shift `epsg-index` gets wrong or leaves out, read from PROJ's database (`proj.db`, Debian's `proj-data`).
 *
 * `epsg-index` copies a transformation's seven parameters into `+towgs84`, which proj4 reads as
 * a Position Vector transformation, whatever method EPSG defines them for:
 * - Coordinate Frame rotations (EPSG methods 9607, 1032): the rotations have the other sign;
 * - Molodensky-Badekas (9636, 1034, 1061-1063): rotations about a pivot point near the datum's
 *   area, which a Position Vector transformation about the earth's centre only equals with
 *   other translations;
 * - rotations in microradians or milliarc-seconds, scales in parts per billion, where proj4
 *   reads arc-seconds and parts per million.
 * Each such code's parameters are found among PROJ's transformations of the same datum to WGS 84
 * (by value), and rewritten as the Position Vector transformation that maps points alike.
 * `epsg-index` also writes some codes with no shift at all where PROJ has one (NTF (Paris) and its
 * Lambert zones, NGO 1948 (Oslo), Makassar (Jakarta)): those whose datum has a single Helmert
 * transformation to WGS 84 in use, and no grid, get it.
 *
 * Usage: npx tsx scripts/epsg-datum-shifts.ts [--proj-db FILE] [--check]
 *   --check  compare with the committed file instead of writing it (exit 1 when they differ)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { epsgDatumShiftFixes, findProjDb, renderFixesModule } from './epsg-datum-shift-source.js';

const { values } = parseArgs({ options: { 'proj-db': { type: 'string' }, check: { type: 'boolean', default: false } } });
const projDb = values['proj-db'] ?? findProjDb();
if (!projDb || !existsSync(projDb)) throw new Error('PROJ database (proj.db) not found: install proj-data (Debian) or give --proj-db FILE');
const target = path.resolve(import.meta.dirname, '../src/geo/epsg-datum-shift-fixes.ts');
const { fixes, projVersion, epsgVersion } = epsgDatumShiftFixes(projDb);
const text = renderFixesModule(fixes, { projVersion, epsgVersion });
if (values.check) {
  const same = existsSync(target) && readFileSync(target, 'utf8') === text;
  process.stdout.write(`${JSON.stringify({ fixes: fixes.size, projVersion, epsgVersion, upToDate: same })}\n`);
  process.exit(same ? 0 : 1);
}
writeFileSync(target, text);
process.stdout.write(`${JSON.stringify({ fixes: fixes.size, projVersion, epsgVersion, wrote: target })}\n`);
