/**
 * openIndex: the one way into an index, whatever holds it. A `postgres://` or `postgresql://`
 * URL is an index in PostgreSQL (pgvector); any other location is a directory holding the
 * embedded back end.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { checkOpenIndexArgs } from './argument-checks.js';
import { resolveEngine } from './engines.js';
import { openEmbeddedIndex, readEmbeddedMeta } from './embedded/embedded-store.js';
import { isPostgresLocation } from './postgres/location.js';
import { readPostgresMeta } from './postgres/open.js';
import { openPostgresIndex } from './postgres/postgres-store.js';
import type { IndexMeta, IndexStore, OpenIndexOptions } from './types.js';

export async function openIndex(location: string, options: OpenIndexOptions = {}): Promise<IndexStore> {
  checkOpenIndexArgs(location, options);
  // a caller's mistake is refused whether or not the index exists yet (it is used only to create one)
  if (options.engine !== undefined) resolveEngine(options.engine);
  if (isPostgresLocation(location)) return openPostgresIndex(location, options);
  checkNotAFile(location);
  return openEmbeddedIndex(location, options);
}

/** Refuses a location that is a file, or lies under one, as no index directory (not an ENOTDIR from deep inside, nor an EEXIST creating it). */
function checkNotAFile(location: string): void {
  const resolved = path.resolve(location);
  let problem: string | undefined;
  try {
    const stat = statSync(resolved, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory()) problem = 'it is a file';
  } catch (error) {
    // other errors (permissions) are the embedded back end's to describe
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') problem = 'a folder on its path is a file';
  }
  if (problem) {
    throw new RsclipError('INDEX_NOT_FOUND', `${resolved} is not an index directory: ${problem}`, { hint: "give the index's directory, or a new folder to create one in" });
  }
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
