/**
 * CatalogFilter and ItemSelection -> one SQL condition over `images` (alias i) with bound
 * parameters, for SQLite. Column names are fixed here; user values are only ever bound,
 * never spliced into SQL. Globs become regular expressions (see globToRegex) tested by the
 * `regexp` function behind SQLite's REGEXP operator, which the catalog registers.
 */
import { LRUCache } from 'lru-cache';
import { invalidParameter } from '../../errors.js';
import { globToRegex, type CatalogFilter, type FieldCondition, type FILTER_KEYS } from '../filter.js';
import type { ItemSelection } from '../types.js';

export interface SqlCondition {
  where: string;
  params: unknown[];
}

/**
 * Compiled regular expressions by source, bounded by entries and by bytes so that many distinct
 * globs cannot grow it without end (a compiled regex is counted as 16 bytes per source character,
 * about what V8 keeps for one of these).
 */
export const REGEX_CACHE_LIMITS = { entries: 64, bytes: 4 * 1024 * 1024 };
const regexCache = new LRUCache<string, RegExp>({ max: REGEX_CACHE_LIMITS.entries, maxSize: REGEX_CACHE_LIMITS.bytes, sizeCalculation: (_regex, source) => Math.max(1, 18 * source.length) });

/** Entries and bytes of the regex cache. */
export function regexCacheUse(): { entries: number; bytes: number } {
  return { entries: regexCache.size, bytes: regexCache.calculatedSize };
}

/** SQLite's `regexp(pattern, value)` (what `value REGEXP pattern` calls): 1 on a match. */
export function sqlRegexp(pattern: unknown, value: unknown): number {
  const source = String(pattern);
  let regex = regexCache.get(source);
  if (!regex) {
    regex = new RegExp(source);
    regexCache.set(source, regex);
  }
  return typeof value === 'string' && regex.test(value) ? 1 : 0;
}

function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidParameter(name, 'a finite number', value);
  return value;
}

type KeyCompiler<K extends keyof CatalogFilter> = (value: NonNullable<CatalogFilter[K]>, name: K) => SqlCondition | undefined;

function range(column: string, op: '>=' | '<='): KeyCompiler<'minBytes' | 'maxBytes' | 'minWidth' | 'minHeight'> {
  return (value, name) => ({ where: `${column} ${op} ?`, params: [finiteNumber(name, value)] });
}

/** One compiler per filter key: a key added to FILTER_KEYS does not compile until it has one here. */
const COMPILERS: { [K in keyof typeof FILTER_KEYS]: KeyCompiler<K> } & { fields: KeyCompiler<'fields'> } = {
  pathGlob(glob) {
    const match = globToRegex(glob);
    const column = match.target === 'path' ? 'i.path' : 'i.file_name';
    return { where: `(${column} = ? OR ${column} REGEXP ?)`, params: [match.literal, match.regex] };
  },
  folder(value) {
    const folder = value.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    if (folder === '') return undefined;
    return { where: 'substr(i.path, 1, ?) = ?', params: [folder.length + 1, `${folder}/`] };
  },
  formats(formats) {
    if (formats.length === 0) return undefined;
    return { where: `i.format IN (${formats.map(() => '?').join(', ')})`, params: formats.map((f) => (f === 'jpg' ? 'jpeg' : f.toLowerCase())) };
  },
  minBytes: range('i.bytes', '>='),
  maxBytes: range('i.bytes', '<='),
  minWidth: range('i.width', '>='),
  minHeight: range('i.height', '>='),
  modifiedAfter: (date) => ({ where: 'i.mtime_ms >= ?', params: [date.getTime()] }),
  modifiedBefore: (date) => ({ where: 'i.mtime_ms <= ?', params: [date.getTime()] }),
  fields(fields) {
    const parts = Object.entries(fields).map(([name, condition]) => {
      const sub = fieldCondition(name, condition);
      return { where: `i.file_name IN (SELECT f.file_name FROM fields f WHERE f.name = ? AND ${sub.where})`, params: [name, ...sub.params] };
    });
    return parts.length === 0 ? undefined : { where: parts.map((p) => p.where).join(' AND '), params: parts.flatMap((p) => p.params) };
  },
};

function fieldCondition(name: string, condition: FieldCondition): SqlCondition {
  if (Array.isArray(condition)) {
    if (condition.length === 0) return { where: '0', params: [] };
    return { where: `f.value_text IN (${condition.map(() => '?').join(', ')})`, params: condition.map(String) };
  }
  if (typeof condition === 'object') {
    const parts: string[] = ['f.value_num IS NOT NULL'];
    const params: unknown[] = [];
    if (condition.min !== undefined) {
      parts.push('f.value_num >= ?');
      params.push(finiteNumber(`fields.${name}.min`, condition.min));
    }
    if (condition.max !== undefined) {
      parts.push('f.value_num <= ?');
      params.push(finiteNumber(`fields.${name}.max`, condition.max));
    }
    return { where: parts.join(' AND '), params };
  }
  return { where: 'f.value_text = ?', params: [String(condition)] };
}

export function filterToSql(filter: CatalogFilter): SqlCondition {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    const compile = COMPILERS[key as keyof typeof COMPILERS] as KeyCompiler<keyof CatalogFilter> | undefined;
    if (!compile) throw invalidParameter('filter', `one of ${Object.keys(COMPILERS).join(', ')}`, key);
    const condition = compile(value as never, key as keyof CatalogFilter);
    if (!condition) continue;
    clauses.push(condition.where);
    params.push(...condition.params);
  }
  return { where: clauses.length === 0 ? '1' : clauses.join(' AND '), params };
}

/** The searchable items of a selection: those of `ok` files (which have a vector), filtered, with ids kept or left out. */
export function selectionToSql(selection: ItemSelection): SqlCondition {
  const clauses = ["i.status = 'ok'"];
  const params: unknown[] = [];
  if (selection.filter) {
    const filter = filterToSql(selection.filter);
    clauses.push(filter.where);
    params.push(...filter.params);
  }
  // one JSON parameter holds any number of ids (SQLite limits the number of parameters)
  if (selection.onlyIds) {
    clauses.push('i.id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(selection.onlyIds));
  }
  if (selection.excludeIds && selection.excludeIds.length > 0) {
    clauses.push('i.id NOT IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(selection.excludeIds));
  }
  return { where: clauses.join(' AND '), params };
}
