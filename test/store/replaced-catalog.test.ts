/**
 * A reader (a server) follows the catalog file at its index's path: one replaced there
 * (`doctor --repair` renames a rebuilt catalog in, keeping the damaged one aside; an index deleted
 * and built again) is opened anew at the next look, and the old one's files are let go; while no
 * catalog is there, or one of another model, reads fail with a line that says so.
 */
import { existsSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { GRAPH_FILE } from '../../src/store/embedded/graph-sync.js';
import { ENGINE_DEFAULTS, openIndex, type IndexStore } from '../../src/store/index.js';
import { axis, MODEL, newFile } from './backends.js';

let parent: string;
let location: string;

beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-replaced-'));
  location = path.join(parent, 'index');
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

/** A new index at `location` holding `names`, each leaning towards an axis by its place. */
async function buildIndex(names: string[], model = MODEL): Promise<void> {
  const writer = await openIndex(location, { model, create: true, engine: ENGINE_DEFAULTS.usearch });
  await writer.commit(names.map((name, i) => ({ kind: 'put', file: newFile(name), vector: axis(i) })));
  await writer.close();
}

const pathsFound = async (store: IndexStore): Promise<string[]> => {
  const hits = await store.search(axis(0), 10);
  return (await store.getItems(hits.map((h) => h.id))).map((i) => i.file.path).sort();
};

/** The files this process holds open whose path contains `part` (Linux: /proc/self/fd). */
function openFilesLike(part: string): string[] {
  const fds = '/proc/self/fd';
  if (!existsSync(fds)) return [];
  return readdirSync(fds).flatMap((fd) => {
    try {
      const target = readlinkSync(path.join(fds, fd));
      return target.includes(part) ? [target] : [];
    } catch {
      return [];
    }
  });
}

describe('a reader whose catalog file is replaced', () => {
  it('reads the catalog renamed in (as doctor --repair does) and lets the old one go', async () => {
    await buildIndex(['a.png', 'b.png']);
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 0 });
    try {
      expect(await pathsFound(reader)).toEqual(['a.png', 'b.png']);
      // the damaged catalog kept aside under another name, a new one in its place, then a file indexed into it
      const keptAs = path.join(location, `${CATALOG_FILE}.damaged-then`);
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(path.join(location, `${CATALOG_FILE}${suffix}`))) renameSync(path.join(location, `${CATALOG_FILE}${suffix}`), `${keptAs}${suffix}`);
      }
      await buildIndex(['c.png']);

      expect(await pathsFound(reader)).toEqual(['c.png']);
      expect(await reader.countFiles('ok')).toBe(1);
      expect((await reader.stats()).images.ok).toBe(1);
      expect(openFilesLike('.damaged-then')).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('fails its reads while the index is deleted, and reads the index built there again', async () => {
    await buildIndex(['a.png', 'b.png']);
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 0 });
    try {
      expect(await reader.countFiles('ok')).toBe(2);
      rmSync(location, { recursive: true });
      await expect(reader.countFiles('ok')).rejects.toMatchObject({
        code: 'INDEX_UNAVAILABLE',
        message: `index ${location} is gone: its ${CATALOG_FILE} was removed while this process read it`,
      });
      await expect(reader.search(axis(0), 3)).rejects.toMatchObject({ code: 'INDEX_UNAVAILABLE' });

      await buildIndex(['c.png', 'd.png', 'e.png']);
      expect(await reader.countFiles('ok')).toBe(3);
      expect(await pathsFound(reader)).toEqual(['c.png', 'd.png', 'e.png']);
      // catalog.sqlite and its -wal and -shm (a mapped graph file is let go when it is garbage-collected: usearch has no close)
      expect(openFilesLike('(deleted)').filter((f) => f.includes(CATALOG_FILE))).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('refuses to read an index of another model built in its place', async () => {
    await buildIndex(['a.png']);
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 0 });
    try {
      rmSync(location, { recursive: true });
      await buildIndex(['b.png'], { ...MODEL, id: 'other', fingerprint: 'other-fingerprint' });
      await expect(reader.countFiles('ok')).rejects.toMatchObject({ code: 'INDEX_INCOMPATIBLE', message: expect.stringMatching(/was replaced by an index of model other/), hint: 'restart it to read the new index' });
    } finally {
      await reader.close();
    }
  });

  it('looks at the catalog file once per refresh interval, not at every read', async () => {
    await buildIndex(['a.png']);
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 60_000 });
    try {
      rmSync(location, { recursive: true });
      // within the interval the reader answers from what it holds
      expect(await reader.countFiles('ok')).toBe(1);
    } finally {
      await reader.close();
    }
  });
});

describe('doctor on an index whose graph file was deleted', () => {
  it('says that it built the graph file again', async () => {
    await buildIndex(['a.png', 'b.png']);
    rmSync(path.join(location, GRAPH_FILE));
    const doctor = await openIndex(location, { catalogCheck: 'full' });
    try {
      const report = await doctor.verify();
      expect(report).toMatchObject({ ok: true, repaired: ['HNSW file missing; rebuilt from the catalog'] });
    } finally {
      await doctor.close();
    }
    expect(existsSync(path.join(location, GRAPH_FILE))).toBe(true);
  });
});
