/**
 * Files larger than 2 GiB (sparse here: a real PNG followed by zeros) are hashed as a stream and
 * decoded from their path: they index, and memory stays far below their size. Reading a whole
 * file used to fail past 2 GiB (ERR_FS_FILE_TOO_LARGE) and to cost its size in memory below.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile } from '../../src/indexer/content-hash.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { openIndex } from '../../src/store/index.js';

const HUGE_BYTES = 2 ** 31 + 2 ** 26; // 2 GiB + 64 MiB
const MEMORY_BOUND_BYTES = 512 * 2 ** 20;

let work: string;
let archive: string;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-huge-'));
  archive = path.join(work, 'archive');
  mkdirSync(archive);
  writeFileSync(path.join(archive, 'small.png'), makePng(1, 40, 40));
  const huge = path.join(archive, 'huge.png');
  writeFileSync(huge, makePng(2, 40, 40));
  truncateSync(huge, HUGE_BYTES);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function referenceSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('files over 2 GiB', () => {
  it('hashes a file in chunks: the sha256 and size of every byte, an empty file included', async () => {
    const small = path.join(archive, 'small.png');
    expect(await hashFile(small)).toEqual({ sha256: await referenceSha256(small), bytes: makePng(1, 40, 40).length });
    const empty = path.join(work, 'empty.bin');
    writeFileSync(empty, '');
    expect(await hashFile(empty)).toEqual({ sha256: await referenceSha256(empty), bytes: 0 });
  });

  it('are indexed with a content hash of the whole file, without being held in memory', async () => {
    const index = path.join(work, 'index');
    let peak = process.memoryUsage().rss;
    const baseline = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    let summary;
    try {
      summary = await indexInto({ roots: [archive], index, model: await tinyModelDir(), threads: 1 });
    } finally {
      clearInterval(sampler);
    }
    expect(summary).toMatchObject({ scanned: 2, embedded: 2, errors: 0 });
    expect(peak - baseline).toBeLessThan(MEMORY_BOUND_BYTES);
    const store = await openIndex(index, { readonly: true });
    try {
      const huge = await store.findFileByPath(path.join(archive, 'huge.png'));
      expect(huge).toMatchObject({ status: 'ok', bytes: HUGE_BYTES, width: 40, height: 40, contentHash: await referenceSha256(path.join(archive, 'huge.png')) });
    } finally {
      await store.close();
    }
  }, 120_000);
});
