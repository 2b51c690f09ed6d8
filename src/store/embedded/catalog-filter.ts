/**
 * CatalogFilter and ItemSelection -> one SQL condition over `items` (alias it) joined with
 * their `files` (alias f), with bound parameters, for SQLite. Column names are fixed here; user
 * values are only ever bound, never spliced into SQL. Globs are tested by the `glob_match`
 * function (GlobMatcher: segment by segment, never a backtracking regular expression); places become
 * R*Tree candidates (boxes that intersect the place's query boxes) checked by `place_match`,
 * the exact test; both functions are registered by the catalog.
 */
import { LRUCache } from 'lru-cache';
import { invalidParameter } from '../../errors.js';
import { compilePlace, geometryBoxes, type CompiledPlace, type LonLatBox, type Place, type WindowPlace } from '../../geo/index.js';
import { globTarget, type CatalogFilter, type FieldCondition, type FILTER_KEYS } from '../filter.js';
import { GlobMatcher } from '../glob-match.js';
import type { ItemSelection } from '../types.js';

export interface SqlCondition {
  where: string;
  params: unknown[];
}

/**
 * Compiled globs, bounded by entries and by bytes so that many distinct globs cannot grow it
 * without end (GlobMatcher.sizeBytes: about what V8 keeps for its regular expressions).
 */
export const GLOB_CACHE_LIMITS = { entries: 64, bytes: 4 * 1024 * 1024 };
const globCache = new LRUCache<string, GlobMatcher>({ max: GLOB_CACHE_LIMITS.entries, maxSize: GLOB_CACHE_LIMITS.bytes, sizeCalculation: (matcher) => Math.max(1, matcher.sizeBytes) });

/** Entries and bytes of the glob cache. */
export function globCacheUse(): { entries: number; bytes: number } {
  return { entries: globCache.size, bytes: globCache.calculatedSize };
}

/** SQLite's `glob_match(glob, value)`: 1 when the path or file name `value` matches. */
export function sqlGlobMatch(glob: unknown, value: unknown): number {
  const source = String(glob);
  let matcher = globCache.get(source);
  if (!matcher) {
    matcher = new GlobMatcher(source);
    globCache.set(source, matcher);
  }
  return typeof value === 'string' && matcher.test(value) ? 1 : 0;
}

/** Compiled places by their JSON, bounded like the regular expressions. */
const PLACE_CACHE_ENTRIES = 16;
const placeCache = new Map<string, CompiledPlace>();

function compiledPlace(json: string): CompiledPlace {
  let compiled = placeCache.get(json);
  if (compiled) {
    placeCache.delete(json);
  } else {
    compiled = compilePlace(JSON.parse(json) as Place);
    if (placeCache.size >= PLACE_CACHE_ENTRIES) placeCache.delete(placeCache.keys().next().value!);
  }
  placeCache.set(json, compiled);
  return compiled;
}

/** SQLite's `place_match(place JSON, item place JSON)`: 1 when the item's footprint matches the place exactly. */
export function placeMatchFunction(place: unknown, itemPlace: unknown): number {
  if (typeof itemPlace !== 'string') return 0;
  const { footprint } = JSON.parse(itemPlace) as WindowPlace;
  return compiledPlace(String(place)).matches(footprint) ? 1 : 0;
}

/** R*Tree rows per item (`item_boxes`): row id = item id * BOXES_PER_ITEM + part of its footprint. */
export const BOXES_PER_ITEM = 8;

/** The R*Tree boxes of a footprint: one per part (two across the antimeridian); parts past the last row are merged into it. */
export function footprintBoxes(place: WindowPlace): LonLatBox[] {
  const boxes = geometryBoxes(place.footprint);
  const kept = boxes.slice(0, BOXES_PER_ITEM - 1);
  const rest = boxes.slice(BOXES_PER_ITEM - 1);
  if (rest.length > 0) {
    kept.push({
      west: Math.min(...rest.map((b) => b.west)),
      south: Math.min(...rest.map((b) => b.south)),
      east: Math.max(...rest.map((b) => b.east)),
      north: Math.max(...rest.map((b) => b.north)),
    });
  }
  return kept;
}
const BOX_ITEM = `id / ${BOXES_PER_ITEM}`;

function boxesIntersect(boxes: readonly LonLatBox[]): SqlCondition {
  return {
    where: boxes.map(() => '(west <= ? AND east >= ? AND south <= ? AND north >= ?)').join(' OR '),
    params: boxes.flatMap((b) => [b.east, b.west, b.north, b.south]),
  };
}

/**
 * Items whose footprint matches a place: R*Tree candidates, then the exact test. A candidate
 * whose box lies inside a bbox place matches without it (R*Tree boxes are rounded outwards, so
 * such a footprint surely meets the box).
 */
function placeCondition(place: Place): SqlCondition {
  const { boxes } = compiledPlace(JSON.stringify(place));
  if (boxes.length === 0) return { where: '0', params: [] };
  const candidates = boxesIntersect(boxes);
  const exact = { where: 'place_match(?, (SELECT place FROM item_places WHERE item_id = it.id))', params: [JSON.stringify(place)] as unknown[] };
  if (place.kind === 'bbox') {
    const inside = {
      where: boxes.map(() => '(west >= ? AND east <= ? AND south >= ? AND north <= ?)').join(' OR '),
      params: boxes.flatMap((b) => [b.west, b.east, b.south, b.north]),
    };
    exact.where = `(it.id IN (SELECT ${BOX_ITEM} FROM item_boxes WHERE ${inside.where}) OR ${exact.where})`;
    exact.params = [...inside.params, ...exact.params];
  }
  return { where: `it.id IN (SELECT ${BOX_ITEM} FROM item_boxes WHERE ${candidates.where}) AND ${exact.where}`, params: [...candidates.params, ...exact.params] };
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
    const column = globTarget(glob) === 'path' ? 'f.path' : 'f.file_name';
    return { where: `(${column} = ? OR glob_match(?, ${column}))`, params: [glob, glob] };
  },
  folder(value) {
    const folder = value.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    if (folder === '') return undefined;
    return { where: 'substr(f.path, 1, ?) = ?', params: [folder.length + 1, `${folder}/`] };
  },
  formats(formats) {
    if (formats.length === 0) return undefined;
    return { where: `f.format IN (${formats.map(() => '?').join(', ')})`, params: formats.map((f) => (f === 'jpg' ? 'jpeg' : f.toLowerCase())) };
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
    if (condition.length === 0) return { where: '0', params: [] };
    return { where: `${t}.value_text IN (${condition.map(() => '?').join(', ')})`, params: condition.map(String) };
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

/** The searchable items of a selection: the live items of `ok` files (which have a vector), filtered, with ids kept or left out. */
export function selectionToSql(selection: ItemSelection): SqlCondition {
  const clauses = ["f.status = 'ok'", 'it.key IS NOT NULL'];
  const params: unknown[] = [];
  if (selection.filter) {
    const filter = filterToSql(selection.filter);
    clauses.push(filter.where);
    params.push(...filter.params);
  }
  // one JSON parameter holds any number of ids (SQLite limits the number of parameters)
  if (selection.onlyIds) {
    clauses.push('it.id IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(selection.onlyIds));
  }
  if (selection.excludeIds && selection.excludeIds.length > 0) {
    clauses.push('it.id NOT IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(selection.excludeIds));
  }
  return { where: clauses.join(' AND '), params };
}
