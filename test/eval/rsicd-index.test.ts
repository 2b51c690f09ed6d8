/**
 * `eval rsicd --index` takes an image's vector from the index only for the very bytes indexed:
 * a folder with the same file names and other contents (or a file edited since indexing) is
 * embedded, and the report says how many vectors came from the index. A small RSICD-shaped set
 * the test makes, with the tiny random model.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateRsicd, type RsicdEvaluation } from '../../src/eval/index.js';
import { vectorsFromIndex, type EvalProgress } from '../../src/eval/image-vectors.js';
import { openClip } from '../../src/model/index.js';
import { openIndex, type CatalogChange } from '../../src/store/index.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-rsicd-index-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NAMES = ['airport_1.png', 'airport_2.png', 'beach_1.png', 'beach_2.png', 'forest_1.png', 'forest_2.png'];

/** `dir` with one PNG per name, the i-th made from seed seeds[i]. */
function writeImages(dir: string, seeds: number[]): string {
  mkdirSync(dir, { recursive: true });
  NAMES.forEach((name, i) => writeFileSync(path.join(dir, name), makePng(seeds[i]!, 40, 40)));
  return dir;
}

/** Cosine of each pair of unit vectors. */
function cosines(a: readonly Float32Array[], b: readonly Float32Array[]): number[] {
  return a.map((v, i) => v.reduce((sum, x, j) => sum + x * b[i]![j]!, 0));
}

describe('eval rsicd --index with files of the same names', () => {
  const seeds = NAMES.map((_, i) => i + 1);
  const orig = writeImages(path.join(work, 'orig'), seeds);
  // the same names, the contents rotated by one
  const shuffled = writeImages(path.join(work, 'shuffled'), [...seeds.slice(1), seeds[0]!]);
  const captions = path.join(work, 'captions.jsonl');
  const labels = path.join(work, 'labels.tsv');
  const indexDir = path.join(work, 'index');
  writeFileSync(captions, NAMES.map((n) => JSON.stringify({ filename: n, captions: [`an image of ${n.split('_')[0]}`, `number ${n}`] })).join('\n'));
  writeFileSync(labels, NAMES.map((n) => `${n}\t${n.split('_')[0]}\n`).join(''));
  let modelDir: string;
  let exactOrig: RsicdEvaluation;
  let exactShuffled: RsicdEvaluation;

  beforeAll(async () => {
    modelDir = await tinyModelDir();
    const run = (images: string) => evaluateRsicd({ model: modelDir, images, captions, labels, threads: 1 });
    const evaluation = await run(orig);
    exactOrig = evaluation;
    exactShuffled = await run(shuffled);
    const encoder = await openClip(modelDir, { threads: 1 });
    const store = await openIndex(indexDir, { create: true, model: encoder.info });
    try {
      const changes = evaluation.imageVectors.fileNames.map((name, i): CatalogChange => {
        const file = path.join(orig, name);
        const contentHash = createHash('sha256').update(readFileSync(file)).digest('hex');
        return { kind: 'put', file: { root: orig, path: name, bytes: statSync(file).size, mtimeMs: 0, contentHash, width: 40, height: 40, format: 'png' }, vector: evaluation.imageVectors.vectors[i]! };
      });
      await store.commit(changes);
    } finally {
      await store.close();
      await encoder.close();
    }
  }, 300_000);

  it('uses the index for the files it indexed, and says so', async () => {
    const searched: EvalProgress[] = [];
    const onProgress = (p: EvalProgress): void => void (p.phase === 'search' && searched.push(p));
    const report = (await evaluateRsicd({ model: modelDir, images: orig, captions, labels, index: indexDir, exact: true, threads: 1, onProgress })).report;
    // the search over the index reports its start, so that its rate is measured from there
    expect(searched).toEqual([
      { phase: 'search', done: 0, total: 12 },
      { phase: 'search', done: 12, total: 12 },
    ]);
    expect(report.search).toMatchObject({ imagesFromIndex: NAMES.length, textToImage: 'exact' });
    expect(report.warnings).toEqual([]);
    expect(report.retrieval.outcomes).toEqual(exactOrig.report.retrieval.outcomes);
  });

  it('finds images at their own path without listing the index\'s items; only images found elsewhere list them', async () => {
    const store = await openIndex(indexDir, { readonly: true });
    let listed = 0;
    const counting = new Proxy(store, {
      get: (target, name, receiver) => (name === 'listItemIds' ? (...args: []) => (listed++, target.listItemIds(...args)) : Reflect.get(target, name, receiver)),
    });
    try {
      expect((await vectorsFromIndex(counting, orig, NAMES)).fromIndex).toBe(NAMES.length);
      expect(listed).toBe(0);
      expect((await vectorsFromIndex(counting, shuffled, NAMES)).fromIndex).toBe(NAMES.length);
      expect(listed).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('takes each file\'s vector by its bytes, not its name: rotated contents give the rotated files\' numbers', async () => {
    const evaluation = await evaluateRsicd({ model: modelDir, images: shuffled, captions, labels, index: indexDir, exact: true, threads: 1 });
    expect(evaluation.report.search).toMatchObject({ imagesFromIndex: NAMES.length });
    // each vector is its bytes' (the index stores vectors at lower precision: cosine 0.9998 and up), not that of the indexed file of its name
    expect(cosines(exactShuffled.imageVectors.vectors, exactOrig.imageVectors.vectors).every((c) => c < 0.995)).toBe(true);
    expect(cosines(evaluation.imageVectors.vectors, exactShuffled.imageVectors.vectors).every((c) => c > 0.9995)).toBe(true);
  });

  it('embeds files whose bytes the index does not hold, ranks text->image exactly, and warns', async () => {
    const edited = writeImages(path.join(work, 'edited'), [...seeds.slice(0, 4), 50, 51]);
    const exactEdited = (await evaluateRsicd({ model: modelDir, images: edited, captions, labels, threads: 1 })).report;
    const evaluation = await evaluateRsicd({ model: modelDir, images: edited, captions, labels, index: indexDir, threads: 1 });
    const report = evaluation.report;
    const embedded = (await evaluateRsicd({ model: modelDir, images: edited, captions, labels, threads: 1 })).imageVectors.vectors;
    expect(cosines(evaluation.imageVectors.vectors, embedded).every((c) => c > 0.9995)).toBe(true);
    expect(report.mode).toBe('index');
    expect(report.search).toMatchObject({ imagesFromIndex: 4, textToImage: 'exact', ef: null });
    expect(report.warnings).toEqual([expect.stringMatching(/lacks 2 of the 6 images with these bytes \(e\.g\. forest_1\.png/)]);
    expect(report.retrieval.outcomes).toEqual(exactEdited.retrieval.outcomes);
  });
});
