/** Model fingerprints and the cache of file hashes that spares hashing the ONNX files at every start. */
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeModelFingerprint, FILE_HASHES, hashFiles } from '../../src/model/fingerprint.js';
import { openModelDirectory, type ModelDirectory } from '../../src/model/index.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let model: ModelDirectory;
let cacheDir: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-fingerprint-'));
  cpSync(await tinyModelDir(), path.join(work, 'model'), { recursive: true });
  model = openModelDirectory(path.join(work, 'model'), { variant: 'fp32' });
  cacheDir = path.join(work, 'cache');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

type CacheFile = { version: number; files: Record<string, { sha256: string }> };
const readCacheFile = (): CacheFile => JSON.parse(readFileSync(path.join(cacheDir, FILE_HASHES), 'utf8')) as CacheFile;

/** Puts a wrong hash in the cache for `file`: if the cache is trusted, the wrong hash comes back. */
function plantHash(file: string): string {
  const cache = readCacheFile();
  const planted = 'f'.repeat(64);
  cache.files[path.resolve(file)]!.sha256 = planted;
  writeFileSync(path.join(cacheDir, FILE_HASHES), JSON.stringify(cache));
  return planted;
}

describe('model fingerprint', () => {
  it('is the same with and without the cache, and the cache remembers each ONNX file', async () => {
    const uncached = await computeModelFingerprint(model, { cacheDir: null });
    expect(await computeModelFingerprint(model, { cacheDir })).toBe(uncached);
    expect(Object.keys(readCacheFile().files).sort()).toEqual([model.onnx.text, model.onnx.vision].map((f) => path.resolve(f)).sort());
    expect(await computeModelFingerprint(model, { cacheDir })).toBe(uncached);
  });

  it('trusts a remembered hash only while the file is unchanged', async () => {
    const file = model.onnx.text;
    const [real] = await hashFiles([file], { cacheDir });
    const planted = plantHash(file);
    expect(await hashFiles([file], { cacheDir })).toEqual([planted]);

    // rewritten in place with the same size and its old mtime put back: the ctime still moves
    const before = statSync(file);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(file, bytes);
    utimesSync(file, before.atime, before.mtime);
    expect(statSync(file).size).toBe(before.size);
    const [changed] = await hashFiles([file], { cacheDir });
    expect(changed).not.toBe(planted);
    expect(changed).not.toBe(real);

    // put back by replacing the file (another inode): hashed again, and the first hash returns
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(`${file}.new`, bytes);
    renameSync(`${file}.new`, file);
    plantHash(file);
    expect(await hashFiles([file], { cacheDir })).toEqual([real]);
    writeFileSync(`${file}.new`, bytes);
    renameSync(`${file}.new`, file);
    expect(await hashFiles([file], { cacheDir })).toEqual([real]);
  });

  it('still fingerprints when the cache cannot be read or written', async () => {
    const expected = await computeModelFingerprint(model, { cacheDir: null });
    writeFileSync(path.join(cacheDir, FILE_HASHES), '{ not json');
    expect(await computeModelFingerprint(model, { cacheDir })).toBe(expected);
    expect(readCacheFile().version).toBe(1);
    const blocked = path.join(work, 'not-a-directory');
    writeFileSync(blocked, 'a file where the cache directory should be');
    expect(await computeModelFingerprint(model, { cacheDir: blocked })).toBe(expected);
  });
});
