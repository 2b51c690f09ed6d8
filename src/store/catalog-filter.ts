/**
 * CatalogFilter -> one SQL condition over `images` (alias i) with bound parameters.
 * Column names are fixed here; user values are only ever bound, never spliced into SQL.
 */
import picomatch from 'picomatch';
import { invalidParameter } from '../errors.js';
import type { CatalogFilter, FieldValue } from './types.js';

export interface SqlCondition {
  where: string;
  params: unknown[];
}

/** Name of the SQL function the store registers for `pathGlob`: glob_match(pattern, path) -> 0/1. */
export const GLOB_FUNCTION = 'rsclip_glob_match';

const globCache = new Map<string, (path: string) => boolean>();

export function globMatches(pattern: string, relativePath: string): boolean {
  let matcher = globCache.get(pattern);
  if (!matcher) {
    matcher = picomatch(pattern, { dot: true, basename: !pattern.includes('/') });
    globCache.set(pattern, matcher);
  }
  return matcher(relativePath);
}

function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidParameter(name, 'a finite number', value);
  return value;
}

export function filterToSql(filter: CatalogFilter): SqlCondition {
  const clauses: string[] = ["i.status = 'ok'"];
  const params: unknown[] = [];
  if (filter.pathGlob !== undefined) {
    clauses.push(`${GLOB_FUNCTION}(?, i.path) = 1`);
    params.push(filter.pathGlob);
  }
  if (filter.folder !== undefined) {
    const folder = filter.folder.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    if (folder !== '') {
      clauses.push('substr(i.path, 1, ?) = ?');
      params.push(folder.length + 1, `${folder}/`);
    }
  }
  if (filter.formats !== undefined && filter.formats.length > 0) {
    clauses.push(`i.format IN (${filter.formats.map(() => '?').join(', ')})`);
    params.push(...filter.formats.map((f) => (f === 'jpg' ? 'jpeg' : f.toLowerCase())));
  }
  const ranges: [keyof CatalogFilter, string, string][] = [
    ['minBytes', 'i.bytes', '>='],
    ['maxBytes', 'i.bytes', '<='],
    ['minWidth', 'i.width', '>='],
    ['minHeight', 'i.height', '>='],
  ];
  for (const [key, column, op] of ranges) {
    if (filter[key] !== undefined) {
      clauses.push(`${column} ${op} ?`);
      params.push(finiteNumber(key, filter[key]));
    }
  }
  if (filter.modifiedAfter !== undefined) {
    clauses.push('i.mtime_ms >= ?');
    params.push(filter.modifiedAfter.getTime());
  }
  if (filter.modifiedBefore !== undefined) {
    clauses.push('i.mtime_ms <= ?');
    params.push(filter.modifiedBefore.getTime());
  }
  for (const [name, condition] of Object.entries(filter.fields ?? {})) {
    const sub = fieldCondition(name, condition);
    clauses.push(`i.file_name IN (SELECT f.file_name FROM fields f WHERE f.name = ? AND ${sub.where})`);
    params.push(name, ...sub.params);
  }
  return { where: clauses.join(' AND '), params };
}

function fieldCondition(name: string, condition: FieldValue | FieldValue[] | { min?: number; max?: number }): SqlCondition {
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
