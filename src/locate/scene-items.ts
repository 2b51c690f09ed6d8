/** The stored vectors of a scene's items, read through the store contract in chunks. */
import type { IndexStore } from '../store/types.js';

/** getVectors takes ids in chunks of this many (SQLite binds each id). */
const ID_CHUNK = 5000;

export async function vectorsOf(store: IndexStore, ids: readonly number[]): Promise<Map<number, Float32Array>> {
  const vectors = new Map<number, Float32Array>();
  for (let i = 0; i < ids.length; i += ID_CHUNK) for (const [id, v] of await store.getVectors(ids.slice(i, i + ID_CHUNK))) vectors.set(id, v);
  return vectors;
}
