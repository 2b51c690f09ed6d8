/**
 * openIndex: the one way into an index, whatever holds it. A `postgres://` or `postgresql://`
 * URL is an index in PostgreSQL (pgvector); any other location is a directory holding the
 * embedded back end.
 */
import { checkOpenIndexArgs } from './argument-checks.js';
import { openEmbeddedIndex, readEmbeddedMeta } from './embedded/embedded-store.js';
import { isPostgresLocation } from './postgres/location.js';
import { readPostgresMeta } from './postgres/open.js';
import { openPostgresIndex } from './postgres/postgres-store.js';
import type { IndexMeta, IndexStore, OpenIndexOptions } from './types.js';

export async function openIndex(location: string, options: OpenIndexOptions = {}): Promise<IndexStore> {
  checkOpenIndexArgs(location, options);
  return isPostgresLocation(location) ? openPostgresIndex(location, options) : openEmbeddedIndex(location, options);
}

/**
 * What an index records (its model, variant, engine...) without opening it for searching, or
 * undefined when there is no index at `location`: commands that update an index take its model
 * from here before they load one.
 */
export async function readIndexMeta(location: string): Promise<IndexMeta | undefined> {
  checkOpenIndexArgs(location, undefined);
  if (!isPostgresLocation(location)) return readEmbeddedMeta(location);
  const meta = await readPostgresMeta(location);
  if (!meta) return undefined;
  const { precision: _precision, ...common } = meta;
  return common;
}
