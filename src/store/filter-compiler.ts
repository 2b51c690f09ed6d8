/**
 * CatalogFilter and ItemSelection -> one SQL condition over `items` (alias it) joined with their
 * `files` (alias f), written once for both SQL back ends. A back end supplies only what its SQL
 * does differently (a SqlDialect): lists of values, a folder's paths, globs, places and id lists.
 * Conditions are written with `?` placeholders (PostgreSQL numbers them afterwards); column names
 * are fixed here and user values are only ever bound, never spliced into SQL.
 */
import { invalidParameter } from '../errors.js';
import type { Place } from '../geo/place.js';
import { catalogRelative, pathGlobOf, type CatalogFilter, type FieldCondition, type FILTER_KEYS, type PathGlob } from './filter.js';
import type { ItemSelection } from './types.js';

export interface SqlCondition {
  where: string;
  params: unknown[];
}

export interface SqlDialect {
  /** `column` is one of `values` (at least one). */
  inList(column: string, values: readonly string[]): SqlCondition;
  /** The file's path lies in `range` (a folder's: folderPaths), in the byte order of the paths' UTF-8. */
  pathRange(range: PathRange): SqlCondition;
  /** The file's path or name (the glob's target) matches the glob. */
  pathGlob(glob: PathGlob): SqlCondition;
  /** The item's footprint matches the place exactly. */
  place(place: Place): SqlCondition;
  /** The item's id is (or, with `negate`, is not) one of `ids`. */
  ids(ids: readonly number[], negate: boolean): SqlCondition;
}

/** Paths from `from` (included) to `to` (excluded). */
export interface PathRange {
  from: string;
  to: string;
}

/**
 * The paths under a folder, as a range an index on the paths can answer (a prefix test reads
 * every path): those that start with `folder/` are the ones from `folder/` up to `folder0`, '0'
 * being the character after '/'.
 */
function folderPaths(folder: string): PathRange {
  return { from: `${folder}/`, to: `${folder}0` };
}

/** Glob syntax: the first of these ends a glob's literal start. */
const GLOB_SYNTAX = /[*?[\]{}()!+@\\]/;

/**
 * The paths a path glob can match, from the folder its literal start names (`2020/coast/*.tif`:
 * 2020/coast): that folder's paths and the folder's own name (picomatch's `a/**` matches `a`).
 * Undefined when its first segment holds glob syntax.
 */
function globPaths(glob: string): PathRange | undefined {
  const syntax = glob.search(GLOB_SYNTAX);
  const literal = syntax === -1 ? glob : glob.slice(0, syntax);
  const slash = literal.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const folder = literal.slice(0, slash);
  return { from: folder, to: folderPaths(folder).to };
}

/** Every one of `conditions`. */
function allOf(conditions: readonly SqlCondition[]): SqlCondition {
  return { where: conditions.map((c) => c.where).join(' AND '), params: conditions.flatMap((c) => c.params) };
}

function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidParameter(name, 'a finite number', value);
  return value;
}

type KeyCompiler<K extends keyof CatalogFilter> = (value: NonNullable<CatalogFilter[K]>, name: K, dialect: SqlDialect) => SqlCondition | undefined;

function range(column: string, op: '>=' | '<='): KeyCompiler<'minBytes' | 'maxBytes' | 'minWidth' | 'minHeight'> {
  return (value, name) => ({ where: `${column} ${op} ?`, params: [finiteNumber(name, value)] });
}

const placeCondition = (place: Place, _name: string, dialect: SqlDialect) => dialect.place(place);

/** A format as the catalog writes it (sharp's name, lower case): `JPG`, `jpg` and `JPEG` are jpeg. */
function formatName(format: string): string {
  const name = format.toLowerCase();
  return name === 'jpg' ? 'jpeg' : name;
}

/** The filter keys whose value is a place. */
export const PLACE_KEYS = ['bbox', 'near', 'within'] as const;

/** One compiler per filter key: a key added to FILTER_KEYS does not compile until it has one here. */
const COMPILERS: { [K in keyof typeof FILTER_KEYS]: KeyCompiler<K> } & { fields: KeyCompiler<'fields'> } = {
  pathGlob(text, name, dialect) {
    const glob = pathGlobOf(text);
    if (glob.glob === '') throw invalidParameter(name, 'a glob with a pattern besides its slashes', text);
    const match = dialect.pathGlob(glob);
    // the range reads the candidates off an index of the paths; the glob then tests each
    const paths = glob.target === 'path' ? globPaths(glob.glob) : undefined;
    return paths ? allOf([dialect.pathRange(paths), match]) : match;
  },
  folder(value, _name, dialect) {
    const folder = catalogRelative(value.replace(/\\/g, '/'));
    // `.` is the top folder: every file
    if (folder === '' || folder === '.') return undefined;
    return dialect.pathRange(folderPaths(folder));
  },
  formats(formats, _name, dialect) {
    if (formats.length === 0) return undefined;
    return dialect.inList('f.format', formats.map(formatName));
  },
  minBytes: range('f.bytes', '>='),
  maxBytes: range('f.bytes', '<='),
  minWidth: range('f.width', '>='),
  minHeight: range('f.height', '>='),
  modifiedAfter: (date) => ({ where: 'f.mtime_ms >= ?', params: [date.getTime()] }),
  modifiedBefore: (date) => ({ where: 'f.mtime_ms <= ?', params: [date.getTime()] }),
  bbox: placeCondition,
  near: placeCondition,
  within: placeCondition,
  // a period overlaps [since, until]; files without an acquisition time never do
  since: (date) => ({ where: 'f.time_end >= ?', params: [date.getTime()] }),
  until: (date) => ({ where: 'f.time_start <= ?', params: [date.getTime()] }),
  fields(fields, _name, dialect) {
    const parts = Object.entries(fields).map(([name, condition]) => {
      const byName = fieldCondition(name, condition, 'uf', dialect);
      const ofFile = fieldCondition(name, condition, 'ff', dialect);
      return {
        where: `(f.file_name IN (SELECT uf.file_name FROM fields uf WHERE uf.name = ? AND ${byName.where}) OR f.id IN (SELECT ff.file_id FROM file_fields ff WHERE ff.name = ? AND ${ofFile.where}))`,
        params: [name, ...byName.params, name, ...ofFile.params],
      };
    });
    return parts.length === 0 ? undefined : { where: parts.map((p) => p.where).join(' AND '), params: parts.flatMap((p) => p.params) };
  },
};

/** A field value condition on the fields table aliased `t` (user fields or a file's own). */
function fieldCondition(name: string, condition: FieldCondition, t: 'uf' | 'ff', dialect: SqlDialect): SqlCondition {
  if (Array.isArray(condition)) {
    if (condition.length === 0) return { where: 'false', params: [] };
    return dialect.inList(`${t}.value_text`, condition.map(String));
  }
  if (typeof condition === 'object') {
    const parts: string[] = [`${t}.value_num IS NOT NULL`];
    const params: unknown[] = [];
    if (condition.min !== undefined) {
      parts.push(`${t}.value_num >= ?`);
      params.push(finiteNumber(`fields.${name}.min`, condition.min));
    }
    if (condition.max !== undefined) {
      parts.push(`${t}.value_num <= ?`);
      params.push(finiteNumber(`fields.${name}.max`, condition.max));
    }
    return { where: parts.join(' AND '), params };
  }
  return { where: `${t}.value_text = ?`, params: [String(condition)] };
}

export function compileFilter(filter: CatalogFilter, dialect: SqlDialect): SqlCondition {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    const compile = COMPILERS[key as keyof typeof COMPILERS] as KeyCompiler<keyof CatalogFilter> | undefined;
    if (!compile) throw invalidParameter('filter', `one of ${Object.keys(COMPILERS).join(', ')}`, key);
    const condition = compile(value as never, key as keyof CatalogFilter, dialect);
    if (!condition) continue;
    clauses.push(condition.where);
    params.push(...condition.params);
  }
  return { where: clauses.length === 0 ? 'true' : clauses.join(' AND '), params };
}

/** What a selection selects, as a string: with an index's version of its rows, the key of what is derived from it (its count, its allowed ids). */
export function selectionKey(selection: ItemSelection): string {
  return JSON.stringify([selection.filter ?? null, selection.onlyIds ?? null, selection.excludeIds ?? null]);
}

/** The searchable items of a selection: the live items of `ok` files (which have a vector), filtered, with ids kept or left out. */
export function compileSelection(selection: ItemSelection, dialect: SqlDialect): SqlCondition {
  const conditions: SqlCondition[] = [{ where: "f.status = 'ok' AND it.key IS NOT NULL", params: [] }];
  if (selection.filter) conditions.push(compileFilter(selection.filter, dialect));
  if (selection.onlyIds) conditions.push(dialect.ids(selection.onlyIds, false));
  if (selection.excludeIds && selection.excludeIds.length > 0) conditions.push(dialect.ids(selection.excludeIds, true));
  return allOf(conditions);
}
