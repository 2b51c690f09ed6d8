/**
 * The full RSICD evaluation with the tiny random-weight model, both protocols, in both
 * modes (model directly; through an index), plus `eval ann` and `eval labels` on the index.
 * Images are embedded once (the exact run); the index is filled with those vectors.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { evaluateAnn, evaluateLabels, evaluateRsicd, scorePredictions, writeRsicdReport, type AnnReport, type RsicdReport } from '../../src/eval/index.js';
import { embedTextsBatched } from '../../src/eval/prompts.js';
import { openClip } from '../../src/model/index.js';
import { openIndex, type CatalogChange } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { tinyModelDir } from '../fixtures/model.js';
import { describeShared, sharedPath } from '../fixtures/shared.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-rsicd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RSICD = {
  images: sharedPath('datasets/rsicd-test/images'),
  captions: sharedPath('datasets/rsicd-test/captions.jsonl'),
  labels: sharedPath('datasets/rsicd-test/labels.tsv'),
};

/**
 * Upper bound for a share of n hits under "no information": the hits are a sum of n
 * independent Bernoulli trials whose success chance is at most p, so the share has mean
 * <= p and standard deviation <= sigma = sqrt(p(1-p)/n) (a Poisson-binomial sum varies no
 * more than the binomial of the same mean). p + 5 sigma is exceeded by chance with
 * probability < 3e-7 (normal tail), while label leakage or an off-by-one that lets an item
 * find itself pushes the share towards 1.
 */
function chanceBound(p: number, n: number): number {
  return p + 5 * Math.sqrt((p * (1 - p)) / n);
}

/** Sum of the k largest class shares: the best a classifier that ignores the image can do at k. */
function labelIndependentChance(classCounts: number[], k: number, n: number): number {
  return [...classCounts].sort((a, b) => b - a).slice(0, k).reduce((a, b) => a + b, 0) / n;
}

describeShared('RSICD evaluation with the tiny random model', () => {
  const indexDir = path.join(work, 'index');
  const outDir = path.join(work, 'report');
  let modelDir: string;
  let exact: RsicdReport;
  let viaIndexExact: RsicdReport;
  let viaHnsw: RsicdReport;

  beforeAll(async () => {
    modelDir = await tinyModelDir();
    const evaluation = await evaluateRsicd({ model: modelDir, ...RSICD, threads: 1, commandLine: 'rsclip eval rsicd (test)' });
    exact = evaluation.report;
    await writeRsicdReport(outDir, evaluation);
    await indexEvaluatedVectors(evaluation.imageVectors);
    // the CLI run searches the index: only texts are embedded again; the model is the one the index recorded
    const cli = await runCli(['eval', 'rsicd', '--images', RSICD.images, '--captions', RSICD.captions, '--labels', RSICD.labels, '--index', indexDir, '--exact', '--threads', '1', '--json']);
    if (cli.code !== 0) throw new Error(`rsclip eval rsicd failed (${cli.code}): ${cli.stderr}`);
    viaIndexExact = JSON.parse(cli.stdout) as RsicdReport;
    viaHnsw = (await evaluateRsicd({ model: modelDir, ...RSICD, index: indexDir, threads: 1 })).report;
  }, 600_000);

  /** An index of the RSICD images holding the vectors the exact run computed (the indexer embeds the same way; test/indexer covers it). */
  async function indexEvaluatedVectors(evaluated: { fileNames: string[]; vectors: Float32Array[] }): Promise<void> {
    const encoder = await openClip(modelDir, { threads: 1 });
    const store = await openIndex(indexDir, { create: true, model: encoder.info });
    try {
      const changes: CatalogChange[] = evaluated.fileNames.map((name, i) => {
        const file = path.join(RSICD.images, name);
        const stat = statSync(file);
        const image = { root: RSICD.images, path: name, bytes: stat.size, mtimeMs: stat.mtimeMs, contentHash: createHash('sha256').update(readFileSync(file)).digest('hex'), width: 224, height: 224, format: 'jpeg' };
        return { kind: 'put', file: image, vector: evaluated.vectors[i]! };
      });
      await store.commit(changes);
    } finally {
      await store.close();
      await encoder.close();
    }
  }

  it('runs both protocols over the published split sizes and writes the report files', async () => {
    expect(exact.mode).toBe('exact');
    expect(exact.zeroShot.images).toBe(1027);
    expect(exact.zeroShot.classes).toHaveLength(30);
    expect(exact.zeroShot.classes).toEqual([...exact.zeroShot.classes].sort());
    expect(exact.zeroShot.classes).not.toContain('playfields');
    expect(exact.data.images).toBe(1093);
    expect(exact.retrieval).toMatchObject({ textQueries: 5465, imageQueries: 1093, imagesWithoutCaptions: 0 });
    expect(exact.prompts).toEqual(['Aerial photograph of {class}']);

    const json = JSON.parse(readFileSync(path.join(outDir, 'report.json'), 'utf8')) as RsicdReport;
    expect(json.zeroShot.scores).toEqual(exact.zeroShot.scores);
    expect(json.model.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(json.data.captionsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(json.commandLine).toBe('rsclip eval rsicd (test)');
    const markdown = readFileSync(path.join(outDir, 'report.md'), 'utf8');
    expect(markdown).toContain(json.model.fingerprint);
    expect(markdown).toContain(json.data.labelsSha256);

    // the predictions file is the clip-rsicd format and scores to the same numbers
    const lines = readFileSync(path.join(outDir, 'predictions.tsv'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1027);
    for (const line of lines) expect(line.split('\t')).toHaveLength(22);
    const rescored = await scorePredictions(path.join(outDir, 'predictions.tsv'));
    for (const k of [1, 3, 5, 10]) expect(rescored.scores[k]).toBeCloseTo(exact.zeroShot.scores[k]!, 12);
  });

  it('stays near chance with random weights (catches label leakage and off-by-one hits)', () => {
    const n = exact.zeroShot.images;
    const counts = exact.zeroShot.perClass.map((c) => c.images);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
    for (const k of [1, 3, 5, 10]) {
      // uniform chance is k/30; a model that ignores the image does best by always naming the k largest classes
      const p = Math.max(k / 30, labelIndependentChance(counts, k, n));
      expect(exact.zeroShot.scores[k]).toBeLessThanOrEqual(chanceBound(p, n));
    }
    // text->image: each caption's own image is 1 of 1,093, so chance at k is k/1093; the 5 captions of an
    // image are not independent, so n is the number of images (fewer trials, a looser bound)
    const images = exact.data.images;
    for (const k of [1, 5, 10]) {
      expect(exact.retrieval.textToImage[k]).toBeLessThanOrEqual(chanceBound(k / images, images));
      // image->text: a hit is any of 5 own captions among 5,465: chance 1 - (1 - k/5465)^5
      const p = 1 - (1 - k / exact.retrieval.textQueries) ** 5;
      expect(exact.retrieval.imageToText[k]).toBeLessThanOrEqual(chanceBound(p, images));
    }
  });

  it('reproduces the exact run through the index with --exact, and says how it searched', () => {
    expect(viaIndexExact.mode).toBe('index');
    // no --model: the index's recorded one, which the report names
    expect(viaIndexExact.commandLine).toMatch(/^rsclip eval rsicd --images .* --exact/);
    expect(viaIndexExact.model).toEqual(exact.model);
    expect(viaIndexExact.search).toMatchObject({ textToImage: 'exact', ef: null });
    for (const k of [1, 3, 5, 10]) expect(viaIndexExact.zeroShot.scores[k]).toBeCloseTo(exact.zeroShot.scores[k]!, 6);
    for (const k of [1, 5, 10]) {
      expect(viaIndexExact.retrieval.textToImage[k]).toBeCloseTo(exact.retrieval.textToImage[k]!, 6);
      expect(viaIndexExact.retrieval.imageToText[k]).toBeCloseTo(exact.retrieval.imageToText[k]!, 6);
    }
  });

  it('includes HNSW effects in index mode: text->image by graph search, within ANN error of exact', () => {
    expect(viaHnsw.search).toMatchObject({ textToImage: 'hnsw', imageToText: 'exact' });
    expect(viaHnsw.search.ef).toBeGreaterThan(0);
    expect(viaHnsw.retrieval.imageToText).toEqual(viaIndexExact.retrieval.imageToText);
    // at most 1% of the 5,465 caption queries may differ because of the approximate search
    for (const k of [1, 5, 10]) expect(Math.abs(viaHnsw.retrieval.textToImage[k]! - viaIndexExact.retrieval.textToImage[k]!)).toBeLessThanOrEqual(0.01);
  });

  it('says the search was exact when the evaluated images are a small part of a larger index (which scores such a selection exactly)', async () => {
    const larger = path.join(work, 'index-larger');
    cpSync(indexDir, larger, { recursive: true });
    const encoder = await openClip(modelDir, { threads: 1 });
    const store = await openIndex(larger, { model: encoder.info });
    const extra = { root: work, path: 'extra.jpg', bytes: 1, mtimeMs: 1, contentHash: 'extra', width: 224, height: 224, format: 'jpeg' };
    await store.commit([{ kind: 'put', file: extra, vector: Float32Array.from({ length: encoder.info.embeddingDim }, (_, i) => (i === 0 ? 1 : 0)) }]);
    await store.close();
    await encoder.close();
    const report = (await evaluateRsicd({ model: modelDir, ...RSICD, index: larger, threads: 1 })).report;
    expect(report.search).toMatchObject({ textToImage: 'exact', ef: null });
    for (const k of [1, 5, 10]) expect(report.retrieval.textToImage[k]).toBeCloseTo(viaIndexExact.retrieval.textToImage[k]!, 6);
  });

  it('eval labels scores the index with per-class accuracy, restricted to --classes when given', async () => {
    const all = await evaluateLabels({ index: indexDir, model: modelDir, labels: RSICD.labels, threads: 1 });
    expect(all.zeroShot.images).toBe(1093);
    expect(all.zeroShot.classes).toHaveLength(31); // the 30 name prefixes and playfields
    expect(all.zeroShot.perClass.reduce((a, c) => a + c.images, 0)).toBe(1093);
    const two = await evaluateLabels({ index: indexDir, model: modelDir, labels: RSICD.labels, classes: ['airport', 'beach'], threads: 1 });
    expect(two.zeroShot.classes).toEqual(['airport', 'beach']);
    expect(two.zeroShot.images).toBe(all.zeroShot.perClass.filter((c) => c.className === 'airport' || c.className === 'beach').reduce((a, c) => a + c.images, 0));
    expect(two.excluded.otherClass).toBe(1093 - two.zeroShot.images);
    expect(two.zeroShot.scores[3]).toBe(1); // k >= the class count
    await expect(evaluateLabels({ index: indexDir, model: modelDir, labelsFromFolders: true, threads: 1 })).rejects.toMatchObject({ code: 'DATASET_INVALID' });
  });

  describeShared('eval ann on RSICD image vectors plus caption text vectors', () => {
    const annDir = path.join(work, 'ann-index');
    let report: AnnReport;

    beforeAll(async () => {
      const encoder = await openClip(modelDir, { threads: 1 });
      const source = await openIndex(indexDir, { readonly: true });
      const target = await openIndex(annDir, { create: true, model: encoder.info });
      try {
        const captions = readFileSync(RSICD.captions, 'utf8')
          .trim()
          .split('\n')
          .flatMap((l) => (JSON.parse(l) as { captions: string[] }).captions);
        const puts: CatalogChange[] = [];
        const entry = (name: string) => ({ root: work, path: name, bytes: 0, mtimeMs: 0, contentHash: name, width: null, height: null, format: null });
        for await (const [id, vector] of source.vectors()) puts.push({ kind: 'put', file: entry(`image-${id}`), vector });
        const textVectors = await embedTextsBatched(encoder, captions);
        textVectors.forEach((vector, i) => puts.push({ kind: 'put', file: entry(`caption-${i}`), vector }));
        await target.commit(puts);
      } finally {
        await target.close();
        await source.close();
        await encoder.close();
      }
      const cli = await runCli(['eval', 'ann', '--index', annDir, '--queries', '1000', '--k', '10', '--ef', '10,20,50,100,200', '--json']);
      if (cli.code !== 0) throw new Error(`rsclip eval ann failed (${cli.code}): ${cli.stderr}`);
      report = JSON.parse(cli.stdout) as AnnReport;
    }, 300_000);

    it('has recall 1 with exact search and recall non-decreasing in ef', () => {
      expect(report.vectors).toBe(1093 + 5465);
      expect(report.queries.stored).toBe(1000);
      const [exactRow, ...sweep] = report.rows;
      expect(exactRow).toMatchObject({ search: 'exact', recall: 1, minRecall: 1 });
      // a search for k + 1 = 11 neighbours (self held out) uses ef 11 at least
      expect(sweep.map((r) => [r.ef, r.requestedEfs])).toEqual([[11, [10]], [20, [20]], [50, [50]], [100, [100]], [200, [200]]]);
      for (let i = 1; i < sweep.length; i++) expect(sweep[i]!.recall).toBeGreaterThanOrEqual(sweep[i - 1]!.recall);
      expect(report.recommendedEf === null || sweep.find((r) => r.ef === report.recommendedEf)!.recall >= report.target).toBe(true);
    });

    it('takes text queries too (no self match to hold out), and needs some query', async () => {
      const texts = ['many buildings and green trees are in a dense residential area', 'a bridge is over a river'];
      const a = await evaluateAnn({ index: annDir, queries: 50, efs: [10, 200], texts, model: modelDir, threads: 1 });
      const b = await evaluateAnn({ index: annDir, queries: 50, efs: [10, 200] });
      expect(a.queries).toEqual({ stored: 50, texts: 2 });
      expect(a.rows[0]!.recall).toBe(1);
      expect(b.rows[0]!.recall).toBe(1);
      await expect(evaluateAnn({ index: annDir, queries: 0, texts })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    });
  });
});
