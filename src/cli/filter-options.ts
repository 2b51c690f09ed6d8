/**
 * The filter options `rsclip search` and `rsclip export` share: repeatable `--filter key=value`
 * and the place and time filters of their own (`--bbox`, `--near` + `--radius`, `--within FILE`,
 * `--since`, `--until`), which mean the same `key=value` filters (store/filter.ts).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { RsclipError } from '../errors.js';
import { filterSyntax, parseFilterSpecs, placeOptionSpecs, type CatalogFilter, type FilterSpec, type PlaceOptions } from '../store/filter.js';
import { collect } from './options.js';

export interface FilterOptions extends PlaceOptions {
  filter?: string[];
}

export function addFilterOptions(command: Command): Command {
  return command
    .option('--filter <key=value>', `repeatable: ${filterSyntax()}`, collect)
    .option('--bbox <W,S,E,N>', 'only items whose footprint meets this lon/lat box (W > E crosses the antimeridian)')
    .option('--near <LON,LAT>', 'only items within --radius of this point (default radius 0: the footprint contains it)')
    .option('--radius <distance>', 'radius of --near, e.g. 5km or 500m')
    .option('--within <file.geojson>', 'only items whose footprint meets this GeoJSON Polygon/MultiPolygon')
    .option('--since <date>', 'only items acquired at or after DATE (STAC datetime)')
    .option('--until <date>', 'only items acquired at or before DATE (STAC datetime; a date alone takes in the whole day, UTC)');
}

/** The filter the options give; `--within` names a GeoJSON file, which messages name rather than quote. */
export async function filterFromOptions(opts: FilterOptions): Promise<CatalogFilter | undefined> {
  const { within: areaFile, ...place } = opts;
  const specs: FilterSpec[] = [...(opts.filter ?? []), ...placeOptionSpecs(place)];
  if (areaFile !== undefined) {
    let area: string;
    try {
      area = await readFile(areaFile, 'utf8');
    } catch (cause) {
      throw new RsclipError('BAD_QUERY', `cannot read the area file ${areaFile}: ${(cause as Error).message}`, { hint: 'give --within a GeoJSON file with a Polygon or MultiPolygon', cause });
    }
    specs.push({ text: `within=${area}`, source: `--within ${areaFile}` });
  }
  return specs.length > 0 ? parseFilterSpecs(specs) : undefined;
}
