/**
 * The small JSON files of the cache directory that remember work by key (file hashes, int8
 * weight checks): `{ "version": 1, "<field>": { key: value } }`, the most recently written
 * `maxEntries` kept. Absent, unreadable or of another version, a file reads as empty; it is
 * written whole through a temp file and a rename, so concurrent writers never leave a torn file,
 * and a write that fails only costs the work again next time.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { debuglog } from 'node:util';

const debug = debuglog('rsclip');

export async function readCacheEntries<T>(file: string, field: string): Promise<Record<string, T>> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { version?: number } & Record<string, unknown>;
    const entries = parsed[field];
    return parsed.version === 1 && entries !== null && typeof entries === 'object' ? (entries as Record<string, T>) : {};
  } catch {
    return {};
  }
}

/** Merges `fresh` into the file, as the most recent entries. */
export async function mergeCacheEntries<T>(file: string, field: string, fresh: Record<string, T>, maxEntries: number): Promise<void> {
  const merged = { ...(await readCacheEntries<T>(file, field)) };
  for (const [key, value] of Object.entries(fresh)) {
    delete merged[key];
    merged[key] = value;
  }
  const keys = Object.keys(merged);
  for (const key of keys.slice(0, Math.max(0, keys.length - maxEntries))) delete merged[key];
  const temp = `${file}.tmp-${process.pid}`;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(temp, JSON.stringify({ version: 1, [field]: merged }));
    await rename(temp, file);
  } catch (error) {
    debug('cannot write %s: %s', file, (error as Error).message);
    await rm(temp, { force: true }).catch(() => undefined);
  }
}
