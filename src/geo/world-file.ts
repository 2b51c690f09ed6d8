/**
 * World files (ESRI): six lines A, D, B, E, C, F giving the pixel size, rotation terms and the
 * CENTRE of the top-left pixel, beside an image as `.tfw`, `.jgw`, `.pgw` (first and last letter
 * of the image's extension + `w`), `<ext>w` (`.jpgw`, `.tifw`) or `.wld`, looked up in that
 * order (as GDAL's GDALReadWorldFile). The CRS comes from a `.prj` file (WKT) beside the image,
 * else from the caller (`--crs EPSG:n`).
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { crsFromWkt, type Crs } from './crs.js';
import { checkOnTheEarth, type Georeference } from './georeference.js';
import type { GeoTransform } from './geotransform.js';

/** The world-file names GDAL looks for beside an image, in order. */
export function worldFileCandidates(imagePath: string): string[] {
  const ext = path.extname(imagePath).slice(1);
  const base = imagePath.slice(0, imagePath.length - path.extname(imagePath).length);
  const names: string[] = [];
  if (ext.length >= 2) names.push(`${ext[0]}${ext[ext.length - 1]}w`);
  if (ext.length > 0) names.push(`${ext}w`);
  names.push('wld');
  const out: string[] = [];
  for (const n of names) {
    for (const variant of [n.toLowerCase(), n.toUpperCase()]) {
      const candidate = `${base}.${variant}`;
      if (!out.includes(candidate)) out.push(candidate);
    }
  }
  return out;
}

/** Parses a world file's text into a geotransform; `label` names the file in errors. */
export function parseWorldFile(text: string, label: string): GeoTransform {
  const values = text.split(/\s+/).filter((t) => t.length > 0).map(Number);
  if (values.length < 6 || values.slice(0, 6).some((v) => !Number.isFinite(v))) {
    throw new RsclipError('BAD_INPUT', `world file ${label} must hold six numbers (A D B E C F), one per line`, {
      hint: 'check the file, e.g. 0.5 / 0 / 0 / -0.5 / 500000.25 / 4649999.75',
    });
  }
  const [a, d, b, e, c, f] = values as [number, number, number, number, number, number];
  if (a * e - b * d === 0) throw new RsclipError('BAD_INPUT', `world file ${label} has a zero pixel size (degenerate transform)`);
  // C, F locate the centre of the top-left pixel; the geotransform starts at its outer corner.
  return [c - 0.5 * a - 0.5 * b, a, b, f - 0.5 * d - 0.5 * e, d, e];
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The first world file beside `imagePath`, or undefined. Most images have none: the candidates
 * are looked up with a stat that returns nothing for a missing file (microseconds each), not by
 * failed asynchronous opens, whose errors cost about 0.25 ms per image in all; where a folder
 * listing already said (`listed`), not at all.
 */
export async function findWorldFile(imagePath: string, listed?: string | null): Promise<{ file: string; text: string } | undefined> {
  if (listed === null) return undefined;
  if (listed !== undefined) {
    const text = await readIfExists(listed).catch(() => undefined);
    if (text !== undefined) return { file: listed, text };
  }
  // not listed, or gone (or not a file) since: the disk decides, as without a listing
  for (const file of worldFileCandidates(imagePath)) {
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    const text = await readIfExists(file);
    if (text !== undefined) return { file, text };
  }
  return undefined;
}

export interface WorldFileOptions {
  /** The CRS of a world file with no `.prj` beside its image (a `.prj` wins); default: none. */
  crs?: Crs;
  /** The world file a listing of the image's folder found (null: none there); looked up on the disk when absent. */
  worldFile?: string | null;
}

/** The CRS of the `.prj` file beside `imagePath`, or undefined. */
async function prjCrs(imagePath: string): Promise<Crs | undefined> {
  const base = imagePath.slice(0, imagePath.length - path.extname(imagePath).length);
  for (const prj of [`${base}.prj`, `${base}.PRJ`, `${imagePath}.prj`]) {
    const wkt = await readIfExists(prj);
    if (wkt !== undefined) return crsFromWkt(wkt);
  }
  return undefined;
}

/**
 * The georeference of an image of `width` x `height` pixels from its world file; null when
 * there is no world file. Without a `.prj` and without `crs`, the CRS is null.
 */
export async function readWorldFileGeoreference(imagePath: string, width: number, height: number, options: WorldFileOptions = {}): Promise<Georeference | null> {
  const world = await findWorldFile(imagePath, options.worldFile);
  if (!world) return null;
  const geoTransform = parseWorldFile(world.text, world.file);
  const crs = (await prjCrs(imagePath)) ?? options.crs ?? null;
  const georeference: Georeference = { crs, geoTransform, width, height, source: 'world-file' };
  checkOnTheEarth(georeference, `world file ${world.file}`, 'its coordinates are likely projected: give the image a .prj with their CRS, or --crs EPSG:<code> of that projection (e.g. EPSG:32633)');
  return georeference;
}
