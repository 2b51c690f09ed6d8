import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { indexArchive } from '../../src/indexer/index.js';
import { openIndex } from '../../src/store/index.js';
import { describeShared, sharedPath } from '../fixtures/shared.js';
import { tinyModelDir } from '../fixtures/model.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-rsicd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeShared('indexing the RSICD test split', () => {
  it('indexes all 1,093 images and each finds itself first by its own vector', { timeout: 240_000 }, async () => {
    const indexDir = path.join(work, 'index');
    const summary = await indexArchive({
      roots: [sharedPath('datasets/rsicd-test/images')],
      index: indexDir,
      model: await tinyModelDir(),
      fields: sharedPath('datasets/rsicd-test/labels.tsv'),
      threads: 1,
    });
    expect(summary).toMatchObject({ scanned: 1093, added: 1093, errors: 0, interrupted: false });
    expect(summary.fields).toMatchObject({ records: 1093, unmatched: 0 });
    const store = openIndex(indexDir, { readonly: true });
    try {
      const ids = store.filterIds({});
      expect(ids).toHaveLength(1093);
      expect(store.stats().hnsw.size).toBe(1093);
      let misses = 0;
      for (const id of ids) {
        const vector = store.getVector(id)!;
        const [best] = store.searchBestFirst(vector, 1, { ef: 64 });
        // identical files share a vector: a tie with a byte-identical twin counts as finding itself
        if (best!.id !== id && store.getImage(best!.id)!.contentHash !== store.getImage(id)!.contentHash) misses++;
      }
      expect(misses).toBe(0);
      expect(store.filterIds({ fields: { label: 'airport' } }).length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
