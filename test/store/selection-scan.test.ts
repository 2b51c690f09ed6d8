/**
 * A reader opened for a server (`scanFiltersOffThread`) reads the items a filter allows in a
 * worker thread with its own connection, so that a long catalog scan never holds up the event
 * loop: the same answers as the scan on the main thread, read once per filter and commit, and
 * read again when another process commits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { SelectionScanner } from '../../src/store/embedded/selection-scan.js';
import { openIndex, type CatalogChange, type IndexStore } from '../../src/store/index.js';
import { axis, MODEL, newFile } from './backends.js';

let parent: string;
let location: string;

beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-scan-'));
  location = path.join(parent, 'index');
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

const scansOf = async (store: IndexStore): Promise<number> =>
  ((await store.stats()).details as { caches: { selections: { scannedOffThread: number } } }).caches.selections.scannedOffThread;

const puts = (folder: string, from: number, count: number): CatalogChange[] =>
  Array.from({ length: count }, (_, i) => ({ kind: 'put', file: newFile(`${folder}/${from + i}.jpg`), vector: axis(from + i, 0.1 * (i % 7)) }));

describe('filter scans off the event loop (read-only stores of a server)', () => {
  it('give the answers of the scan on the main thread, once per filter and commit, again after another process commits', async () => {
    const writer = await openIndex(location, { model: MODEL, create: true });
    await writer.commit([...puts('a', 0, 60), ...puts('b', 60, 60)]);
    const inThread = await openIndex(location, { readonly: true, refreshIntervalMs: 0, scanFiltersOffThread: true });
    const inline = await openIndex(location, { readonly: true, refreshIntervalMs: 0 });
    try {
      const folderA = { filter: { folder: 'a' } };
      const expected = await inline.listItemIds(folderA);
      expect(expected).toHaveLength(60);
      expect(await scansOf(inline)).toBe(0);

      expect(await inThread.listItemIds(folderA)).toEqual(expected);
      expect(await scansOf(inThread)).toBe(1);
      // the same filter at the same commit is answered from the cache
      expect(await inThread.countItems(folderA)).toBe(60);
      const hits = await inThread.search(axis(3), 5, folderA);
      expect(hits).toEqual(await inline.search(axis(3), 5, folderA));
      expect(hits.every((h) => expected.includes(h.id))).toBe(true);
      expect(await scansOf(inThread)).toBe(1);
      expect(await inThread.countItems({ filter: { pathGlob: 'b/*.jpg' } })).toBe(60);
      expect(await scansOf(inThread)).toBe(2);

      const [added] = await writer.commit(puts('a', 120, 1));
      expect(await inThread.listItemIds(folderA)).toEqual([...expected, added!.itemIds[0]]);
      expect(await scansOf(inThread)).toBe(3);
    } finally {
      await inThread.close();
      await inline.close();
      await writer.close();
    }
  });

  it("report a failed scan with SQLite's code, which decides what the store reports (a damaged catalog: INDEX_CORRUPT)", async () => {
    await (await openIndex(location, { model: MODEL, create: true })).close();
    const scanner = new SelectionScanner(path.join(location, CATALOG_FILE));
    try {
      await expect(scanner.scan({ where: 'no_such_column = 1', params: [] })).rejects.toMatchObject({ code: 'SQLITE_ERROR', message: expect.stringMatching(/no such column/) });
      expect(scanner.scans).toBe(0);
    } finally {
      await scanner.close();
    }
  });
});
