/**
 * The searchable items of one indexed file, read through the store contract: the store selects
 * by catalog filter, so the file's own path (escaped as a glob) narrows the selection and the
 * file id picks the file among others of the same relative path under other roots.
 */
import path from 'node:path';
import { FILTER_LIMITS, type CatalogFilter, type FileRecord, type IndexStore, type ItemRecord } from '../store/index.js';

/** getItems and getVectors take ids in chunks of this many (SQLite binds each id). */
export const ID_CHUNK = 5000;

const GLOB_SPECIAL = /[\\*?[\]{}()!+@^$|]/g;

/** The narrowest filter that selects the file at `relativePath`: the path as a glob, else its folder when the glob would pass the filter's limits. */
function fileFilter(relativePath: string): CatalogFilter {
  const glob = relativePath.replace(GLOB_SPECIAL, '\\$&');
  const starsPerSegment = Math.max(...relativePath.split('/').map((s) => (s.match(/\*/g) ?? []).length));
  if (glob.length <= FILTER_LIMITS.globChars && starsPerSegment <= FILTER_LIMITS.starsPerGlobSegment) return { pathGlob: glob };
  const folder = path.posix.dirname(relativePath);
  return folder === '.' ? {} : { folder };
}

export async function itemsOfFile(store: IndexStore, file: FileRecord): Promise<ItemRecord[]> {
  const ids = await store.listItemIds({ filter: fileFilter(file.path) });
  const items: ItemRecord[] = [];
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    for (const item of await store.getItems(ids.slice(i, i + ID_CHUNK))) if (item.file.id === file.id) items.push(item);
  }
  return items;
}

export async function vectorsOf(store: IndexStore, ids: readonly number[]): Promise<Map<number, Float32Array>> {
  const vectors = new Map<number, Float32Array>();
  for (let i = 0; i < ids.length; i += ID_CHUNK) for (const [id, v] of await store.getVectors(ids.slice(i, i + ID_CHUNK))) vectors.set(id, v);
  return vectors;
}
