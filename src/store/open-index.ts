/**
 * openIndex: the one way into an index, whatever holds it. Today a location is a directory
 * holding the embedded back end; a server back end would be chosen here by its URL.
 */
import { openEmbeddedIndex } from './embedded/embedded-store.js';
import type { IndexStore, OpenIndexOptions } from './types.js';

export async function openIndex(location: string, options: OpenIndexOptions = {}): Promise<IndexStore> {
  return openEmbeddedIndex(location, options);
}
