/**
 * A model fingerprint: what an index binds to. Two model directories with the same
 * fingerprint compute the same vectors: it covers the bytes of the ONNX files of the
 * chosen variant and the preprocessing settings (resolved, so formatting does not matter).
 *
 * Hashing a full-size fp32 model takes 1-2 s, on every start of every command. So the sha256
 * of each file is remembered in the cache directory (`file-hashes.json`), keyed by its path
 * and trusted only while the file's size, mtime, ctime and inode are unchanged: any write,
 * copy, `touch` or replacement of the file makes it hashed again. (ctime cannot be set back
 * by a program, so a rewrite that restores the old mtime is caught too.)
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256OfFile } from '../file-sha256.js';
import { mergeCacheEntries, readCacheEntries } from './cache-file.js';
import { defaultCacheDir } from './hub/cache.js';
import type { ModelDirectory } from './model-dir.js';

export const FILE_HASHES = 'file-hashes.json';
/** Entries kept (the most recently hashed); a few models with three variants each fit many times. */
const MAX_ENTRIES = 200;
const CACHE_FIELD = 'files';

export interface FingerprintOptions {
  /** Where file hashes are remembered (default `defaultCacheDir()`); `null` hashes every file every time. */
  cacheDir?: string | null;
}

interface FileIdentity {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

interface CachedHash extends FileIdentity {
  sha256: string;
}

async function identity(file: string): Promise<FileIdentity> {
  const s = await stat(file);
  return { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino };
}

const sameFile = (a: FileIdentity, b: FileIdentity): boolean => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;

/** sha256 of each file, from the cache where the file is unchanged. */
export async function hashFiles(files: readonly string[], options: FingerprintOptions = {}): Promise<string[]> {
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  if (cacheDir === null) return Promise.all(files.map(sha256OfFile));
  const cacheFile = path.join(cacheDir, FILE_HASHES);
  const cached = await readCacheEntries<CachedHash>(cacheFile, CACHE_FIELD);
  const fresh: Record<string, CachedHash> = {};
  const hashes = await Promise.all(
    files.map(async (file) => {
      const key = path.resolve(file);
      const before = await identity(key);
      const entry = cached[key];
      if (entry && sameFile(entry, before) && /^[0-9a-f]{64}$/.test(entry.sha256)) return entry.sha256;
      const sha256 = await sha256OfFile(key);
      // a file that changed while it was read is not remembered
      if (sameFile(before, await identity(key))) fresh[key] = { ...before, sha256 };
      return sha256;
    }),
  );
  if (Object.keys(fresh).length > 0) await mergeCacheEntries(cacheFile, CACHE_FIELD, fresh, MAX_ENTRIES);
  return hashes;
}

export async function computeModelFingerprint(model: ModelDirectory, options: FingerprintOptions = {}): Promise<string> {
  const files = [model.onnx.vision, model.onnx.text];
  const hashes = await hashFiles(files, options);
  const hash = createHash('sha256');
  hash.update('rsclip-model-fingerprint-v1\n');
  files.forEach((file, i) => hash.update(`${path.relative(model.dir, file)} ${hashes[i]}\n`));
  hash.update(`preprocess ${JSON.stringify(model.preprocess)}\n`);
  return hash.digest('hex');
}
