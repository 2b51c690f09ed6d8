/** The per-model caption-embedding cache: exact round trip, one file per model and variant, damaged or unwritable files never fail a run, and a damaged record (any flipped bit, a vector not finite or not of unit length) is never served: its text is embedded again and the file rewritten. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextEmbeddingCache } from '../../src/eval/text-cache.js';
import { embedTextsCached } from '../../src/eval/text-embeddings.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { tinyModelDir } from '../fixtures/model.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-text-cache-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TEXTS = ['a bridge over a river', 'many buildings', 'a bridge over a river', 'a long caption about an airport with two runways and planes parked'];
const DISTINCT = 3;
const HEADER_BYTES = 16;
const recordBytes = (dimension: number): number => 32 + 4 * dimension + 32;

/** Flips the bits of `mask` in byte `offset`. */
const flip = (data: Buffer, offset: number, mask: number): void => {
  data.writeUInt8(data.readUInt8(offset) ^ mask, offset);
};

/** `data` with record `record`'s vector replaced by `vector` and its checksum made to match. */
function withVector(data: Buffer, dimension: number, record: number, vector: Float32Array): Buffer {
  const copy = Buffer.from(data);
  const start = HEADER_BYTES + record * recordBytes(dimension);
  vector.forEach((x, d) => copy.writeFloatLE(x, start + 32 + 4 * d));
  createHash('sha256')
    .update(copy.subarray(start, start + 32 + 4 * dimension))
    .digest()
    .copy(copy, start + 32 + 4 * dimension);
  return copy;
}

describe('caption-embedding cache', () => {
  let fp32: ClipEncoder;
  let int8: ClipEncoder;
  beforeAll(async () => {
    const dir = await tinyModelDir();
    fp32 = await openClip(dir, { threads: 1 });
    int8 = await openClip(dir, { threads: 1, variant: 'int8' });
  });
  afterAll(async () => {
    await fp32?.close();
    await int8?.close();
  });

  it('embeds each distinct text once, and gives back bit-identical vectors from the cache', async () => {
    const cacheDir = path.join(work, 'roundtrip');
    const fresh = await embedTextsCached(fp32, TEXTS, { cache: await TextEmbeddingCache.open(cacheDir, fp32.info) });
    expect(fresh.stats).toMatchObject({ texts: 4, distinct: 3, cached: 0, embedded: 3, cacheSaveError: null });
    expect(fresh.vectors[2]).toBe(fresh.vectors[0]);
    const runsBefore = fp32.runCount.text;
    const again = await embedTextsCached(fp32, [...TEXTS, 'a new text'], { cache: await TextEmbeddingCache.open(cacheDir, fp32.info) });
    expect(again.stats).toMatchObject({ cached: 3, embedded: 1 });
    expect(fp32.runCount.text).toBe(runsBefore + 1);
    for (let i = 0; i < TEXTS.length; i++) expect(Array.from(again.vectors[i]!)).toEqual(Array.from(fresh.vectors[i]!));
    expect(Array.from(again.vectors[4]!)).toEqual(Array.from((await fp32.embedTexts(['a new text']))[0]!));
  });

  it('keys the cache by model fingerprint: another variant gets its own file', async () => {
    const cacheDir = path.join(work, 'variants');
    await embedTextsCached(fp32, TEXTS, { cache: await TextEmbeddingCache.open(cacheDir, fp32.info) });
    const other = await embedTextsCached(int8, TEXTS, { cache: await TextEmbeddingCache.open(cacheDir, int8.info) });
    expect(other.stats.cached).toBe(0);
    expect(readdirSync(path.join(cacheDir, 'text-embeddings'))).toHaveLength(2);
  });

  it('ignores and replaces a damaged file', async () => {
    const cacheDir = path.join(work, 'damaged');
    const cache = await TextEmbeddingCache.open(cacheDir, fp32.info);
    await embedTextsCached(fp32, TEXTS, { cache });
    writeFileSync(cache.file, 'RSCLIPTE but not the rest');
    const reopened = await TextEmbeddingCache.open(cacheDir, fp32.info);
    expect(reopened.size).toBe(0);
    const result = await embedTextsCached(fp32, TEXTS, { cache: reopened });
    expect(result.stats).toMatchObject({ cached: 0, embedded: 3, cacheSaveError: null });
    expect((await TextEmbeddingCache.open(cacheDir, fp32.info)).size).toBe(3);
  });

  it('still returns the vectors when the cache cannot be written, and says why', async () => {
    const blocker = path.join(work, 'a-file');
    writeFileSync(blocker, '');
    const result = await embedTextsCached(fp32, TEXTS, { cache: await TextEmbeddingCache.open(path.join(blocker, 'cache'), fp32.info) });
    expect(result.vectors).toHaveLength(4);
    expect(result.stats.cacheSaveError).toMatch(/ENOTDIR|EEXIST/);
  });

  describe('damaged records', () => {
    let cacheDir: string;
    let saved: Buffer;
    let fresh: Float32Array[];
    let dimension: number;
    beforeAll(async () => {
      cacheDir = path.join(work, 'bit-flips');
      const cache = await TextEmbeddingCache.open(cacheDir, fp32.info);
      fresh = (await embedTextsCached(fp32, TEXTS, { cache })).vectors;
      saved = readFileSync(cache.file);
      dimension = fp32.info.embeddingDim;
    });

    it('stores format version 2: per record the text hash, the vector and a sha256 over both', () => {
      expect(saved.readUInt32LE(8)).toBe(2);
      expect(saved.length).toBe(HEADER_BYTES + DISTINCT * recordBytes(dimension));
      // records in the order the texts were embedded: shortest first
      expect(withVector(saved, dimension, 0, fresh[1]!).equals(saved)).toBe(true);
    });

    async function reopenWith(data: Buffer): Promise<TextEmbeddingCache> {
      const cache = await TextEmbeddingCache.open(cacheDir, fp32.info);
      writeFileSync(cache.file, data);
      return TextEmbeddingCache.open(cacheDir, fp32.info);
    }

    it('drops a record with one flipped bit in a stored float (still finite), embeds its text again and rewrites the file, giving the right vectors', async () => {
      const damaged = Buffer.from(saved);
      flip(damaged, HEADER_BYTES + 32 + 4 * 5, 0x01); // the lowest mantissa bit of record 0, value 5
      expect(Number.isFinite(damaged.readFloatLE(HEADER_BYTES + 32 + 4 * 5))).toBe(true);
      const reopened = await reopenWith(damaged);
      expect({ size: reopened.size, dropped: reopened.dropped }).toEqual({ size: DISTINCT - 1, dropped: 1 });
      const result = await embedTextsCached(fp32, TEXTS, { cache: reopened });
      expect(result.stats).toMatchObject({ cached: DISTINCT - 1, embedded: 1, cacheSaveError: null });
      for (let i = 0; i < TEXTS.length; i++) expect(Array.from(result.vectors[i]!)).toEqual(Array.from(fresh[i]!));
      const repaired = await TextEmbeddingCache.open(cacheDir, fp32.info);
      expect({ size: repaired.size, dropped: repaired.dropped }).toEqual({ size: DISTINCT, dropped: 0 });
    });

    it('rewrites the file without a damaged record even when no text is added', async () => {
      const damaged = Buffer.from(saved);
      flip(damaged, HEADER_BYTES + recordBytes(dimension) + 40, 0x10);
      const reopened = await reopenWith(damaged);
      expect(reopened.dropped).toBe(1);
      await reopened.save();
      expect(await TextEmbeddingCache.open(cacheDir, fp32.info)).toMatchObject({ size: DISTINCT - 1, dropped: 0 });
    });

    it('catches a flipped bit anywhere in a record: text hash, vector or checksum', async () => {
      const missed: number[] = [];
      for (let byte = 0; byte < recordBytes(dimension); byte++) {
        const damaged = Buffer.from(saved);
        flip(damaged, HEADER_BYTES + recordBytes(dimension) + byte, 1 << byte % 8);
        const reopened = await reopenWith(damaged);
        if (reopened.size !== DISTINCT - 1 || reopened.dropped !== 1) missed.push(byte);
      }
      expect(missed).toEqual([]);
    });

    it.each([
      ['not finite (NaN)', (v: Float32Array) => v.map((x, d) => (d === 3 ? Number.NaN : x))],
      ['not finite (Infinity)', (v: Float32Array) => v.map((x, d) => (d === 0 ? Number.POSITIVE_INFINITY : x))],
      ['not of unit length', (v: Float32Array) => v.map((x) => x * 1.01)],
      ['all zeros', (v: Float32Array) => v.map(() => 0)],
    ])('refuses a vector %s even when its checksum matches', async (_, change) => {
      const reopened = await reopenWith(withVector(saved, dimension, 2, change(fresh[0]!)));
      expect({ size: reopened.size, dropped: reopened.dropped }).toEqual({ size: DISTINCT - 1, dropped: 1 });
    });

    it('ignores a file of format version 1 (no checksums) and replaces it once', async () => {
      const v1 = Buffer.alloc(HEADER_BYTES + DISTINCT * (32 + 4 * dimension));
      saved.copy(v1, 0, 0, HEADER_BYTES);
      v1.writeUInt32LE(1, 8);
      for (let r = 0; r < DISTINCT; r++) saved.copy(v1, HEADER_BYTES + r * (32 + 4 * dimension), HEADER_BYTES + r * recordBytes(dimension), HEADER_BYTES + r * recordBytes(dimension) + 32 + 4 * dimension);
      const reopened = await reopenWith(v1);
      expect(reopened.size).toBe(0);
      expect((await embedTextsCached(fp32, TEXTS, { cache: reopened })).stats).toMatchObject({ cached: 0, embedded: DISTINCT });
      const replaced = readFileSync(reopened.file);
      expect(replaced.readUInt32LE(8)).toBe(2);
      expect(readdirSync(path.dirname(reopened.file))).toEqual([path.basename(reopened.file)]);
      expect((await TextEmbeddingCache.open(cacheDir, fp32.info)).size).toBe(DISTINCT);
    });
  });
});
