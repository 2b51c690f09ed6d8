/** The per-model caption-embedding cache: exact round trip, one file per model and variant, damaged or unwritable files never fail a run. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
});
