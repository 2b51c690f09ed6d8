/**
 * Run by search-args.test.ts in a process of its own: every search with a k or ef that is not a
 * whole number (NaN, a string, a fraction), at each entry (Searcher.search, a store's search, each
 * graph engine). Before these were checked, a NaN reached usearch's addon, which aborts the whole
 * process (exit 134) rather than throwing. Prints one JSON line per case, then "survived".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isRsclipError } from '../../src/errors.js';
import { Searcher } from '../../src/search/index.js';
import { ENGINE_DEFAULTS } from '../../src/store/engines.js';
import { HnswIndex } from '../../src/store/hnsw-index.js';
import { UsearchIndex } from '../../src/store/usearch-index.js';
import { buildTestIndex, conceptVector, DIM } from '../search/fixture.js';

const root = mkdtempSync(path.join(tmpdir(), 'rsclip-search-args-'));
try {
  const fixture = await buildTestIndex(root);
  const store = await fixture.open();
  const searcher = new Searcher(fixture.encoder, store);
  const river = { kind: 'text' as const, text: 'river', weight: 1 };
  const query = conceptVector('river');
  const usearch = UsearchIndex.create(DIM, ENGINE_DEFAULTS.usearch);
  const hnsw = HnswIndex.create(DIM, ENGINE_DEFAULTS.hnswlib);
  for (let id = 1; id <= 6; id++) {
    usearch.add(id, conceptVector('river', id / 10));
    hnsw.add(id, conceptVector('river', id / 10));
  }
  const cases: [string, () => unknown][] = [
    ['searcher ef NaN', () => searcher.search({ terms: [river], ef: NaN })],
    ['searcher ef "x"', () => searcher.search({ terms: [river], ef: 'x' as unknown as number })],
    ['searcher ef 0', () => searcher.search({ terms: [river], ef: 0 })],
    ['searcher ef -5', () => searcher.search({ terms: [river], ef: -5 })],
    ['searcher ef 4097', () => searcher.search({ terms: [river], ef: 4097 })],
    ['store k NaN', () => store.search(query, NaN)],
    ['store k 1.5', () => store.search(query, 1.5)],
    ['store k -3', () => store.search(query, -3)],
    ['store ef NaN', () => store.search(query, 3, { ef: NaN })],
    ['store ef "x"', () => store.search(query, 3, { ef: 'x' as unknown as number })],
    ['usearch k NaN', () => usearch.searchBestFirst(query, NaN)],
    ['usearch ef NaN', () => usearch.searchBestFirst(query, 3, { ef: NaN })],
    ['usearch ef 2.5', () => usearch.searchBestFirst(query, 3, { ef: 2.5 })],
    ['hnswlib k NaN', () => hnsw.searchBestFirst(query, NaN)],
    ['hnswlib ef NaN', () => hnsw.searchBestFirst(query, 3, { ef: NaN })],
  ];
  for (const [name, run] of cases) {
    try {
      await run();
      console.log(JSON.stringify({ name, result: 'returned' }));
    } catch (error) {
      console.log(JSON.stringify({ name, result: isRsclipError(error) ? error.code : 'other', message: (error as Error).message }));
    }
  }
  // the engines and the store still answer a whole k and ef
  const sane = [(await searcher.search({ terms: [river], k: 2, ef: 8 })).hits.length, (await store.search(query, 2, { ef: 8 })).length, usearch.searchBestFirst(query, 2, { ef: 8 }).length, hnsw.searchBestFirst(query, 2, { ef: 8 }).length];
  console.log(JSON.stringify({ name: 'whole k and ef', result: sane.join(',') }));
  await store.close();
  console.log('survived');
} finally {
  rmSync(root, { recursive: true, force: true });
}
