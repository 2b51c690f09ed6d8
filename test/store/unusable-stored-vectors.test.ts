/**
 * A catalog holding a vector no store takes now (written before vectors were checked, or
 * damaged): exact search leaves it out instead of ranking its NaN score first, a search from it
 * says what is wrong, and `index copy` refuses it naming the item, before the target holds any of
 * its page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import type { ClipEncoder } from '../../src/model/index.js';
import { Searcher } from '../../src/search/index.js';
import { copyIndex, openIndex } from '../../src/store/index.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { model, put, vectorOf } from './write-only-fixtures.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-unusable-vectors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The first component of item `id`'s stored vector made a half-precision NaN (0x7e00), as bit rot or an older rsclip could leave it. */
function storeNaN(index: string, id: number): void {
  const catalog = new Database(path.join(index, 'catalog.sqlite'));
  const blob = catalog.prepare('SELECT embedding FROM vectors WHERE item_id = ?').pluck().get(id) as Buffer;
  blob.writeUInt16LE(0x7e00, 0);
  catalog.prepare('UPDATE vectors SET embedding = ? WHERE item_id = ?').run(blob, id);
  catalog.close();
}

it('leaves a stored NaN vector out of exact search, and refuses to copy it, naming its item', async () => {
  const index = path.join(work, 'index');
  const writer = await openIndex(index, { model, create: true });
  const [, damaged] = await writer.commit([put(0), put(1), put(2)]);
  await writer.close();
  const id = damaged!.itemIds[0]!;
  storeNaN(index, id);

  const reader = await openIndex(index, { readonly: true });
  const exact = await reader.search(vectorOf(1), 3, { exact: true });
  expect(exact.map((r) => r.id)).not.toContain(id);
  expect(exact.every((r) => Number.isFinite(r.score))).toBe(true);
  // a search that starts from it says what is wrong with it (no model is run for an id term)
  const searcher = new Searcher({ info: model } as unknown as ClipEncoder, reader);
  await expectRsclipError(searcher.search({ terms: [{ kind: 'id', id, weight: 1 }] }), 'INDEX_CORRUPT', new RegExp(`the stored vector of image ${id} has NaN at position 0`));
  await reader.close();

  await expectRsclipError(copyIndex(index, path.join(work, 'copy')), 'INDEX_CORRUPT', new RegExp(`the stored vector of item ${id} has NaN at position 0, which no index takes`));
});

it('counts the vectors doctor kept, not the graph node it dropped with an invalid one, in the vector index of each engine', async () => {
  for (const engine of ['usearch', 'hnswlib', 'ivf'] as const) {
    const index = path.join(work, `doctor-${engine}`);
    const writer = await openIndex(index, { model, create: true, engine: { name: engine } });
    const [, damaged] = await writer.commit([put(0), put(1), put(2)]);
    await writer.close();
    storeNaN(index, damaged!.itemIds[0]!);
    // doctor drops it, and says so; a later doctor finds two vectors in the catalog and two in the vector index
    for (const round of [1, 2]) {
      const store = await openIndex(index);
      const report = await store.verify();
      await store.close();
      expect(report.ok).toBe(true);
      if (round === 1) expect(report.repaired).toContain('1 invalid vectors dropped; those items are re-embedded by the next `rsclip index`');
      expect(report.checked).toMatchObject({ vectors: 2, hnswLabels: 2 });
    }
  }
});
