/**
 * openIndex: the one way into an index, whatever holds it. Today a location is a directory
 * holding the embedded back end; a server back end would be chosen here by its URL.
 */
import { openEmbeddedIndex, readEmbeddedMeta } from './embedded/embedded-store.js';
import type { IndexMeta, IndexStore, OpenIndexOptions } from './types.js';

export async function openIndex(location: string, options: OpenIndexOptions = {}): Promise<IndexStore> {
  return openEmbeddedIndex(location, options);
}

/**
 * What an index records (its model, variant, engine...) without opening it for searching, or
 * undefined when there is no index at `location`: commands that update an index take its model
 * from here before they load one.
 */
export async function readIndexMeta(location: string): Promise<IndexMeta | undefined> {
  return readEmbeddedMeta(location);
}
