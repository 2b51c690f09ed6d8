/**
 * Evaluation timings on the RSICD test split (1,093 images, 5,465 captions):
 * - tiny model: a full `eval rsicd` run, the same through an index, and the `eval ann` table;
 * - full-size ViT-B/32 with random weights, int8 (the Measure item of issue 12): `eval retrieval`
 *   with an empty caption cache, then again with the cache filled, and (unless
 *   --skip-baseline) the caption embedding the way it was done before the cache: every caption,
 *   repeats included, in file order, 256 per batch.
 * Usage: npx tsx bench/eval.ts [--tiny DIR] [--vitb32 DIR] [--threads N] [--batch N] [--skip-tiny] [--skip-vitb32] [--skip-baseline] [--data DIR]
 * Without --vitb32 the random model is written to $TMPDIR/rsclip-bench-vit-b-32 (about 3 minutes) and kept there.
 * Prints JSON.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateAnn, evaluateRetrieval, evaluateRsicd, readCaptionFile, type RetrievalReport, type RsicdReport } from '../src/eval/index.js';
import { embedTextsBatched } from '../src/eval/prompts.js';
import { indexArchive } from '../src/indexer/index.js';
import { openClip } from '../src/model/index.js';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { openIndex } from '../src/store/index.js';

const { values } = parseArgs({
  options: {
    tiny: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/golden/tiny-clip') },
    vitb32: { type: 'string' },
    data: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/datasets/rsicd-test') },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    batch: { type: 'string', default: '32' },
    'skip-vitb32': { type: 'boolean', default: false },
    'skip-tiny': { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const batchSize = Number(values.batch);
const data = { images: path.join(values.data, 'images'), captions: path.join(values.data, 'captions.jsonl'), labels: path.join(values.data, 'labels.tsv') };
const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-eval-'));
const round = (x: number): number => +x.toFixed(2);

function summary(report: RsicdReport): Record<string, unknown> {
  return {
    model: report.model.id,
    wallSeconds: round(report.wallSeconds),
    phaseSeconds: Object.fromEntries(Object.entries(report.phaseSeconds).map(([k, v]) => [k, round(v)])),
    zeroShot: report.zeroShot.scores,
    textToImage: report.retrieval.textToImage,
    imageToText: report.retrieval.imageToText,
    meanRecall: +report.retrieval.meanRecall.toFixed(4),
  };
}

function retrievalTiming(report: RetrievalReport): Record<string, unknown> {
  return {
    wallSeconds: round(report.wallSeconds),
    phaseSeconds: Object.fromEntries(Object.entries(report.phaseSeconds).map(([k, v]) => [k, round(v)])),
    captionShare: +(report.phaseSeconds.captions / report.wallSeconds).toFixed(3),
    captions: { texts: report.captionEmbedding.texts, distinct: report.captionEmbedding.distinct, cached: report.captionEmbedding.cached, embedded: report.captionEmbedding.embedded },
    meanRecall: +report.retrieval.meanRecall.toFixed(4),
  };
}

async function vitB32Dir(): Promise<string> {
  if (values.vitb32) return values.vitb32;
  const dir = path.join(os.tmpdir(), 'rsclip-bench-vit-b-32');
  if (!existsSync(dir)) await writeRandomClipModel(dir, { size: 'vit-b-32', seed: 0, quantize: 'int8', writeCheckpoint: false, onProgress: (m) => process.stderr.write(`${m}\n`) });
  return dir;
}

try {
  const result: Record<string, unknown> = { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadAverage: os.loadavg().map(round), threads, batchSize };

  if (!values['skip-tiny']) {
    const tiny = await evaluateRsicd({ model: values.tiny, ...data, threads, batchSize });
    result.rsicdTiny = summary(tiny.report);

    const indexDir = path.join(work, 'tiny-index');
    const encoder = await openClip(values.tiny, { threads });
    const store = await openIndex(indexDir, { model: encoder.info, create: true });
    const indexed = await indexArchive({ roots: [data.images], store, encoder, batchSize }).finally(async () => {
      await store.close();
      await encoder.close();
    });
    result.tinyIndexSeconds = round(indexed.seconds);
    const viaIndex = await evaluateRsicd({ model: values.tiny, ...data, index: indexDir, threads });
    result.rsicdTinyViaIndexHnsw = { ...summary(viaIndex.report), ef: viaIndex.report.search.ef };
    const ann = await evaluateAnn({ index: indexDir, queries: 1093 });
    result.annTinyRsicd = {
      vectors: ann.vectors,
      k: ann.k,
      queries: ann.queries,
      rows: ann.rows.map((r) => ({ ...r, recall: +r.recall.toFixed(4), minRecall: +r.minRecall.toFixed(2), queriesPerSecond: Math.round(r.queriesPerSecond) })),
      recommendedEf: ann.recommendedEf,
    };
  }

  if (!values['skip-vitb32']) {
    const modelDir = await vitB32Dir();
    const cacheDir = path.join(work, 'cache');
    const run = async () => (await evaluateRetrieval({ model: modelDir, variant: 'int8', images: data.images, captions: data.captions, threads, batchSize, cacheDir })).report;
    const cold = await run();
    const warm = await run();
    const measured: Record<string, unknown> = { model: cold.model.id, variant: cold.model.variant, emptyCache: retrievalTiming(cold), filledCache: retrievalTiming(warm) };
    if (!values['skip-baseline']) {
      const captions = [...(await readCaptionFile(data.captions)).captions.values()].flat();
      const encoder = await openClip(modelDir, { variant: 'int8', threads });
      try {
        const started = performance.now();
        await embedTextsBatched(encoder, captions);
        measured.captionsAsBeforeSeconds = round((performance.now() - started) / 1000);
      } finally {
        await encoder.close();
      }
    }
    result.retrievalVitB32Int8 = measured;
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
