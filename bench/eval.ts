/**
 * Evaluation timings: a full RSICD run (both protocols, mode exact) with the tiny model and
 * with a full-size random ViT-B/32, and the `eval ann` table on an index of the RSICD test
 * images built with the tiny model.
 * Usage: npx tsx bench/eval.ts [--tiny DIR] [--threads N] [--batch N] [--skip-tiny] [--skip-vitb32] [--data DIR]
 * Prints JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateAnn, evaluateRsicd, type RsicdReport } from '../src/eval/index.js';
import { indexArchive } from '../src/indexer/index.js';
import { writeRandomClipModel } from '../src/model/export/index.js';
import { openClip } from '../src/model/index.js';
import { openIndex } from '../src/store/index.js';

const { values } = parseArgs({
  options: {
    tiny: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/golden/tiny-clip') },
    data: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/datasets/rsicd-test') },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    batch: { type: 'string', default: '32' },
    'skip-vitb32': { type: 'boolean', default: false },
    'skip-tiny': { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const batchSize = Number(values.batch);
const data = { images: path.join(values.data, 'images'), captions: path.join(values.data, 'captions.jsonl'), labels: path.join(values.data, 'labels.tsv') };
const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-eval-'));

function summary(report: RsicdReport): Record<string, unknown> {
  return {
    model: report.model.id,
    wallSeconds: +report.wallSeconds.toFixed(2),
    phaseSeconds: Object.fromEntries(Object.entries(report.phaseSeconds).map(([k, v]) => [k, +v.toFixed(2)])),
    zeroShot: report.zeroShot.scores,
    textToImage: report.retrieval.textToImage,
    imageToText: report.retrieval.imageToText,
    meanRecall: +report.retrieval.meanRecall.toFixed(4),
  };
}

try {
  const result: Record<string, unknown> = { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), threads, batchSize };

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
    result.tinyIndexSeconds = +indexed.seconds.toFixed(2);
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
    const modelDir = path.join(work, 'vit-b-32');
    const writeStart = performance.now();
    await writeRandomClipModel(modelDir, { size: 'vit-b-32', writeCheckpoint: false });
    result.vitb32ModelWriteSeconds = +((performance.now() - writeStart) / 1000).toFixed(2);
    const vit = await evaluateRsicd({ model: modelDir, ...data, threads, batchSize });
    result.rsicdRandomVitB32 = summary(vit.report);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
