/**
 * The filter options `rsclip search` and `rsclip export` share: repeatable `--filter key=value`
 * and the place and time filters of their own (`--bbox`, `--near` + `--radius`, `--within FILE`,
 * `--since`, `--until`), which mean the same `key=value` filters (store/filter.ts).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { RsclipError } from '../errors.js';
import { filterSyntax, parseFilterSpecs, placeOptionSpecs, type CatalogFilter, type FilterSpec, type PlaceOptions } from '../store/filter.js';
import { collect, optionParser } from './options.js';

export interface FilterOptions extends PlaceOptions {
  filter?: string[];
}

/**
 * A parser that checks one place or time option as the filter key it stands for (parseFilterSpecs,
 * with the API's rules and messages) and keeps its text: a bad value is a usage error before
 * anything is loaded; how the options combine (--radius needs --near, --until after --since) is
 * checked by filterFromOptions.
 */
function checkedAs(spec: (value: string) => string, option: string): (value: string) => string {
  return optionParser((value: string) => {
    parseFilterSpecs([{ text: spec(value), source: `${option} ${value}` }]);
    return value;
  });
}

/** `--filter key=value`, checked on its own as the filter it is, and collected. */
const filterOption = optionParser((value: string, previous: string[] | undefined): string[] => {
  parseFilterSpecs([value]);
  return collect(value, previous);
});

export function addFilterOptions(command: Command): Command {
  return command
    .option('--filter <key=value>', `repeatable: ${filterSyntax()}`, filterOption)
    .option('--bbox <W,S,E,N>', 'only items whose footprint meets this lon/lat box (W > E crosses the antimeridian)', checkedAs((v) => `bbox=${v}`, '--bbox'))
    .option('--near <LON,LAT>', 'only items within --radius of this point (default radius 0: the footprint contains it)', checkedAs((v) => `near=${v}`, '--near'))
    .option('--radius <distance>', 'radius of --near, e.g. 5km or 500m', checkedAs((v) => `near=0,0,${v}`, '--radius'))
    .option('--within <file.geojson>', 'only items whose footprint meets this GeoJSON Polygon/MultiPolygon')
    .option('--since <date>', 'only items acquired at or after DATE (STAC datetime)', checkedAs((v) => `since=${v}`, '--since'))
    .option('--until <date>', 'only items acquired at or before DATE (STAC datetime; a date alone takes in the whole day, UTC)', checkedAs((v) => `until=${v}`, '--until'))
    .hook('preAction', (self) => {
      // how the options combine (--radius without --near, --until before --since), as a usage error too;
      // --within's file is read (and checked) by filterFromOptions
      const { within: _within, ...place } = self.opts<FilterOptions>();
      try {
        const specs = [...(place.filter ?? []), ...placeOptionSpecs(place)];
        if (specs.length > 0) parseFilterSpecs(specs);
      } catch (error) {
        if (!(error instanceof RsclipError)) throw error;
        self.error(`error: ${error.toOneLine()}`, { exitCode: 2, code: 'commander.invalidArgument' });
      }
    });
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
