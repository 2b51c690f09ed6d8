/**
 * A reader that fell far behind the catalog (idle while another process indexed) loads the
 * writer's newer graph file and replays only what came after it, instead of adding every change
 * to its own graph on the event loop; with no newer file it adds the changes as before. Either
 * way it answers as the catalog says, its exact search included.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINE_DEFAULTS, openIndex, type CatalogChange, type IndexStore } from '../../src/store/index.js';
import { axis, MODEL, newFile } from './backends.js';

let parent: string;
let location: string;

beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-reload-'));
  location = path.join(parent, 'index');
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

const reloadsOf = async (store: IndexStore): Promise<number> => ((await store.stats()).details as { graphFileReloads: number }).graphFileReloads;

/** Files from..from+count-1, each leaning towards an axis by its number. */
const puts = (from: number, count: number): CatalogChange[] =>
  Array.from({ length: count }, (_, i) => ({ kind: 'put', file: newFile(`${from + i}.jpg`), vector: axis(from + i, 0.01 * (from + i)) }));

describe.each([ENGINE_DEFAULTS.usearch, ENGINE_DEFAULTS.hnswlib])('a reader far behind the catalog ($name)', (engine) => {
  it('loads the newer graph file when the writer checkpointed, and adds the changes itself when it did not', async () => {
    const writer = await openIndex(location, { model: MODEL, create: true, engine });
    await writer.commit(puts(0, 10));
    await writer.flush();
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 0 });
    try {
      // the reader's exact index follows its graph from here
      expect((await reader.search(axis(3, 0.03), 1, { exact: true }))[0]).toMatchObject({ score: expect.closeTo(1, 3) });

      const [far] = (await writer.commit(puts(10, 300))).slice(-1);
      await writer.flush();
      expect((await reader.search(axis(309, 3.09), 1))[0]!.id).toBe(far!.itemIds[0]);
      expect(await reloadsOf(reader)).toBe(1);
      expect((await reader.search(axis(309, 3.09), 1, { exact: true }))[0]!.id).toBe(far!.itemIds[0]);
      expect(await reader.countItems()).toBe(310);

      // not checkpointed: applied change by change
      const [later] = (await writer.commit(puts(310, 150))).slice(-1);
      expect((await reader.search(axis(459, 4.59), 1, { exact: true }))[0]!.id).toBe(later!.itemIds[0]);
      expect(await reloadsOf(reader)).toBe(1);
      expect(await reader.countItems()).toBe(460);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});

describe('a reader that catches up in slices (a server)', () => {
  it('applies a bounded share of another process commits per request, in order, until it has them all', async () => {
    const writer = await openIndex(location, { model: MODEL, create: true });
    await writer.commit(puts(0, 10));
    await writer.flush();
    // a zero budget: one step of changes per request
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 0, replaySliceMs: 0 });
    const behind = async (): Promise<number> => ((await reader.stats()).details as { changesNotYetApplied: number }).changesNotYetApplied;
    try {
      const committed = await writer.commit(puts(10, 200));
      expect(await reader.countItems()).toBe(10 + 32);
      expect(await behind()).toBe(200 - 2 * 32);

      // removed while its addition still waits in the backlog: the later state wins
      const removed = committed[140]!;
      await writer.commit([{ kind: 'remove', fileId: removed.fileId }]);
      let requests = 0;
      while ((await behind()) > 0) requests++;
      expect(requests).toBeLessThanOrEqual(Math.ceil(200 / 32));
      expect(await reader.countItems()).toBe(209);
      expect((await reader.search(axis(150, 1.5), 3)).map((h) => h.id)).not.toContain(removed.itemIds[0]);
      expect((await reader.search(axis(209, 2.09), 1))[0]!.id).toBe(committed[199]!.itemIds[0]);
    } finally {
      await reader.close();
      await writer.close();
    }
  });
});
