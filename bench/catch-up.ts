/**
 * A reader (a server) catching up with another process's commits: an index of CLIP-like vectors
 * is opened by a reader, a writer then commits more without checkpointing the graph file, and
 * the reader answers queries back to back until it has them all; once applying everything at
 * the first look, once in slices of --slice ms per look (what `rsclip serve` does). Prints JSON:
 * per mode the slowest query, the median, the queries and the time until every change was applied.
 *
 * Usage: npx tsx bench/catch-up.ts [--items 50000] [--added 5000] [--slice 20] [--engine usearch]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelInfo } from '../src/model/index.js';
import { openIndex, type CatalogChange, type IndexStore } from '../src/store/index.js';
import { ClipLikeVectors, vectorRows } from './clip-like-vectors.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '50000' },
    added: { type: 'string', default: '5000' },
    slice: { type: 'string', default: '20' },
    engine: { type: 'string', default: 'usearch' },
  },
});
const items = Number(values.items);
const added = Number(values.added);
const dim = 512;
const vectors = new ClipLikeVectors({ items: items + 2 * added, dim, seed: 3 });
const model: ModelInfo = { id: 'bench/catch-up', dir: path.join(os.tmpdir(), 'no-model'), variant: 'fp32', fingerprint: 'c'.repeat(64), embeddingDim: dim, contextLength: 77, imageSize: 224, logitScale: undefined };

const puts = (from: number, count: number): CatalogChange[] =>
  vectorRows(vectors.images(from, count), dim).map((vector, i) => ({
    kind: 'put',
    file: { root: '/bench', path: `${from + i}.jpg`, bytes: 1, mtimeMs: 1, contentHash: `h${from + i}`, width: 256, height: 256, format: 'jpeg' },
    vector,
  }));

/** Queries until the reader has applied `expected` items: latencies and the time it took. */
async function catchUp(reader: IndexStore, expected: number): Promise<Record<string, number>> {
  const queries = vectorRows(vectors.texts(0, 50), dim);
  const latencies: number[] = [];
  const started = performance.now();
  do {
    const t = performance.now();
    await reader.search(queries[latencies.length % queries.length]!, 10);
    latencies.push(performance.now() - t);
  } while ((await reader.countItems()) < expected);
  const total = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { queries: latencies.length, slowestMs: Math.round(latencies.at(-1)!), medianMs: Number(latencies[latencies.length >> 1]!.toFixed(2)), catchUpMs: Math.round(total) };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-catch-up-'));
try {
  const writer = await openIndex(dir, { model, create: true, engine: { name: values.engine as 'usearch' | 'hnswlib' }, checkpointIntervalMs: 1e9 });
  for (let done = 0; done < items; done += 2000) await writer.commit(puts(done, Math.min(2000, items - done)));
  await writer.flush();
  const results: Record<string, unknown> = {};
  for (const [mode, slice] of [['allAtOnce', undefined], ['inSlices', Number(values.slice)]] as const) {
    const reader = await openIndex(dir, { readonly: true, refreshIntervalMs: 0, ...(slice === undefined ? {} : { replaySliceMs: slice }) });
    const before = await reader.countItems();
    await writer.commit(puts(before, added));
    results[mode] = await catchUp(reader, before + added);
    await reader.close();
  }
  await writer.close();
  console.log(JSON.stringify({ bench: 'catch-up', items, added, engine: values.engine, sliceMs: Number(values.slice), loadAverage1m: os.loadavg()[0], ...results }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
