/**
 * `eval retrieval` on the RSICD test split with the tiny random model: a Karpathy-style file
 * the test writes from captions.jsonl (same images, same captions, split test, plus entries of
 * other splits) gives exactly the metrics of the JSONL path, which are exactly those of
 * `eval rsicd`; the second and third runs take every caption from the cache.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { evaluateRetrieval, evaluateRsicd, type RetrievalReport, type RsicdReport } from '../../src/eval/index.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { tinyModelDir } from '../fixtures/model.js';
import { describeShared, sharedPath } from '../fixtures/shared.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-retrieval-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RSICD = {
  images: sharedPath('datasets/rsicd-test/images'),
  captions: sharedPath('datasets/rsicd-test/captions.jsonl'),
  labels: sharedPath('datasets/rsicd-test/labels.tsv'),
};

/** dataset_rsicd.json as the papers ship it, from our JSONL: test entries in file order, tokens lower-cased, other splits mixed in. */
function writeKarpathyFile(file: string): void {
  const lines = readFileSync(RSICD.captions, 'utf8').trim().split('\n');
  const test = lines.map((line, i) => {
    const { filename, captions } = JSON.parse(line) as { filename: string; captions: string[] };
    return { filename, imgid: i, split: 'test', sentids: captions.map((_, j) => 5 * i + j), sentences: captions.map((raw, j) => ({ tokens: raw.toLowerCase().split(/\s+/), raw, imgid: i, sentid: 5 * i + j })) };
  });
  const other = ['train', 'val'].map((split, i) => ({ filename: `not_in_the_folder_${i}.jpg`, imgid: 10_000 + i, split, sentids: [0], sentences: [{ tokens: ['x'], raw: 'x', imgid: 0, sentid: 0 }] }));
  writeFileSync(file, JSON.stringify({ dataset: 'rsicd', images: [other[0], ...test.slice(0, 500), other[1], ...test.slice(500)] }));
}

describeShared('eval retrieval: Karpathy-style JSON and JSONL on the RSICD test split', () => {
  const cacheDir = path.join(work, 'cache');
  const karpathy = path.join(work, 'dataset_rsicd.json');
  let encoder: ClipEncoder;
  let rsicd: RsicdReport;
  let jsonl: RetrievalReport;
  let fromKarpathy: RetrievalReport;

  beforeAll(async () => {
    writeKarpathyFile(karpathy);
    encoder = await openClip(await tinyModelDir(), { threads: 1 });
    rsicd = (await evaluateRsicd({ model: encoder, ...RSICD, cacheDir })).report;
    jsonl = (await evaluateRetrieval({ model: encoder, images: RSICD.images, captions: RSICD.captions, cacheDir })).report;
    fromKarpathy = (await evaluateRetrieval({ model: encoder, images: RSICD.images, captions: karpathy, split: 'test', cacheDir })).report;
  }, 600_000);
  afterAll(async () => {
    await encoder?.close();
  });

  it('reads the test split of the Karpathy file: same images, same captions', () => {
    expect(fromKarpathy.data).toMatchObject({ captionsFormat: 'karpathy', split: 'test', images: 1093, captions: 5465 });
    expect(jsonl.data).toMatchObject({ captionsFormat: 'jsonl', split: null, images: 1093, captions: 5465 });
    expect(fromKarpathy.data.imageListSha256).toBe(jsonl.data.imageListSha256);
    expect(fromKarpathy.retrieval.queriesSha256).toBe(jsonl.retrieval.queriesSha256);
  });

  it('gives exactly the metrics, intervals and per-image outcomes of the JSONL path and of eval rsicd', () => {
    expect(fromKarpathy.retrieval).toEqual(jsonl.retrieval);
    expect(jsonl.retrieval).toEqual(rsicd.retrieval);
    expect(jsonl.retrieval).toMatchObject({ textQueries: 5465, imageQueries: 1093, imagesWithoutCaptions: 0 });
    for (const key of ['textToImage@1', 'textToImage@10', 'imageToText@5', 'meanRecall']) {
      const interval = jsonl.retrieval.intervals[key]!;
      expect(interval.low).toBeLessThanOrEqual(interval.high);
    }
  });

  it('embeds each distinct caption once, and takes them all from the cache on later runs', () => {
    expect(rsicd.captionEmbedding).toMatchObject({ texts: 5465, cached: 0, cacheSaveError: null });
    expect(rsicd.captionEmbedding.distinct).toBeLessThan(5465); // RSICD repeats captions
    expect(rsicd.captionEmbedding.embedded).toBe(rsicd.captionEmbedding.distinct);
    for (const report of [jsonl, fromKarpathy]) {
      expect(report.captionEmbedding).toMatchObject({ texts: 5465, cached: rsicd.captionEmbedding.distinct, embedded: 0 });
      expect(report.captionEmbedding.cacheFile).toBe(rsicd.captionEmbedding.cacheFile);
    }
    expect(path.dirname(rsicd.captionEmbedding.cacheFile!)).toBe(path.join(cacheDir, 'text-embeddings'));
  });

  it('refuses a split the file does not have, and a folder without the captioned images', async () => {
    await expect(evaluateRetrieval({ model: encoder, images: RSICD.images, captions: karpathy, split: 'testing' })).rejects.toMatchObject({ code: 'DATASET_INVALID', hint: expect.stringMatching(/test, train, val/) });
    await expect(evaluateRetrieval({ model: encoder, images: work, captions: karpathy })).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringMatching(/1093 of the 1093 images/) });
  });
});
