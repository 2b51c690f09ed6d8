/**
 * One contract for every IndexStore back end (hono's shared router suite): what the indexer,
 * the searcher, the server and the evaluation rely on. Tests of the embedded back end's own
 * files (write lock, graph file, catalog schema) are marked embedded-only.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as library from '../../src/index.js';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { GRAPH_FILE } from '../../src/store/embedded/graph-sync.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/embedded/schema.js';
import { LOCK_FILE } from '../../src/store/embedded/write-lock.js';
import { loadGraph } from '../../src/store/engines.js';
import { fileIdentity } from '../../src/store/file-identity.js';
import * as store from '../../src/store/index.js';
import type { CatalogChange, CommittedChange, IndexStore, NewItem } from '../../src/store/index.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { axis, BACKENDS, DIM, MODEL, newFile } from './backends.js';
import { SCHEMA_1 } from './frozen-schemas.js';

describe.each(BACKENDS)('IndexStore contract: $name', (backend) => {
  let location: string;
  let dispose: () => void;
  const open: typeof backend.open = (where, options) => backend.open(where, options);
  beforeAll(() => backend.start?.());
  afterAll(() => backend.stop?.());
  beforeEach(() => ({ location, dispose } = backend.newLocation()));
  afterEach(() => dispose());

  /** A writable index with `changes` committed: what each change wrote, and the first item id of each (0 when none). */
  async function withChanges(changes: CatalogChange[]): Promise<{ store: IndexStore; results: CommittedChange[]; ids: number[] }> {
    const store = await open(location, { model: MODEL, create: true });
    const results = await store.commit(changes);
    return { store, results, ids: results.map((r) => r.itemIds[0] ?? 0) };
  }

  it('refuses a missing index unless asked to create one, and needs a model to create', async () => {
    await expectRsclipError(open(location), 'INDEX_NOT_FOUND');
    await expectRsclipError(open(location, { readonly: true }), 'INDEX_NOT_FOUND');
    await expectRsclipError(open(location, { create: true }), 'BAD_INPUT');
  });

  it('records the model, the engine and the schema version, and refuses another model by id, variant and fingerprint', async () => {
    // a build parameter the engine takes (ivf takes none)
    const asked = backend.engine.name === 'ivf' ? {} : { M: 8 };
    const store = await open(location, { model: MODEL, create: true, engine: asked });
    expect(store.meta).toMatchObject({
      modelId: 'test/model-a',
      modelFingerprint: MODEL.fingerprint,
      embeddingDim: DIM,
      metric: 'cosine',
      engine: { ...backend.engine, ...asked },
      schemaVersion: expect.any(Number),
    });
    expect(store.describe().location).toBe(location);
    // a vector binds the index to its model (an embedded index with nothing committed takes another: below)
    await store.commit([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }]);
    await store.close();
    const other = { ...MODEL, id: 'test/model-b', variant: 'int8' as const, fingerprint: 'b'.repeat(64) };
    await expectRsclipError(
      open(location, { model: other, readonly: true }),
      'INDEX_INCOMPATIBLE',
      new RegExp(`^index ${location.replace(/[\\/.?]/g, '.')} was built with model test/model-a \\(fp32, aaaaaaaaaaaa\\); you asked for test/model-b \\(int8, bbbbbbbbbbbb\\)$`),
    );
    await expectRsclipError(open(location, { model: other }), 'INDEX_INCOMPATIBLE', /built with model test\/model-a/);
  });

  it('remembers the model directory and variant of the last update, for queries without --model', async () => {
    await (await open(location, { model: MODEL, create: true })).close();
    await (await open(location, { model: { ...MODEL, dir: '/models/moved' } })).close();
    const reader = await open(location, { readonly: true });
    expect(reader.meta).toMatchObject({ modelDir: '/models/moved', modelVariant: 'fp32' });
    await reader.close();
  });

  it('keeps files, items and vectors in step through puts, failures and removals', async () => {
    const { store, results, ids } = await withChanges([
      { kind: 'put', file: newFile('a.jpg'), vector: axis(0) },
      { kind: 'put', file: newFile('b.jpg'), vector: axis(1) },
      { kind: 'fail', file: newFile('bad.jpg'), error: 'truncated JPEG' },
    ]);
    expect(results).toEqual([
      { fileId: expect.any(Number), itemIds: [expect.any(Number)] },
      { fileId: expect.any(Number), itemIds: [expect.any(Number)] },
      { fileId: expect.any(Number), itemIds: [] },
    ]);
    const [a, b] = ids as [number, number];
    const [, fileB, fileBad] = results.map((r) => r.fileId) as [number, number, number];
    await store.commit([{ kind: 'put', file: newFile('a.jpg', { contentHash: 'new' }), vector: axis(2) }]);
    expect((await store.search(axis(2), 1))[0]!.id).toBe(a); // the same path keeps its item id
    await store.commit([{ kind: 'remove', fileId: fileB }]);
    expect((await store.search(axis(1), 5)).map((r) => r.id)).toEqual([a]);
    const items = await store.getItems([999, b, a]);
    expect(items.map((item) => [item.id, item.file.status])).toEqual([
      [b, 'removed'],
      [a, 'ok'],
    ]);
    expect(items[1]).toMatchObject({ key: 'whole', window: { x: 0, y: 0, width: 224, height: 224, scale: 1 }, place: null, file: { path: 'a.jpg', complete: true } });
    expect([...(await store.getVectors([a, b])).keys()]).toEqual([a]);
    expect(await store.findReusableFile('new', null)).toMatchObject({ width: 224, height: 224, format: 'jpeg', items: [{ key: 'whole', vector: expect.any(Float32Array) }] });
    expect(await store.findReusableFile('new', 'tiles')).toBeUndefined();
    expect(await store.findFileByPath('/archive/bad.jpg')).toMatchObject({ id: fileBad, status: 'error', error: 'truncated JPEG', path: 'bad.jpg', absolutePath: expect.stringMatching(/archive.bad\.jpg$/) });
    expect({ ok: await store.countFiles('ok'), error: await store.countFiles('error'), removed: await store.countFiles('removed'), all: await store.countFiles() }).toEqual({ ok: 1, error: 1, removed: 1, all: 3 });
    expect(await store.stats()).toMatchObject({ location, images: { ok: 1, error: 1, removed: 1 }, items: 1, vectors: 1, details: expect.any(Object) });
    await store.flush();
    // the removed file's record is checked, but it is no image of the archive
    expect(await store.verify()).toMatchObject({ ok: true, checked: { images: 2, vectors: 1 }, repaired: [], unrepaired: [] });
    await store.close();
  });

  it('samples searchable items spread over the ids, and lists the first failed files by path', async () => {
    const empty = await open(location, { model: MODEL, create: true });
    expect(await empty.sampleItemIds(5)).toEqual([]);
    await empty.close();
    // 40 files: every fourth failed, every fifth removed afterwards, 10-19 re-tiled (their old items retired)
    const names = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}.jpg`);
    const { store, results } = await withChanges(
      names.map((name, i): CatalogChange => (i % 4 === 3 ? { kind: 'fail', file: newFile(name), error: `bad ${i}` } : { kind: 'put', file: newFile(name), vector: axis(i) })),
    );
    await store.commit(results.flatMap((r, i): CatalogChange[] => (i % 5 === 4 ? [{ kind: 'remove', fileId: r.fileId }] : [])));
    const window = { x: 0, y: 0, width: 10, height: 10, scale: 1 };
    await store.commit(
      names.slice(10, 20).flatMap((name, j): CatalogChange[] =>
        (10 + j) % 4 === 3 || (10 + j) % 5 === 4 ? [] : [{ kind: 'put', file: newFile(name, { plan: 'tiles' }), items: [{ key: 't0', window, place: null, vector: axis(j) }], complete: true }],
      ),
    );
    const searchable = await store.listItemIds();
    expect(searchable).toHaveLength(24);
    for (const k of [1, 5, 24, 100]) {
      const sample = await store.sampleItemIds(k);
      expect(sample).toHaveLength(Math.min(k, 24));
      expect(sample).toEqual([...sample].sort((x, y) => x - y));
      expect(searchable).toEqual(expect.arrayContaining(sample));
    }
    // spread: the first and the last third of the ids both show in a sample of 6
    const sample = await store.sampleItemIds(6);
    expect(sample.some((id) => id <= searchable[7]!)).toBe(true);
    expect(sample.some((id) => id >= searchable[16]!)).toBe(true);

    const failed = await store.listFiles('error');
    expect(failed.map((f) => f.path)).toEqual(names.filter((_, i) => i % 4 === 3 && i % 5 !== 4));
    expect((await store.listFiles('error', 3)).map((f) => f.path)).toEqual(failed.slice(0, 3).map((f) => f.path));
    await store.close();
  });

  it('reports when a commit last changed a file (the start page\'s "last update"), null before the first', async () => {
    const store = await open(location, { model: MODEL, create: true });
    expect((await store.stats()).lastChange).toBeNull();
    const before = Date.now();
    const [put] = await store.commit([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }]);
    const first = Date.parse((await store.stats()).lastChange!);
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.commit([{ kind: 'remove', fileId: put!.fileId }]);
    const removed = (await store.stats()).lastChange!;
    expect(Date.parse(removed)).toBeGreaterThan(first);
    await store.close();
    const reader = await open(location, { readonly: true });
    expect((await reader.stats()).lastChange).toBe(removed);
    await reader.close();
  });

  it('lists the searchable items of one file in id order, not those of a namesake under another root, and none of a file that is not ok', async () => {
    const tile = (i: number) => ({ key: `s1:${i * 100},0`, window: { x: i * 100, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: axis(i) });
    const scene = (root: string) => newFile('a/scene [1].tif', { root, width: 1000, height: 800, format: 'tiff', plan: 'tiles' });
    const { store, results } = await withChanges([
      { kind: 'put', file: scene('/archive'), items: [tile(2), tile(0), tile(1)], complete: true },
      { kind: 'put', file: scene('/elsewhere'), items: [tile(3)], complete: true },
      { kind: 'put', file: newFile('other.jpg'), vector: axis(5) },
      { kind: 'fail', file: newFile('bad.jpg'), error: 'truncated JPEG' },
    ]);
    const [here, there, other, bad] = results as [CommittedChange, CommittedChange, CommittedChange, CommittedChange];
    const items = await store.fileItems(here.fileId);
    expect(items.map((i) => i.id)).toEqual([...here.itemIds].sort((a, b) => a - b));
    expect(items).toEqual(await store.getItems([...here.itemIds].sort((a, b) => a - b)));
    expect(items.map((i) => [i.key, i.file.absolutePath])).toEqual(['s1:200,0', 's1:0,0', 's1:100,0'].map((key) => [key, path.resolve('/archive/a/scene [1].tif')]));
    expect((await store.fileItems(there.fileId)).map((i) => i.id)).toEqual(there.itemIds);
    expect((await store.fileItems(other.fileId)).map((i) => i.key)).toEqual(['whole']);
    expect(await store.fileItems(bad.fileId)).toEqual([]);
    expect(await store.fileItems(there.fileId + other.fileId + bad.fileId + 1000)).toEqual([]);
    await store.commit([{ kind: 'remove', fileId: here.fileId }]);
    expect(await store.fileItems(here.fileId)).toEqual([]);
    await store.close();
  });

  it('lists the roots that hold files not removed, a failed file\'s root too', async () => {
    const { store, results } = await withChanges([
      { kind: 'put', file: newFile('a.jpg', { root: '/b-archive' }), vector: axis(1) },
      { kind: 'put', file: newFile('a.jpg', { root: '/a-archive' }), vector: axis(2) },
      { kind: 'put', file: newFile('b.jpg', { root: '/a-archive' }), vector: axis(3) },
      { kind: 'fail', file: newFile('bad.jpg', { root: '/c-archive' }), error: 'truncated JPEG' },
    ]);
    expect(await store.roots()).toEqual(['/a-archive', '/b-archive', '/c-archive']);
    await store.commit([{ kind: 'remove', fileId: results[0]!.fileId }, { kind: 'remove', fileId: results[1]!.fileId }]);
    expect(await store.roots()).toEqual(['/a-archive', '/c-archive']);
    await store.close();
  });

  it('answers lookups of reusable content asked at once (as the decode workers ask them) as it answers each alone', async () => {
    const store = await open(location, { model: MODEL, create: true });
    const tile = (i: number) => ({ key: `t${i}`, window: { x: i * 100, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: axis(i) });
    await store.commit([
      { kind: 'put', file: newFile('a.jpg'), vector: axis(1) },
      { kind: 'put', file: newFile('b.jpg', { contentHash: 'hash-a.jpg' }), vector: axis(2) },
      { kind: 'put', file: newFile('scene.tif', { plan: 'tiles:a' }), items: [tile(3), tile(4)], complete: true },
      { kind: 'put', file: newFile('part.tif', { plan: 'tiles:a' }), items: [tile(5)], complete: false },
      { kind: 'fail', file: newFile('bad.jpg'), error: 'truncated JPEG' },
    ]);
    const lookups: [string, string | null][] = [
      ['hash-scene.tif', 'tiles:a'],
      ['hash-a.jpg', null],
      ['hash-scene.tif', 'tiles:b'],
      ['hash-part.tif', 'tiles:a'],
      ['hash-bad.jpg', null],
      ['hash-a.jpg', null],
      ['hash-scene.tif', 'tiles:a'],
    ];
    const together = await Promise.all(lookups.map(([hash, plan]) => store.findReusableFile(hash, plan)));
    const alone = [];
    for (const [hash, plan] of lookups) alone.push(await store.findReusableFile(hash, plan));
    expect(together).toEqual(alone);
    // the first file of that content (a.jpg, not b.jpg); only complete, ok files
    const fileA = (await store.findFileByPath('/archive/a.jpg'))!.id;
    expect(together.map((r) => r && [r.fileId === fileA, r.items.map((i) => i.key)])).toEqual([
      [false, ['t3', 't4']],
      [true, ['whole']],
      undefined,
      undefined,
      undefined,
      [true, ['whole']],
      [false, ['t3', 't4']],
    ]);
    expect(together[0]!.items[1]!.vector).toEqual(axis(4));
    await store.close();
  });

  it('keeps the items of a scene committed in batches, and retires stale ones for good', async () => {
    const store = await open(location, { model: MODEL, create: true });
    const scene = (plan: string) => newFile('scene.tif', { width: 1000, height: 800, format: 'tiff', plan });
    const tile = (i: number) => ({ key: `s1:${i * 100},0`, window: { x: i * 100, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: axis(i) });
    const firstBatch: CatalogChange = { kind: 'put', file: scene('tiles:a'), items: [tile(0), tile(1)], complete: false };
    const [first] = (await store.commit([firstBatch])) as [CommittedChange];
    expect(first.itemIds).toHaveLength(2);
    expect((await store.knownFiles('/archive')).get('scene.tif')).toMatchObject({ status: 'ok', needsEmbedding: true, plan: 'tiles:a', width: 1000 });
    expect(await store.fileItemKeys(first.fileId)).toEqual(new Set(['s1:0,0', 's1:100,0']));
    // the committed tiles of a scene are searchable while the rest is being embedded; it cannot be reused yet
    expect(await store.countItems()).toBe(2);
    expect(await store.findReusableFile('hash-scene.tif', 'tiles:a')).toBeUndefined();
    const [second] = (await store.commit([{ kind: 'put', file: scene('tiles:a'), items: [tile(2), tile(3)], complete: true }])) as [CommittedChange];
    expect(second.fileId).toBe(first.fileId);
    expect((await store.knownFiles('/archive')).get('scene.tif')!.needsEmbedding).toBe(false);
    expect(await store.commit([firstBatch])).toEqual([first]); // a retried batch changes nothing
    expect(await store.countItems()).toBe(4);
    const reusable = await store.findReusableFile('hash-scene.tif', 'tiles:a');
    expect(reusable?.items.map((i) => i.key)).toEqual(['s1:0,0', 's1:100,0', 's1:200,0', 's1:300,0']);
    expect(reusable?.items[2]!.window).toEqual({ x: 200, y: 0, width: 224, height: 224, scale: 1 });
    const before = [...first.itemIds, ...second.itemIds];
    const [item] = await store.getItems([before[3]!]);
    expect(item).toMatchObject({ key: 's1:300,0', window: { x: 300, width: 224 }, file: { path: 'scene.tif', plan: 'tiles:a', complete: true } });

    // another plan: a key that returns keeps its id, the others are retired, new keys get new ids
    const [replanned] = (await store.commit([{ kind: 'put', file: scene('tiles:b'), items: [tile(1), tile(5)], complete: true }])) as [CommittedChange];
    expect(replanned.itemIds[0]).toBe(first.itemIds[1]);
    expect(replanned.itemIds[1]).toBeGreaterThan(Math.max(...before));
    expect((await store.getItems(before)).map((i) => i.id)).toEqual([first.itemIds[1]]);
    expect((await store.search(axis(0), 10, { exact: true })).map((r) => r.id).sort((x, y) => x - y)).toEqual([...replanned.itemIds].sort((x, y) => x - y));
    // a retired id is never given out again, even when its key comes back
    const [again] = (await store.commit([{ kind: 'put', file: scene('tiles:c'), items: [tile(0)], complete: true }])) as [CommittedChange];
    expect(before).not.toContain(again.itemIds[0]);
    expect(again.itemIds[0]).toBeGreaterThan(replanned.itemIds[1]!);
    expect(await store.countItems()).toBe(1);
    await store.close();
  });

  /**
   * A new version of a scene (content or plan changed) committed in batches, as the indexer sends
   * it: version 1 is six tiles s1:0,0 .. s1:500,0; `tile(i, v)` is tile i with vector axis(i, v / 4).
   */
  const sceneTile = (i: number, version = 0): NewItem => ({ key: `s1:${i * 100},0`, window: { x: i * 100, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: axis(i, version / 4) });
  const sceneFile = (contentHash: string, plan: string) => newFile('scene.tif', { width: 1000, height: 800, format: 'tiff', contentHash, plan });
  const putTiles = async (store: IndexStore, file: ReturnType<typeof sceneFile>, tiles: NewItem[], complete: boolean): Promise<CommittedChange> =>
    ((await store.commit([{ kind: 'put', file, items: tiles, complete }])) as [CommittedChange])[0];
  /** Version 1, committed in batches of two; the ids of tiles 0..5. */
  async function sceneVersion1(store: IndexStore): Promise<number[]> {
    const ids: number[] = [];
    for (const batch of [[0, 1], [2, 3], [4, 5]]) ids.push(...(await putTiles(store, sceneFile('v1', 'tiles:a'), batch.map((i) => sceneTile(i)), batch[0] === 4)).itemIds);
    return ids;
  }
  /** Every hit of an exact and a graph search, by id. */
  const allHits = async (store: IndexStore): Promise<number[][]> =>
    Promise.all([true, false].map(async (exact) => (await store.search(axis(0), 50, { exact })).map((h) => h.id).sort((x, y) => x - y)));

  it('keeps the ids of a scene\'s windows through a new version committed in batches, and never serves the old content\'s vectors as the new one\'s', async () => {
    const store = await open(location, { model: MODEL, create: true });
    const reader = await open(location, { readonly: true });
    const v1 = await sceneVersion1(store);
    expect(await allHits(reader)).toEqual([v1, v1]);

    // new content, same plan: tiles 0..4 (tile 5 is nodata now), in batches of two
    const v2 = sceneFile('v2', 'tiles:a');
    const first = await putTiles(store, v2, [sceneTile(0, 2), sceneTile(1, 2)], false);
    expect(first.itemIds).toEqual(v1.slice(0, 2));
    // mid-version: only the new content's vectors are searchable (by the writer's graph and a reader's), and the rest of the scene keeps its ids
    for (const s of [store, reader]) expect(await allHits(s)).toEqual([v1.slice(0, 2), v1.slice(0, 2)]);
    expect(await store.countItems()).toBe(2);
    for (const selection of [{}, { filter: { formats: ['tiff'] } }, { excludeIds: [v1[0]!] }]) {
      const expected = v1.slice(selection.excludeIds ? 1 : 0, 2);
      expect(await store.listItemIds(selection)).toEqual(expected);
      expect(await reader.countItems(selection)).toBe(expected.length);
    }
    expect([...(await store.getVectors(v1)).keys()].sort((x, y) => x - y)).toEqual(v1.slice(0, 2));
    expect(await store.fileItemKeys(first.fileId)).toEqual(new Set(['s1:0,0', 's1:100,0']));
    expect((await store.knownFiles('/archive')).get('scene.tif')).toMatchObject({ contentHash: 'v2', needsEmbedding: true });
    // the items waiting for the version's vectors are not damage
    expect((await store.verify()).repaired).toEqual([]);
    expect((await putTiles(store, v2, [sceneTile(2, 2), sceneTile(3, 2)], false)).itemIds).toEqual(v1.slice(2, 4));
    expect((await putTiles(store, v2, [sceneTile(4, 2)], true)).itemIds).toEqual(v1.slice(4, 5));
    // complete: the key the version never put is retired for good
    expect((await store.getItems(v1)).map((i) => i.id)).toEqual(v1.slice(0, 5));
    for (const s of [store, reader]) expect(await allHits(s)).toEqual([v1.slice(0, 5), v1.slice(0, 5)]);
    expect((await store.getVectors([v1[3]!])).get(v1[3]!)).toEqual(sceneTile(3, 2).vector);
    expect((await store.knownFiles('/archive')).get('scene.tif')!.needsEmbedding).toBe(false);

    // another plan, same content (a scale added): tiles 1..4 stay, tile 0 leaves the plan, new keys s2:..
    const v3 = sceneFile('v2', 'tiles:b');
    const big = (x: number): NewItem => ({ key: `s2:${x},0`, window: { x, y: 0, width: 448, height: 448, scale: 2 }, place: null, vector: axis(6) });
    const planned = [await putTiles(store, v3, [big(0), sceneTile(4, 2)], false), await putTiles(store, v3, [sceneTile(1, 2), big(200)], false)];
    expect(planned[0]!.itemIds[1]).toBe(v1[4]);
    expect(planned[1]!.itemIds[0]).toBe(v1[1]);
    expect((await store.getItems(v1)).map((i) => i.id)).toEqual(v1.slice(0, 5));
    const last = await putTiles(store, v3, [sceneTile(2, 2), sceneTile(3, 2)], true);
    expect(last.itemIds).toEqual(v1.slice(2, 4));
    const news = [planned[0]!.itemIds[0]!, planned[1]!.itemIds[1]!];
    expect(Math.min(...news)).toBeGreaterThan(Math.max(...v1));
    const live = [...v1.slice(1, 5), ...news].sort((x, y) => x - y);
    expect((await store.fileItems(last.fileId)).map((i) => i.id)).toEqual(live);
    for (const s of [store, reader]) expect(await allHits(s)).toEqual([live, live]);
    expect(await store.countItems()).toBe(6);
    await reader.close();
    await store.close();
  });

  it('resumes a new version of a scene left half-way without embedding its committed windows again, keeping every id and duplicating none', async () => {
    let store = await open(location, { model: MODEL, create: true });
    const v1 = await sceneVersion1(store);
    const v2 = sceneFile('v2', 'tiles:a');
    const first = await putTiles(store, v2, [sceneTile(0, 2), sceneTile(1, 2)], false);
    await store.close(); // the run stops here (its commits are the catalog's truth; a killed writer's graph is replayed from them)
    store = await open(location, { model: MODEL });
    // what the next run sees: a version to resume, whose committed windows are those of its first batch only
    expect((await store.knownFiles('/archive')).get('scene.tif')).toMatchObject({ contentHash: 'v2', plan: 'tiles:a', needsEmbedding: true });
    expect(await store.fileItemKeys(first.fileId)).toEqual(new Set(['s1:0,0', 's1:100,0']));
    expect(await allHits(store)).toEqual([v1.slice(0, 2), v1.slice(0, 2)]);
    // a batch sent again changes nothing; the rest of the version follows
    expect(await putTiles(store, v2, [sceneTile(0, 2), sceneTile(1, 2)], false)).toEqual(first);
    expect((await putTiles(store, v2, [sceneTile(2, 2), sceneTile(3, 2)], false)).itemIds).toEqual(v1.slice(2, 4));
    expect((await putTiles(store, v2, [sceneTile(5, 2)], true)).itemIds).toEqual(v1.slice(5, 6));
    const live = [...v1.slice(0, 4), v1[5]!];
    const items = await store.fileItems(first.fileId);
    expect(items.map((i) => i.id)).toEqual(live);
    expect(new Set(items.map((i) => i.key)).size).toBe(items.length);
    expect(await allHits(store)).toEqual([live, live]);
    expect((await store.knownFiles('/archive')).get('scene.tif')!.needsEmbedding).toBe(false);
    expect((await store.verify()).repaired).toEqual([]);
    await store.close();
  });

  it('moves an item\'s place with it, in filters too, and drops it with the item', async () => {
    const store = await open(location, { model: MODEL, create: true });
    const at = (lon: number): NewItem => {
      const footprint = { type: 'Polygon' as const, coordinates: [[[lon, 10], [lon + 1, 10], [lon + 1, 11], [lon, 11], [lon, 10]]] as [number, number][][] };
      return { key: 'whole', window: { x: 0, y: 0, width: 224, height: 224, scale: 1 }, place: { footprint, bbox: [lon, 10, lon + 1, 11], center: [lon + 0.5, 10.5], nativeBounds: [0, 0, 1, 1], gsd: 1 }, vector: axis(0) };
    };
    const near = (lon: number) => store.listItemIds({ filter: { bbox: { kind: 'bbox', west: lon + 0.2, south: 10.2, east: lon + 0.3, north: 10.3 } } });
    const [first] = (await store.commit([{ kind: 'put', file: newFile('geo.tif'), items: [at(20)], complete: true }])) as [CommittedChange];
    expect(await near(20)).toEqual(first.itemIds);
    await store.commit([{ kind: 'put', file: newFile('geo.tif', { contentHash: 'moved' }), items: [at(-60)], complete: true }]);
    expect(await near(20)).toEqual([]);
    expect(await near(-60)).toEqual(first.itemIds);
    expect((await store.getItems(first.itemIds))[0]!.place!.center).toEqual([-59.5, 10.5]);
    await store.commit([{ kind: 'put', file: newFile('geo.tif', { contentHash: 'plain' }), vector: axis(1) }]);
    expect(await near(-60)).toEqual([]);
    expect((await store.getItems(first.itemIds))[0]!.place).toBeNull();
    await store.close();
  });

  it('keeps fields and the acquisition time of one file (STAC) beside the user fields by file name', async () => {
    const stac = { item: 'S2A_1', collection: 's2', start: '2023-06-01T10:30:00Z', end: '2023-06-01T10:30:00Z' };
    const { store, ids } = await withChanges([
      { kind: 'put', file: newFile('a/visual.tif', { stac, fields: { platform: 'sentinel-2a', 'eo:cloud_cover': 12.5, keywords: ['a', 'b'] } }), vector: axis(0) },
      { kind: 'put', file: newFile('b/visual.tif', { fields: { platform: 'landsat-8' } }), vector: axis(1) },
    ]);
    const [a, b] = ids as [number, number];
    await store.importFields([{ fileName: 'visual.tif', fields: new Map([['label', ['scene']]]) }]);
    expect(await store.getFields([a, b])).toEqual(
      new Map([
        [a, { label: 'scene', platform: 'sentinel-2a', 'eo:cloud_cover': 12.5, keywords: ['a', 'b'] }],
        [b, { label: 'scene', platform: 'landsat-8' }],
      ]),
    );
    expect(await store.listItemIds({ filter: { fields: { 'eo:cloud_cover': { max: 20 } } } })).toEqual([a]);
    expect(await store.listItemIds({ filter: { fields: { platform: 'landsat-8', label: 'scene' } } })).toEqual([b]);
    expect(await store.listItemIds({ filter: { since: new Date('2023-06-01'), until: new Date('2023-06-02') } })).toEqual([a]);
    expect((await store.getItems([a]))[0]!.file.stac).toEqual(stac);
    // every name once, sorted by code point, from both kinds of field
    await store.importFields([{ fileName: 'visual.tif', fields: new Map([['Zone', ['north']], ['platform', ['x']]]) }]);
    expect(await store.fieldNames()).toEqual(['Zone', 'eo:cloud_cover', 'keywords', 'label', 'platform']);
    await store.close();
  });

  it('gives field values back as they were given: text that reads as a number stays text unless it is that number\'s own text', async () => {
    const { store, ids } = await withChanges([{ kind: 'put', file: newFile('a/x.jpg', { fields: { 'stac:code': '007', 'stac:n': 12.5 } }), vector: axis(0) }]);
    const [a] = ids as [number];
    const given = { code: '007', hex: '0x10', bin: '0b1', exp: '1e3', padded: '12.50', plus: '+3', seven: '7', half: '0.5', count: 3 };
    await store.importFields([{ fileName: 'x.jpg', fields: new Map(Object.entries(given).map(([name, value]) => [name, [value]])) }]);
    expect(await store.getFields([a])).toEqual(new Map([[a, { ...given, seven: 7, half: 0.5, 'stac:code': '007', 'stac:n': 12.5 }]]));
    expect(await store.listItemIds({ filter: { fields: { code: '007', 'stac:code': '007' } } })).toEqual([a]);
    expect(await store.listItemIds({ filter: { fields: { code: '7' } } })).toEqual([]);
    // ranges still read decimal text as its number, and only decimal text
    expect(await store.listItemIds({ filter: { fields: { exp: { min: 1000, max: 1000 }, code: { max: 7 }, padded: { min: 12.5 } } } })).toEqual([a]);
    expect(await store.listItemIds({ filter: { fields: { hex: { min: 0 } } } })).toEqual([]);
    expect(await store.listItemIds({ filter: { fields: { bin: { min: 0 } } } })).toEqual([]);
    await store.close();
  });

  it('applies a commit entirely or not at all', async () => {
    const { store } = await withChanges([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }]);
    await expectRsclipError(
      store.commit([
        { kind: 'put', file: newFile('b.jpg'), vector: axis(1) },
        { kind: 'put', file: newFile('c.jpg'), vector: new Float32Array(DIM + 1) },
      ]),
      'INDEX_INCOMPATIBLE',
      /length 8/,
    );
    // a vector a cosine cannot use (a damaged model's NaN, all zeros, beyond half precision, at which vectors are kept) is refused the same way
    const nan = axis(2);
    nan[1] = Number.NaN;
    const huge = axis(2);
    huge[2] = 100_000;
    for (const [vector, pattern] of [[nan, /NaN at position 1, for \S*d\.jpg \(w\)$/], [new Float32Array(DIM), /every component zero/], [huge, /100000 at position 2, beyond/]] as const) {
      await expectRsclipError(store.commit([{ kind: 'put', file: newFile('b.jpg'), vector: axis(1) }, { kind: 'put', file: newFile('d.jpg'), items: [{ key: 'w', window: { x: 0, y: 0, width: 1, height: 1, scale: 1 }, place: null, vector }], complete: true }]), 'INDEX_INCOMPATIBLE', pattern);
    }
    expect(await store.countFiles()).toBe(1);
    expect(await store.countItems()).toBe(1);
    await store.close();
  });

  it('applies the same commit twice as once (results may arrive again after a retry)', async () => {
    const changes: CatalogChange[] = [
      { kind: 'put', file: newFile('a.jpg'), vector: axis(0) },
      { kind: 'put', file: newFile('b.jpg'), vector: axis(1) },
      { kind: 'fail', file: newFile('c.jpg'), error: 'x' },
    ];
    const { store, results, ids } = await withChanges(changes);
    expect(await store.commit(changes)).toEqual(results);
    await store.commit([{ kind: 'remove', fileId: results[1]!.fileId }]);
    await store.commit([{ kind: 'remove', fileId: results[1]!.fileId }]);
    expect(await store.countFiles()).toBe(3);
    expect(await store.listItemIds()).toEqual([ids[0]]);
    expect((await store.search(axis(0), 10)).map((r) => r.id)).toEqual([ids[0]]);
    await store.close();
  });

  it('searches every selection exactly or through the graph without ever returning fewer than exist', async () => {
    const { store, ids } = await withChanges(Array.from({ length: 40 }, (_, i) => ({ kind: 'put' as const, file: newFile(`img${i}.jpg`), vector: axis(i, i / 40) })));
    const only = [ids[5]!, ids[17]!];
    expect((await store.search(axis(0), 10, { onlyIds: only })).map((r) => r.id).sort((x, y) => x - y)).toEqual(only);
    const odd = ids.filter((_, i) => i % 2 === 1);
    const notOdd = await store.search(axis(3), 25, { excludeIds: odd });
    expect(notOdd).toHaveLength(20);
    expect(notOdd.every((r) => !odd.includes(r.id))).toBe(true);
    for (const exact of [false, true]) {
      const all = await store.search(axis(3), 100, { exact });
      expect(all).toHaveLength(40);
      for (let i = 1; i < all.length; i++) expect(all[i - 1]!.score).toBeGreaterThanOrEqual(all[i]!.score);
    }
    const exact = await store.search(axis(3), 5, { exact: true });
    expect(exact[0]!.score).toBeGreaterThanOrEqual((await store.search(axis(3), 5))[0]!.score - 1e-6);
    expect(await store.countItems({ onlyIds: only })).toBe(2);
    expect(await store.countItems({ excludeIds: odd })).toBe(20);
    await expectRsclipError(store.search(new Float32Array(DIM + 2), 1), 'BAD_QUERY');
    for (const exact of [false, true]) await expectRsclipError(store.search(new Float32Array(DIM), 1, { exact }), 'BAD_QUERY', /every component zero/);
    await store.close();
  });

  it('filters by folder, glob, format, size, time, dimensions and imported user fields', async () => {
    const { store, ids } = await withChanges([
      { kind: 'put', file: newFile('2020/coast/a.jpg', { bytes: 10, mtimeMs: Date.UTC(2020, 0, 1) }), vector: axis(0) },
      { kind: 'put', file: newFile('2020/coast/deep/b.png', { format: 'png', width: 1000, height: 800, bytes: 5000 }), vector: axis(1) },
      { kind: 'put', file: newFile('2021/c.tif', { format: 'tiff', mtimeMs: Date.UTC(2021, 5, 1) }), vector: axis(2) },
      { kind: 'fail', file: newFile('2020/coast/bad.jpg'), error: 'x' },
    ]);
    const [a, b, c] = ids as [number, number, number];
    const imported = await store.importFields([
      { fileName: 'a.jpg', fields: new Map<string, (string | number)[]>([['label', ['beach']], ['captions', ['sand', 'sea']], ['cloud', [0.2]]]) },
      { fileName: 'b.png', fields: new Map<string, (string | number)[]>([['label', ['port']], ['cloud', ['0.9']]]) },
      { fileName: 'nowhere.png', fields: new Map([['label', ['x']]]) },
    ]);
    expect(imported).toEqual({ records: 3, fields: ['captions', 'cloud', 'label'], unmatched: 1 });
    const ids$ = (filter: Parameters<IndexStore['listItemIds']>[0]) => store.listItemIds(filter);
    expect(await ids$({ filter: { folder: '2020/coast' } })).toEqual([a, b]);
    expect(await ids$({ filter: { folder: '2020/coas' } })).toEqual([]);
    expect(await ids$({ filter: { pathGlob: '2020/**/*.png' } })).toEqual([b]);
    expect(await ids$({ filter: { pathGlob: '*.jpg' } })).toEqual([a]);
    expect(await ids$({ filter: { pathGlob: '{a.jpg,c.tif}' } })).toEqual([a, c]);
    expect(await ids$({ filter: { formats: ['jpg', 'tiff'] } })).toEqual([a, c]);
    expect(await ids$({ filter: { minBytes: 100, maxBytes: 2000 } })).toEqual([c]);
    expect(await ids$({ filter: { modifiedAfter: new Date(Date.UTC(2021, 0, 1)), modifiedBefore: new Date(Date.UTC(2022, 0, 1)) } })).toEqual([c]);
    expect(await ids$({ filter: { minWidth: 500, minHeight: 500 } })).toEqual([b]);
    expect(await ids$({ filter: { fields: { label: ['beach', 'port'], cloud: { max: 0.5 } } } })).toEqual([a]);
    expect(await ids$({ filter: { fields: { captions: 'sea' } } })).toEqual([a]);
    expect(await ids$({ filter: { folder: '2020' }, excludeIds: [a] })).toEqual([b]);
    expect(await store.countItems({ filter: { folder: '2020' } })).toBe(2);
    expect(await store.getFields([a, b, c])).toEqual(
      new Map([
        [a, { label: 'beach', captions: ['sand', 'sea'], cloud: 0.2 }],
        [b, { label: 'port', cloud: 0.9 }],
      ]),
    );
    // a filter sees fields imported after an earlier search with it
    expect((await store.search(axis(0), 5, { filter: { fields: { label: 'dune' } } })).map((r) => r.id)).toEqual([]);
    await store.importFields([{ fileName: 'c.tif', fields: new Map([['label', ['dune']]]) }]);
    expect((await store.search(axis(0), 5, { filter: { fields: { label: 'dune' } } })).map((r) => r.id)).toEqual([c]);
    await store.close();
  });

  it('iterates every searchable vector in id order, in pages that survive other calls in between', async () => {
    const { store, results, ids } = await withChanges(Array.from({ length: 2500 }, (_, i) => ({ kind: 'put' as const, file: newFile(`v${i}.jpg`), vector: axis(i, (i % 7) / 7) })));
    await store.commit([{ kind: 'remove', fileId: results[3]!.fileId }]);
    const seen: number[] = [];
    for await (const [id, vector] of store.vectors()) {
      seen.push(id);
      expect(vector).toHaveLength(DIM);
      if (seen.length % 1000 === 0) await store.getItems([id]);
    }
    expect(seen).toEqual(ids.filter((id) => id !== ids[3]));
    await store.close();
  });

  it('lets a reader see what a writer commits, and refuses writes on a read-only or closed store with their own codes', async () => {
    const writer = await open(location, { model: MODEL, create: true });
    const reader = await open(location, { readonly: true });
    const [{ fileId, itemIds }] = (await writer.commit([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }])) as [CommittedChange];
    expect(await reader.search(axis(0), 1)).toEqual([{ id: itemIds[0], score: expect.closeTo(1, 5) }]);
    expect(reader.readonly).toBe(true);
    await expectRsclipError(reader.commit([{ kind: 'remove', fileId }]), 'INDEX_READ_ONLY');
    await expectRsclipError(reader.importFields([]), 'INDEX_READ_ONLY');
    await expectRsclipError(reader.verify(), 'INDEX_READ_ONLY');
    await reader.close();
    await reader.close(); // closing twice is harmless
    await expectRsclipError(reader.search(axis(0), 1), 'INDEX_CLOSED');
    await writer.close();
    await expectRsclipError(writer.commit([]), 'INDEX_CLOSED');
  });

  it('verifies a healthy index as ok, repairing nothing', async () => {
    const { store } = await withChanges([0, 1, 2].map((i) => ({ kind: 'put' as const, file: newFile(`${i}.jpg`), vector: axis(i) })));
    await store.flush();
    expect(await store.verify()).toMatchObject({ ok: true, checked: { images: 3, vectors: 3 }, repaired: [], unrepaired: [] });
    await store.close();
  });

  it('an index with nothing committed takes another model of its dimension, saying so; a reader does not', async () => {
    await (await open(location, { model: MODEL, create: true })).close();
    const other = { ...MODEL, id: 'test/model-b', fingerprint: 'b'.repeat(64) };
    await expectRsclipError(open(location, { model: other, readonly: true }), 'INDEX_INCOMPATIBLE');
    await expectRsclipError(open(location, { model: { ...other, embeddingDim: DIM + 1 } }), 'INDEX_INCOMPATIBLE');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const taken = await open(location, { model: other });
      expect(taken.meta).toMatchObject({ modelId: 'test/model-b', modelFingerprint: other.fingerprint });
      await taken.close();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([expect.stringMatching(/holds no vectors yet: it now uses model test\/model-b .* instead of test\/model-a/)]);
  });

  it('an index with something committed keeps its model', async () => {
    const writer = await open(location, { model: MODEL, create: true });
    await writer.commit([{ kind: 'put', file: newFile('0.jpg'), vector: axis(0) }]);
    await writer.close();
    await expectRsclipError(open(location, { model: { ...MODEL, id: 'test/model-b', fingerprint: 'b'.repeat(64) } }), 'INDEX_INCOMPATIBLE');
  });

  // the embedded back end's own files (lock, graph, catalog schema), crash recovery and raw repairs
  describe.skipIf(!backend.embedded)('embedded back end only', () => {
    it('lets one writer in at a time, takes over a lock left by a dead process, and lets readers in meanwhile', async () => {
      const writer = await open(location, { model: MODEL, create: true });
      await expectRsclipError(open(location, { model: MODEL }), 'INDEX_LOCKED');
      const reader = await open(location, { readonly: true });
      await writer.close();
      const again = await open(location, { model: MODEL });
      await again.close();
      // a lock file of rsclip 0.1 whose process is gone is replaced
      rmSync(path.join(location, LOCK_FILE));
      writeFileSync(path.join(location, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: 'then' }));
      await (await open(location, { model: MODEL })).close();
      await reader.close();
    });

    it('refuses a catalog from a newer rsclip', () => {
      const newer = { pragma: () => 99 } as unknown as Parameters<typeof migrate>[0];
      expect(() => migrate(newer, 'catalog.sqlite')).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', hint: 'update rsclip' }));
    });

    it('rebuilds an unreadable HNSW file from the catalog and verify reports it', async () => {
      const writer = await open(location, { model: MODEL, create: true });
      const ids = (await writer.commit([0, 1, 2].map((i) => ({ kind: 'put' as const, file: newFile(`${i}.jpg`), vector: axis(i) })))).map((r) => r.itemIds[0]!);
      await writer.close();
      writeFileSync(path.join(location, GRAPH_FILE), 'garbage');
      const reopened = await open(location, { model: MODEL });
      expect((await reopened.search(axis(2), 1))[0]!.id).toBe(ids[2]);
      const report = await reopened.verify();
      expect(report).toMatchObject({ ok: true, checked: { images: 3, vectors: 3 }, unrepaired: [] });
      // named as the engine's file: the graphs' HNSW file, the ivf engine's lists
      expect(report.repaired.join('\n')).toMatch(backend.engine.name === 'ivf' ? /ivf file unreadable \(cannot read ivf file/ : /HNSW file unreadable/);
      expect((await reopened.verify()).repaired).toEqual([]);
      await reopened.close();
      // the repaired file loads as it is
      expect(loadGraph(backend.engine, path.join(location, GRAPH_FILE), DIM).ids()).toEqual(ids);
    });

    it('replays what a writer killed between checkpoints committed', async () => {
      const script = `
        import { openIndex } from ${JSON.stringify(path.resolve('src/store/index.ts'))};
        const model = ${JSON.stringify(MODEL)};
        const axis = (i) => { const v = new Float32Array(${DIM}); v[i % ${DIM}] = 1; return v; };
        const file = (p) => ({ root: '/archive', path: p, bytes: 1, mtimeMs: 1, contentHash: p, width: 1, height: 1, format: 'png' });
        const store = await openIndex(${JSON.stringify(location)}, { model, create: true, engine: ${JSON.stringify(backend.engine)} });
        await store.commit([0, 1, 2, 3].map((i) => ({ kind: 'put', file: file(i + '.png'), vector: axis(i) })));
        await store.flush();
        await store.commit([{ kind: 'remove', fileId: 1 }, { kind: 'put', file: file('2.png'), vector: axis(6) }, { kind: 'put', file: file('9.png'), vector: axis(7) }]);
        process.kill(process.pid, 'SIGKILL');
      `;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(child.signal, child.stderr).toBe('SIGKILL');
      expect(existsSync(path.join(location, LOCK_FILE))).toBe(true);
      const reader = await open(location, { readonly: true });
      expect((await reader.stats()).details).toMatchObject({ hnsw: { size: 4 } });
      expect((await reader.search(axis(0), 10)).map((r) => r.id)).not.toContain(1);
      expect((await reader.search(axis(6), 1))[0]).toEqual({ id: 3, score: expect.closeTo(1, 5) });
      expect((await reader.search(axis(7), 1))[0]!.id).toBe(5);
      await reader.close();
      const writer = await open(location, { model: MODEL }); // stale lock taken over
      expect((await writer.verify()).ok).toBe(true);
      await writer.close();
    });

    it('records the graph file it checkpointed by its identity on the disk, and accepts a copy of it by its checksum', async () => {
      const writer = await open(location, { model: MODEL, create: true });
      const ids = (await writer.commit([0, 1, 2].map((i) => ({ kind: 'put' as const, file: newFile(`${i}.jpg`), vector: axis(i) })))).map((r) => r.itemIds[0]!);
      await writer.close();
      const graphFile = path.join(location, GRAPH_FILE);
      const identityOf = () => {
        const fd = openSync(graphFile, 'r');
        try {
          return fileIdentity(fd);
        } finally {
          closeSync(fd);
        }
      };
      const db = new Database(path.join(location, CATALOG_FILE), { readonly: true });
      const recorded = (db.prepare("SELECT value FROM meta WHERE key = 'hnsw_identity'").get() as { value: string }).value;
      db.close();
      expect(recorded).toBe(identityOf()); // the rename into place kept it
      const bytes = readFileSync(graphFile);
      rmSync(graphFile);
      writeFileSync(graphFile, bytes);
      expect(identityOf()).not.toBe(recorded);
      const reopened = await open(location, { model: MODEL });
      expect((await reopened.search(axis(1), 1))[0]!.id).toBe(ids[1]);
      expect((await reopened.verify()).repaired).toEqual([]);
      await reopened.close();
    });

    it('queues files whose item vectors are missing or invalid for embedding again, as an explicit state', async () => {
      const writer = await open(location, { model: MODEL, create: true });
      const [a, b, c] = (await writer.commit(['a.jpg', 'b.jpg', 'c.jpg'].map((p, i) => ({ kind: 'put' as const, file: newFile(p), vector: axis(i) })))).map((r) => r.itemIds[0]!) as [number, number, number];
      await writer.close();
      const db = new Database(path.join(location, CATALOG_FILE));
      db.prepare('DELETE FROM vectors WHERE item_id = ?').run(a);
      db.prepare('UPDATE vectors SET embedding = ? WHERE item_id = ?').run(Buffer.alloc(DIM * 4 + 4), b);
      db.close();
      const repairing = await open(location, { model: MODEL });
      const report = await repairing.verify();
      expect(report.repaired).toEqual(expect.arrayContaining([expect.stringMatching(/1 invalid vectors dropped/), expect.stringMatching(/1 items of ok images had no vector/)]));
      const known = await repairing.knownFiles('/archive');
      expect([known.get('a.jpg'), known.get('b.jpg'), known.get('c.jpg')].map((k) => [k!.status, k!.needsEmbedding])).toEqual([
        ['ok', true],
        ['ok', true],
        ['ok', false],
      ]);
      // the broken items are retired: their ids are never searchable again
      expect(await repairing.getItems([a, b, c])).toHaveLength(1);
      expect(known.get('a.jpg')!.bytes).toBe(1000); // the size stays true
      expect((await repairing.search(axis(0), 5)).map((r) => r.id)).toEqual([c]);
      await repairing.commit([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }]);
      expect((await repairing.knownFiles('/archive')).get('a.jpg')).toMatchObject({ status: 'ok', needsEmbedding: false });
      await repairing.close();
    });

    it('refuses to read an index made by rsclip 0.1 (schema 1) until a writer converts it', async () => {
      mkdirSync(location, { recursive: true });
      const db = new Database(path.join(location, CATALOG_FILE));
      db.exec(SCHEMA_1);
      db.pragma('user_version = 1');
      const meta = { model_id: MODEL.id, model_fingerprint: MODEL.fingerprint, embedding_dim: DIM, metric: 'cosine', hnsw_m: 16, hnsw_ef_construction: 200, hnsw_seed: 100, created_at: 'then', commit_seq: 2, hnsw_seq: -1 };
      for (const [key, value] of Object.entries(meta)) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, String(value));
      const insert = db.prepare("INSERT INTO images (root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq) VALUES ('/archive', ?, ?, ?, 1, ?, 4, 4, 'png', ?, ?, 1, ?)");
      insert.run('a.png', 'a.png', 10, 'ha', 'ok', null, 1);
      // how rsclip 0.1's verify queued a file for embedding again
      insert.run('b.png', 'b.png', -1, 'hb', 'error', 'vector missing or invalid; re-embedded by the next `rsclip index`', 2);
      db.prepare('INSERT INTO vectors (image_id, embedding) VALUES (1, ?)').run(Buffer.from(axis(3).buffer));
      db.close();

      await expectRsclipError(open(location, { readonly: true }), 'INDEX_INCOMPATIBLE', /made by an older rsclip \(catalog schema 1\) and must be converted/);
      const writer = await open(location, { model: MODEL });
      const reader = await open(location, { readonly: true });
      expect(reader.meta).toMatchObject({ schemaVersion: SCHEMA_VERSION, engine: { name: 'hnswlib', M: 16 }, modelId: MODEL.id });
      expect(await reader.search(axis(3), 5)).toEqual([{ id: 1, score: expect.closeTo(1, 5) }]);
      await reader.close();
      expect(writer.meta.schemaVersion).toBe(SCHEMA_VERSION);
      expect((await writer.knownFiles('/archive')).get('b.png')).toMatchObject({ status: 'error', needsEmbedding: true });
      await writer.commit([{ kind: 'put', file: newFile('c.png'), vector: axis(4) }]);
      await writer.close();
      const upgraded = new Database(path.join(location, CATALOG_FILE), { readonly: true });
      expect(upgraded.prepare("SELECT value FROM meta WHERE key = 'engine'").get()).toEqual({ value: 'hnswlib' });
      upgraded.close();
    });

    it('refuses an index that records an engine or a metric this rsclip lacks', async () => {
      await (await open(location, { model: MODEL, create: true })).close();
      for (const [key, value, pattern] of [
        ['engine', 'faiss', /vector engine "faiss"/],
        ['metric', 'l2', /metric "l2"/],
      ] as const) {
        const db = new Database(path.join(location, CATALOG_FILE));
        const before = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string };
        db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(value, key);
        db.close();
        await expectRsclipError(open(location, { readonly: true }), 'INDEX_INCOMPATIBLE', pattern);
        const restore = new Database(path.join(location, CATALOG_FILE));
        restore.prepare('UPDATE meta SET value = ? WHERE key = ?').run(before.value, key);
        restore.close();
      }
    });

    it('keeps its files, engines and test hooks out of the public surface', () => {
      for (const name of ['HnswIndex', 'LOCK_FILE', 'CATALOG_FILE', 'HNSW_FILE', 'debugPause', 'Catalog']) {
        expect(Object.keys(library), name).not.toContain(name);
        expect(Object.keys(store), name).not.toContain(name);
      }
    });
  });
});
