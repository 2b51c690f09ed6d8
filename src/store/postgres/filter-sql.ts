/**
 * PostgreSQL's dialect of the filter compiler (../filter-compiler.ts), with the embedded
 * back end's meaning key for key. Conditions are written with `?` and numbered by `numbered`
 * (or their values written in by `withLiterals`, for a script that binds none).
 * Globs become the regular expressions of globToRegex (PostgreSQL's `~` reads picomatch's
 * output: groups, look-aheads, lazy quantifiers). Places become the ids of the items whose
 * footprint matches exactly, found beforehand by `resolvePlace` (GiST box candidates, then the
 * same exact test the embedded back end runs), bound as one array.
 */
import type pg from 'pg';
import type { Place } from '../../geo/place.js';
import { lazyPackage } from '../../lazy-package.js';
import { globToRegex, type CatalogFilter } from '../filter.js';
import { compileSelection, PLACE_KEYS, type SqlCondition, type SqlDialect } from '../filter-compiler.js';
import type { ItemSelection } from '../types.js';

/** The ids of the items whose footprint matches a place exactly. */
export type PlaceResolver = (place: Place) => Promise<number[]>;

/** Replaces the `?` of `text` by $n, numbering from `first`. */
export function numbered(text: string, first = 1): string {
  let n = first;
  return text.replace(/\?/g, () => `$${n++}`);
}

// loaded by the first store that opens a PostgreSQL index, which needs it before any condition is written
const loadPg = lazyPackage<typeof pg>('pg');

/** One value of a condition as SQL text, or undefined for a kind the conditions never bind. */
function literal(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'string') return loadPg().escapeLiteral(value);
  if (!Array.isArray(value)) return undefined;
  const items = value.map(literal);
  // the condition casts the array (?::bigint[], ?::text[]), so an empty one has its type
  return items.every((item) => item !== undefined) ? `ARRAY[${items.join(',')}]` : undefined;
}

/**
 * `text` with each `?` replaced by its value written as a literal: a condition that can go to
 * the server in a script of the simple query protocol, which binds no values. Undefined when a
 * value has no literal here, or when the text would pass `maxLength` characters (an array of
 * values takes at least two each: one that cannot fit is not written at all).
 */
export function withLiterals(text: string, params: readonly unknown[], maxLength = Infinity): string | undefined {
  const shortest = params.reduce<number>((sum, value) => sum + (Array.isArray(value) ? 2 * value.length : 1), text.length);
  if (shortest > maxLength) return undefined;
  const literals = params.map(literal);
  if (literals.some((l) => l === undefined) || literals.length !== (text.match(/\?/g)?.length ?? 0)) return undefined;
  let n = 0;
  const written = text.replace(/\?/g, () => literals[n++]!);
  return written.length <= maxLength ? written : undefined;
}

const idList = (ids: readonly number[]) => ({ where: 'it.id = ANY(?::bigint[])', params: [ids] });

/** PostgreSQL's differences, with the places of the filter already resolved to their items. */
function postgresDialect(places: ReadonlyMap<Place, number[]>): SqlDialect {
  return {
    inList: (column, values) => ({ where: `${column} = ANY(?::text[])`, params: [values] }),
    // the "C" collation orders by bytes, as the index files_path does (schema.ts)
    pathRange: ({ from, to }) => ({ where: 'f.path COLLATE "C" >= ? AND f.path COLLATE "C" < ?', params: [from, to] }),
    pathGlob({ glob, target }) {
      const match = globToRegex(glob);
      const column = target === 'path' ? 'f.path' : 'f.file_name';
      return { where: `(${column} = ? OR ${column} ~ ?)`, params: [match.literal, match.regex] };
    },
    place: (place) => idList(places.get(place)!),
    ids: (ids, negate) => (negate ? { where: 'it.id <> ALL(?::bigint[])', params: [ids] } : idList(ids)),
  };
}

/** The filter's places, each resolved to the ids of its items (the SQL is written after). */
async function resolvedPlaces(filter: CatalogFilter | undefined, resolvePlace: PlaceResolver): Promise<Map<Place, number[]>> {
  const places = new Map<Place, number[]>();
  for (const key of PLACE_KEYS) {
    const place = filter?.[key];
    if (place !== undefined) places.set(place, await resolvePlace(place));
  }
  return places;
}

/** Whether a selection narrows the searchable items (so that the files must be joined). */
export function restricts(selection: ItemSelection): boolean {
  return selection.filter !== undefined || selection.onlyIds !== undefined || (selection.excludeIds?.length ?? 0) > 0;
}

/** Whether a selection is every searchable item less some named ones (no filter, no id list): its size follows from the totals. */
export function allButExcluded(selection: ItemSelection): boolean {
  return selection.filter === undefined && selection.onlyIds === undefined;
}

/**
 * The searchable items of a selection: items with a vector (the store keeps vectors for the
 * live items of ok files only; see schema.ts), filtered, with ids kept or left out. Over
 * `vectors v JOIN items it JOIN files f`.
 */
export async function selectionToSql(selection: ItemSelection, resolvePlace: PlaceResolver): Promise<SqlCondition> {
  return compileSelection(selection, postgresDialect(await resolvedPlaces(selection.filter, resolvePlace)));
}
