/**
 * One contract for every IndexStore back end (hono's shared router suite): what the indexer,
 * the searcher, the server and the evaluation rely on. Tests that reach into the embedded
 * back end's files are in index-store.embedded.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CatalogChange, IndexStore } from '../../src/store/index.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { axis, BACKENDS, DIM, MODEL, newFile } from './backends.js';

describe.each(BACKENDS)('IndexStore contract: $name', (backend) => {
  let location: string;
  let dispose: () => void;
  const open: typeof backend.open = (where, options) => backend.open(where, options);
  beforeEach(() => ({ location, dispose } = backend.newLocation()));
  afterEach(() => dispose());

  /** A writable index with `changes` committed. */
  async function withChanges(changes: CatalogChange[]): Promise<{ store: IndexStore; ids: number[] }> {
    const store = await open(location, { model: MODEL, create: true });
    return { store, ids: await store.commit(changes) };
  }

  it('refuses a missing index unless asked to create one, and needs a model to create', async () => {
    await expectRsclipError(open(location), 'INDEX_NOT_FOUND');
    await expectRsclipError(open(location, { readonly: true }), 'INDEX_NOT_FOUND');
    await expectRsclipError(open(location, { create: true }), 'INDEX_CORRUPT');
  });

  it('records the model, the engine and the schema version, and refuses another model by id, variant and fingerprint', async () => {
    const store = await open(location, { model: MODEL, create: true, engine: { M: 8 } });
    expect(store.meta).toMatchObject({
      modelId: 'test/model-a',
      modelFingerprint: MODEL.fingerprint,
      embeddingDim: DIM,
      metric: 'cosine',
      engine: { name: 'hnswlib', M: 8, efConstruction: 200, seed: 100 },
      schemaVersion: expect.any(Number),
    });
    expect(store.describe().location).toBe(location);
    await store.close();
    const other = { ...MODEL, id: 'test/model-b', variant: 'int8' as const, fingerprint: 'b'.repeat(64) };
    await expectRsclipError(
      open(location, { model: other, readonly: true }),
      'INDEX_INCOMPATIBLE',
      new RegExp(`^index ${location.replace(/[\\/.]/g, '.')} was built with model test/model-a \\(fp32, aaaaaaaaaaaa\\); you asked for test/model-b \\(int8, bbbbbbbbbbbb\\)$`),
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
    const { store, ids } = await withChanges([
      { kind: 'put', file: newFile('a.jpg'), vector: axis(0) },
      { kind: 'put', file: newFile('b.jpg'), vector: axis(1) },
      { kind: 'fail', file: newFile('bad.jpg'), error: 'truncated JPEG' },
    ]);
    expect(ids).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
    const [a, b, bad] = ids as [number, number, number];
    await store.commit([{ kind: 'put', file: newFile('a.jpg', { contentHash: 'new' }), vector: axis(2) }]);
    expect((await store.search(axis(2), 1))[0]!.id).toBe(a); // the same path keeps its id
    await store.commit([{ kind: 'remove', fileId: b }]);
    expect((await store.search(axis(1), 5)).map((r) => r.id)).toEqual([a]);
    const items = await store.getItems([bad, 999, b, a]);
    expect(items.map((item) => [item.id, item.file.status])).toEqual([
      [bad, 'error'],
      [b, 'removed'],
      [a, 'ok'],
    ]);
    expect(items[0]!.file).toMatchObject({ error: 'truncated JPEG', path: 'bad.jpg', absolutePath: expect.stringMatching(/archive.bad\.jpg$/) });
    expect([...(await store.getVectors([a, b, bad])).keys()]).toEqual([a]);
    expect(await store.findVectorByContentHash('new')).toMatchObject({ itemId: a, width: 224, height: 224, format: 'jpeg' });
    expect(await store.findFileByPath('/archive/bad.jpg')).toMatchObject({ id: bad, status: 'error' });
    expect({ ok: await store.countFiles('ok'), error: await store.countFiles('error'), removed: await store.countFiles('removed'), all: await store.countFiles() }).toEqual({ ok: 1, error: 1, removed: 1, all: 3 });
    expect(await store.stats()).toMatchObject({ location, images: { ok: 1, error: 1, removed: 1 }, vectors: 1, details: expect.any(Object) });
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
    const { store, ids } = await withChanges(changes);
    expect(await store.commit(changes)).toEqual(ids);
    await store.commit([{ kind: 'remove', fileId: ids[1]! }]);
    await store.commit([{ kind: 'remove', fileId: ids[1]! }]);
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
    const { store, ids } = await withChanges(Array.from({ length: 2500 }, (_, i) => ({ kind: 'put' as const, file: newFile(`v${i}.jpg`), vector: axis(i, (i % 7) / 7) })));
    await store.commit([{ kind: 'remove', fileId: ids[3]! }]);
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
    const [id] = await writer.commit([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }]);
    expect(await reader.search(axis(0), 1)).toEqual([{ id, score: expect.closeTo(1, 5) }]);
    expect(reader.readonly).toBe(true);
    await expectRsclipError(reader.commit([{ kind: 'remove', fileId: id! }]), 'INDEX_READ_ONLY');
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
});
