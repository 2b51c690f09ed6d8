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

/** How a stored vector is damaged: its first component a half-precision NaN (0x7e00), every component zero, or its blob cut short, as bit rot or an older rsclip could leave it. */
type Damage = 'NaN' | 'zeros' | 'cut short';

function damageVector(index: string, id: number, damage: Damage = 'NaN'): void {
  const catalog = new Database(path.join(index, 'catalog.sqlite'));
  let blob = catalog.prepare('SELECT embedding FROM vectors WHERE item_id = ?').pluck().get(id) as Buffer;
  if (damage === 'NaN') blob.writeUInt16LE(0x7e00, 0);
  else if (damage === 'zeros') blob.fill(0);
  else blob = blob.subarray(0, blob.length - 2);
  catalog.prepare('UPDATE vectors SET embedding = ? WHERE item_id = ?').run(blob, id);
  catalog.close();
}

it('leaves a stored NaN vector out of exact search, and refuses to copy it, naming its item', async () => {
  const index = path.join(work, 'index');
  const writer = await openIndex(index, { model, create: true });
  const [, damaged] = await writer.commit([put(0), put(1), put(2)]);
  await writer.close();
  const id = damaged!.itemIds[0]!;
  damageVector(index, id);

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

it('leaves a damaged stored vector out of exact search and of the re-rank of a graph search, instead of failing or ranking it with score 0', async () => {
  for (const damage of ['NaN', 'zeros', 'cut short'] as const) {
    const index = path.join(work, `search-${damage.replace(' ', '-')}`);
    const writer = await openIndex(index, { model, create: true, engine: { name: 'usearch', quantization: 'i8' } });
    const [, damaged] = await writer.commit([put(0), put(1), put(2)]);
    await writer.close();
    const id = damaged!.itemIds[0]!;
    damageVector(index, id, damage);
    const reader = await openIndex(index, { readonly: true });
    for (const exact of [false, true]) {
      // the query is the damaged item's own vector: whole, it would rank first
      const hits = await reader.search(vectorOf(1), 3, { exact });
      expect(hits.map((r) => r.id), `${damage}, exact ${exact}`).not.toContain(id);
      expect(hits).toHaveLength(2);
      expect(hits.every((r) => Number.isFinite(r.score) && r.score !== 0)).toBe(true);
    }
    await reader.close();
  }
});

it('drops a damaged stored vector at doctor and counts the vectors it kept, not the graph node it dropped, in the vector index of each engine', async () => {
  for (const engine of ['usearch', 'hnswlib', 'ivf'] as const) {
    for (const damage of ['NaN', 'zeros'] as const) {
      const index = path.join(work, `doctor-${engine}-${damage}`);
      const writer = await openIndex(index, { model, create: true, engine: { name: engine } });
      const [, damaged] = await writer.commit([put(0), put(1), put(2)]);
      await writer.close();
      damageVector(index, damaged!.itemIds[0]!, damage);
      // doctor drops it, and says so; a later doctor repairs nothing, and finds two vectors in the catalog and two in the vector index
      for (const round of [1, 2]) {
        const store = await openIndex(index);
        const report = await store.verify();
        await store.close();
        expect(report.ok).toBe(true);
        expect(report.repaired, `${engine}, ${damage}, doctor ${round}`).toEqual(round === 1 ? ['1 invalid vectors dropped; those items are re-embedded by the next `rsclip index`'] : []);
        expect(report.checked).toMatchObject({ vectors: 2, hnswLabels: 2 });
      }
    }
  }
});
