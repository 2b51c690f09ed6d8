/**
 * Content hashes: files small enough are read synchronously, larger ones (and every file once
 * reads are found slow) asynchronously in chunks; both give the hash of every byte, many files
 * at once, and a file that cannot be read fails alone, with the file system's code and message.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HEAD_BYTES, hashFile, smallFilesReadSynchronously, type ContentHash, type HashOptions } from '../../src/indexer/content-hash.js';

let dir: string;
const files: string[] = [];
/** Sizes around the head and the 1 MiB read chunk (the largest file read synchronously), an empty file included. */
const SIZES = [0, 1, 1000, HEAD_BYTES - 1, HEAD_BYTES, HEAD_BYTES + 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rsclip-hash-'));
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.alloc(SIZES[i % SIZES.length]!);
    for (let b = 0; b < bytes.length; b += 4093) bytes[b] = (i * 31 + b) & 255;
    const file = path.join(dir, `f${i}.bin`);
    writeFileSync(file, bytes);
    files.push(file);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectHashesOfEveryByte(hashFile: (file: string, options?: HashOptions) => Promise<ContentHash>): Promise<void> {
  const hashes = await Promise.all(files.map((file) => hashFile(file, { keepHead: true })));
  hashes.forEach((hash, i) => {
    const bytes = readFileSync(files[i]!);
    expect(hash.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(hash.bytes).toBe(bytes.length);
    expect(hash.head!.equals(bytes.subarray(0, HEAD_BYTES))).toBe(true);
    // a file read in one read comes back whole
    if (bytes.length <= 1 << 20) expect(hash.content!.equals(bytes)).toBe(true);
    else expect(hash.content).toBeUndefined();
  });
  expect(await hashFile(files[2]!)).not.toHaveProperty('head');
  expect(await hashFile(files[2]!)).not.toHaveProperty('content');
}

describe('hashFile', () => {
  it('hashes many files at once as reading each whole would, with their first bytes, and all of them when they fit one read', async () => {
    await expectHashesOfEveryByte(hashFile);
    expect(smallFilesReadSynchronously()).toBe(true);
  });

  it('fails an unreadable file alone, with the code and message of the file system', async () => {
    mkdirSync(path.join(dir, 'folder.png'));
    const missing = path.join(dir, 'missing.png');
    const outcomes = await Promise.allSettled([...files.slice(0, 10), missing, path.join(dir, 'folder.png'), ...files.slice(10, 20)].map((file) => hashFile(file)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(20);
    const [gone, folder] = outcomes.slice(10, 12) as PromiseRejectedResult[];
    expect(gone!.reason).toMatchObject({ code: 'ENOENT', message: `ENOENT: no such file or directory, open '${missing}'` });
    expect(folder!.reason).toMatchObject({ code: 'EISDIR' });
  });

  it('keeps reading synchronously through a few slow reads, and reads asynchronously once most are slow', async () => {
    // a fresh module: no reads counted yet
    vi.resetModules();
    const { hashFile, smallFilesReadSynchronously } = await import('../../src/indexer/content-hash.js');
    // each read of the clock is `delay` ms after the one before: a read takes `delay`
    let now = 0;
    let delay = 0.01;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (now += delay));
    try {
      // one read in eight takes 3 ms: a busy machine, not a slow file system
      for (let i = 0; i < 128; i++) {
        delay = i % 8 === 0 ? 3 : 0.01;
        await hashFile(files[1]!);
      }
      expect(smallFilesReadSynchronously()).toBe(true);
      delay = 3;
      for (let i = 0; i < 64; i++) await hashFile(files[1]!);
      expect(smallFilesReadSynchronously()).toBe(false);
    } finally {
      clock.mockRestore();
    }
    await expectHashesOfEveryByte(hashFile);
  });
});
