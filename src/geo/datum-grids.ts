/**
 * Datum shift grids (`+nadgrids=` in a proj4 definition: NTv2 `.gsb` files) for proj4js, found
 * where PROJ keeps them: `PROJ_DATA` (or the older `PROJ_LIB`), then PROJ's user folder and the
 * system's (`/usr/share/proj`, Debian's `proj-data` package). The EPSG definitions of 311 CRSs
 * (British National Grid, DHDN Gauss-Krüger, NAD27, NZGD49, ...) shift their datum by a grid;
 * without it proj4js maps no point at all (and prints a line to stdout for each), so a CRS whose
 * grid cannot be found is refused at once, naming the grid and where it was looked for.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Proj4 from 'proj4';
import { RsclipError } from '../errors.js';

interface GridInfo {
  name: string;
  mandatory: boolean;
  grid: unknown;
  isNull: boolean;
}

/** The folders searched for grid files, in order. */
export function gridFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = [env.PROJ_DATA, env.PROJ_LIB].flatMap((value) => (value ? value.split(path.delimiter).filter((dir) => dir !== '') : []));
  const userData = env.XDG_DATA_HOME ? path.join(env.XDG_DATA_HOME, 'proj') : path.join(os.homedir(), '.local', 'share', 'proj');
  return [...new Set([...fromEnv, userData, '/usr/local/share/proj', '/usr/share/proj'])];
}

/** The first of PROJ's folders' files named `name` (a grid, `proj.db`), or undefined. */
export function findInProjFolders(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return gridFolders(env)
    .map((dir) => path.join(dir, name))
    .find((candidate) => existsSync(candidate));
}

/** Grids proj4js has not got yet that a definition needs: the mandatory ones, and the optional ones of a list with nothing else to fall back on. */
function missingGrids(proj4: typeof Proj4, definition: string): GridInfo[] {
  const grids = ((new proj4.Proj(definition) as { datum?: { grids?: (GridInfo | null)[] } }).datum?.grids ?? []).filter((g): g is GridInfo => g !== null);
  if (grids.some((g) => g.isNull || g.grid !== null)) return grids.filter((g) => g.mandatory && !g.isNull && g.grid === null);
  return grids;
}

/**
 * Loads the grids `definition` names into proj4js from the grid folders; throws BAD_INPUT naming
 * what is missing when a grid it needs is not found (`label` names the CRS).
 */
export function loadDatumGrids(proj4: typeof Proj4, definition: string, label: string): void {
  const missing = missingGrids(proj4, definition);
  if (missing.length === 0) return;
  const folders = gridFolders();
  const notFound: string[] = [];
  for (const { name } of missing) {
    const file = findInProjFolders(name);
    if (!file || !/\.gsb$/i.test(name)) {
      notFound.push(name);
      continue;
    }
    const bytes = readFileSync(file);
    try {
      proj4.nadgrid(name, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    } catch (cause) {
      throw new RsclipError('BAD_INPUT', `cannot read the datum grid ${file} that ${label} needs: ${cause instanceof Error ? cause.message : String(cause)}`, { hint: 'replace it with a complete NTv2 (.gsb) file', cause });
    }
  }
  if (notFound.length > 0 && missingGrids(proj4, definition).length > 0) {
    throw new RsclipError('BAD_INPUT', `${label} shifts its datum with the grid ${notFound.join(', ')}, which was not found as an NTv2 file (looked in ${folders.join(', ')})`, {
      hint: 'put the NTv2 grid (.gsb; PROJ\'s proj-data package has many, https://cdn.proj.org the rest) in one of those folders or in a folder named by PROJ_DATA, or give the CRS with a Helmert shift instead (a TOWGS84 in its WKT, or --crs "+proj=... +towgs84=..." for a file that gives no CRS)',
    });
  }
}
