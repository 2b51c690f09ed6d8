/**
 * Every cache of the search path is bounded by entries and by bytes: the text embeddings of the
 * searcher, the compiled globs and the allowed-item sets of the store. 20,000 requests
 * with distinct 480-character globs leave the heap within the configured bounds (measured in a
 * child process that can force garbage collection).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { GLOB_CACHE_LIMITS } from '../../src/store/embedded/catalog-filter.js';
import { SELECTION_CACHE_LIMITS } from '../../src/store/embedded/search-planner.js';
import type { IndexStore } from '../../src/store/index.js';
import { REPO_ROOT } from '../fixtures/cli.js';
import { buildTestIndex, type TestIndex } from './fixture.js';

const GLOB_REQUESTS = 20_000;
/** Heap the process may keep beyond the caches' own bounds (V8's own tables, compiled code). */
const SLACK_BYTES = 8 * 1024 * 1024;

let root: string;
let fixture: TestIndex;
let store: IndexStore;

/** A 480-character glob, distinct for each i. */
const glob = (i: number) => `**/${'ab'.repeat(115)}${i}*{x,y}/${'cd'.repeat(110)}*.png`.slice(0, 480);

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-cache-bounds-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

interface CacheUse {
  entries: number;
  bytes: number;
}

describe('cache bounds', () => {
  it('keeps at most the configured entries and bytes of text embeddings', async () => {
    const searcher = new Searcher(fixture.encoder, store, { textCacheSize: 100, textCacheBytes: 64 * 1024 });
    for (let i = 0; i < 300; i++) await searcher.search({ terms: [{ kind: 'text', text: `river ${i} ${'x'.repeat(900)}`, weight: 1 }], k: 1 });
    const use = searcher.textCacheUse();
    expect(use.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(use.entries).toBeGreaterThan(10);
    expect(use.entries).toBeLessThan(100); // the byte bound bites first with these long texts
    // a cached text is answered without the encoder
    const runs = fixture.encoder.runCount.text;
    await searcher.search({ terms: [{ kind: 'text', text: `river 299 ${'x'.repeat(900)}`, weight: 1 }], k: 1 });
    expect(fixture.encoder.runCount.text).toBe(runs);
  });

  it(`keeps at most the configured entries and bytes of compiled globs and allowed-item sets over ${GLOB_REQUESTS} distinct globs`, async () => {
    const searcher = new Searcher(fixture.encoder, store);
    for (let i = 0; i < GLOB_REQUESTS; i++) await searcher.search({ terms: [{ kind: 'text', text: 'river', weight: 1 }], k: 3, filter: { pathGlob: glob(i) } });
    const { caches } = (await store.stats()).details as { caches: { selections: CacheUse; globs: CacheUse } };
    expect(caches.globs.entries).toBeLessThanOrEqual(GLOB_CACHE_LIMITS.entries);
    expect(caches.globs.bytes).toBeLessThanOrEqual(GLOB_CACHE_LIMITS.bytes);
    expect(caches.selections.entries).toBeLessThanOrEqual(SELECTION_CACHE_LIMITS.entries);
    expect(caches.selections.bytes).toBeLessThanOrEqual(SELECTION_CACHE_LIMITS.bytes);
  }, 120_000);

  it(`leaves the heap within the cache bounds after ${GLOB_REQUESTS} distinct glob requests`, () => {
    const script = path.join(root, 'heap.mts');
    writeFileSync(
      script,
      `
      import { Searcher } from ${JSON.stringify(path.join(REPO_ROOT, 'src/search/index.ts'))};
      import { buildTestIndex } from ${JSON.stringify(path.join(REPO_ROOT, 'test/search/fixture.ts'))};
      const fixture = await buildTestIndex(${JSON.stringify(path.join(root, 'child'))});
      const store = await fixture.open();
      const searcher = new Searcher(fixture.encoder, store);
      const glob = ${glob.toString()};
      const heap = () => { global.gc(); global.gc(); return process.memoryUsage().heapUsed; };
      const search = (i) => searcher.search({ terms: [{ kind: 'text', text: 'river', weight: 1 }], k: 3, filter: { pathGlob: glob(i) } });
      for (let i = 0; i < 500; i++) await search(-1 - i);
      const before = heap();
      for (let i = 0; i < ${GLOB_REQUESTS}; i++) await search(i);
      console.log(JSON.stringify({ grewBytes: heap() - before }));
    `,
    );
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { encoding: 'utf8', cwd: REPO_ROOT });
    expect(child.status, child.stderr).toBe(0);
    const { grewBytes } = JSON.parse(child.stdout.trim().split('\n').pop()!) as { grewBytes: number };
    expect(grewBytes).toBeLessThan(GLOB_CACHE_LIMITS.bytes + SLACK_BYTES);
  }, 180_000);
});
