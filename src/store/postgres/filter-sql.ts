/**
 * CatalogFilter and ItemSelection -> one SQL condition over `items` (alias it) joined with
 * their `files` (alias f), for PostgreSQL, with the embedded compiler's meaning key for key.
 * Values are only ever bound; conditions are written with `?` and numbered by `numbered`.
 * Globs become the regular expressions of globToRegex (PostgreSQL's `~` reads picomatch's
 * output: groups, look-aheads, lazy quantifiers). Places become the ids of the items whose
 * footprint matches exactly, found by `resolvePlace` (GiST box candidates, then the same
 * exact test the embedded back end runs), bound as one array.
 */
import { invalidParameter } from '../../errors.js';
import type { Place } from '../../geo/index.js';
import { globToRegex, type CatalogFilter, type FieldCondition, type FILTER_KEYS } from '../filter.js';
import type { ItemSelection } from '../types.js';

export interface SqlCondition {
  where: string;
  params: unknown[];
}

/** The ids of the items whose footprint matches a place exactly. */
export type PlaceResolver = (place: Place) => Promise<number[]>;

/** Replaces the `?` of `text` by $n, numbering from `first`. */
export function numbered(text: string, first = 1): string {
  let n = first;
  return text.replace(/\?/g, () => `$${n++}`);
}

function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidParameter(name, 'a finite number', value);
  return value;
}

type KeyCompiler<K extends keyof CatalogFilter> = (value: NonNullable<CatalogFilter[K]>, name: K, resolvePlace: PlaceResolver) => Promise<SqlCondition | undefined> | SqlCondition | undefined;

function range(column: string, op: '>=' | '<='): KeyCompiler<'minBytes' | 'maxBytes' | 'minWidth' | 'minHeight'> {
  return (value, name) => ({ where: `${column} ${op} ?`, params: [finiteNumber(name, value)] });
}

async function placeCondition(place: Place, _name: string, resolvePlace: PlaceResolver): Promise<SqlCondition> {
  return { where: 'it.id = ANY(?::bigint[])', params: [await resolvePlace(place)] };
}

/** One compiler per filter key, as in the embedded back end: a key added to FILTER_KEYS does not compile until it has one here. */
const COMPILERS: { [K in keyof typeof FILTER_KEYS]: KeyCompiler<K> } & { fields: KeyCompiler<'fields'> } = {
  pathGlob(glob) {
    const match = globToRegex(glob);
    const column = match.target === 'path' ? 'f.path' : 'f.file_name';
    return { where: `(${column} = ? OR ${column} ~ ?)`, params: [match.literal, match.regex] };
  },
  folder(value) {
    const folder = value.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    if (folder === '') return undefined;
    return { where: 'left(f.path, ?::integer) = ?', params: [folder.length + 1, `${folder}/`] };
  },
  formats(formats) {
    if (formats.length === 0) return undefined;
    return { where: 'f.format = ANY(?::text[])', params: [formats.map((f) => (f === 'jpg' ? 'jpeg' : f.toLowerCase()))] };
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
  fields(fields) {
    const parts = Object.entries(fields).map(([name, condition]) => {
      const byName = fieldCondition(name, condition, 'uf');
      const ofFile = fieldCondition(name, condition, 'ff');
      return {
        where: `(f.file_name IN (SELECT uf.file_name FROM fields uf WHERE uf.name = ? AND ${byName.where}) OR f.id IN (SELECT ff.file_id FROM file_fields ff WHERE ff.name = ? AND ${ofFile.where}))`,
        params: [name, ...byName.params, name, ...ofFile.params],
      };
    });
    return parts.length === 0 ? undefined : { where: parts.map((p) => p.where).join(' AND '), params: parts.flatMap((p) => p.params) };
  },
};

/** A field value condition on the fields table aliased `t` (user fields or a file's own). */
function fieldCondition(name: string, condition: FieldCondition, t: 'uf' | 'ff'): SqlCondition {
  if (Array.isArray(condition)) {
    if (condition.length === 0) return { where: 'false', params: [] };
    return { where: `${t}.value_text = ANY(?::text[])`, params: [condition.map(String)] };
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

export async function filterToSql(filter: CatalogFilter, resolvePlace: PlaceResolver): Promise<SqlCondition> {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    const compile = COMPILERS[key as keyof typeof COMPILERS] as KeyCompiler<keyof CatalogFilter> | undefined;
    if (!compile) throw invalidParameter('filter', `one of ${Object.keys(COMPILERS).join(', ')}`, key);
    const condition = await compile(value as never, key as keyof CatalogFilter, resolvePlace);
    if (!condition) continue;
    clauses.push(condition.where);
    params.push(...condition.params);
  }
  return { where: clauses.length === 0 ? 'true' : clauses.join(' AND '), params };
}

/** Whether a selection narrows the searchable items (so that the files must be joined). */
export function restricts(selection: ItemSelection): boolean {
  return selection.filter !== undefined || selection.onlyIds !== undefined || (selection.excludeIds?.length ?? 0) > 0;
}

/**
 * The searchable items of a selection: items with a vector (the store keeps vectors for the
 * live items of ok files only; see schema.ts), filtered, with ids kept or left out. Over
 * `vectors v JOIN items it JOIN files f`.
 */
export async function selectionToSql(selection: ItemSelection, resolvePlace: PlaceResolver): Promise<SqlCondition> {
  const clauses = ["f.status = 'ok'", 'it.key IS NOT NULL'];
  const params: unknown[] = [];
  if (selection.filter) {
    const filter = await filterToSql(selection.filter, resolvePlace);
    clauses.push(filter.where);
    params.push(...filter.params);
  }
  if (selection.onlyIds) {
    clauses.push('it.id = ANY(?::bigint[])');
    params.push(selection.onlyIds);
  }
  if (selection.excludeIds && selection.excludeIds.length > 0) {
    clauses.push('it.id <> ALL(?::bigint[])');
    params.push(selection.excludeIds);
  }
  return { where: clauses.join(' AND '), params };
}
