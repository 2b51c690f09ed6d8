import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { describeShared, sharedPath } from '../fixtures/shared.js';
import { tinyModelDir } from '../fixtures/model.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-rsicd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeShared('indexing the RSICD test split', () => {
  it('indexes all 1,093 images and each finds itself first by its own vector', { timeout: 240_000 }, async () => {
    const indexDir = path.join(work, 'index');
    const summary = await indexInto({
      roots: [sharedPath('datasets/rsicd-test/images')],
      index: indexDir,
      model: await tinyModelDir(),
      fields: sharedPath('datasets/rsicd-test/labels.tsv'),
      threads: 1,
    });
    expect(summary).toMatchObject({ scanned: 1093, added: 1093, errors: 0, interrupted: false });
    expect(summary.fields).toMatchObject({ records: 1093, unmatched: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    try {
      const ids = await store.listItemIds();
      expect(ids).toHaveLength(1093);
      expect(await store.stats()).toMatchObject({ details: { hnsw: { size: 1093 } } });
      const vectors = await store.getVectors(ids);
      const hashes = new Map((await store.getItems(ids)).map((item) => [item.id, item.file.contentHash]));
      let misses = 0;
      for (const id of ids) {
        const [best] = await store.search(vectors.get(id)!, 1, { ef: 64 });
        // identical files share a vector: a tie with a byte-identical twin counts as finding itself
        if (best!.id !== id && hashes.get(best!.id) !== hashes.get(id)) misses++;
      }
      expect(misses).toBe(0);
      expect((await store.listItemIds({ filter: { fields: { label: 'airport' } } })).length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  // usearch gave each new vector the node of the item's old one, and the nodes that one linked to
  // could lose every in-link (graph-relink.ts): doctor inserted 11 of these 500 items again
  it('leaves doctor nothing to insert again after an update run that gives 400 of 500 files other images', { timeout: 240_000 }, async () => {
    const images = sharedPath('datasets/rsicd-test/images');
    const names = readdirSync(images).sort();
    const archive = path.join(work, 'changing');
    mkdirSync(archive);
    const indexDir = path.join(work, 'updated');
    const model = await tinyModelDir();
    const putImage = (file: number, image: number) => copyFileSync(path.join(images, names[image]!), path.join(archive, `tile${file}.jpg`));
    for (let i = 0; i < 500; i++) putImage(i, i);
    await indexInto({ roots: [archive], index: indexDir, model, threads: 1 });
    for (let i = 0; i < 400; i++) putImage(i, 500 + i);
    const summary = await indexInto({ roots: [archive], index: indexDir, model, threads: 1 });
    expect(summary).toMatchObject({ updated: 400, errors: 0 });
    const store = await openIndex(indexDir, {});
    try {
      expect(await store.verify()).toMatchObject({ repaired: [], unrepaired: [] });
    } finally {
      await store.close();
    }
  });
});
