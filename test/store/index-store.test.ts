import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../src/model/index.js';
import { HNSW_FILE, LOCK_FILE, openIndex, type NewImage } from '../../src/store/index.js';
import { migrate } from '../../src/store/schema.js';

const DIM = 8;
const model: ModelInfo = {
  id: 'test/model-a',
  dir: '/nonexistent',
  variant: 'fp32',
  fingerprint: 'a'.repeat(64),
  embeddingDim: DIM,
  contextLength: 77,
  imageSize: 224,
  logitScale: undefined,
};

let dir: string;
beforeEach(() => {
  dir = path.join(mkdtempSync(path.join(tmpdir(), 'rsclip-store-')), 'index');
});
afterEach(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

function image(rel: string, extra: Partial<NewImage> = {}): NewImage {
  return { root: '/archive', path: rel, bytes: 1000, mtimeMs: 1_700_000_000_000, contentHash: `hash-${rel}`, width: 224, height: 224, format: 'jpeg', ...extra };
}

function axis(i: number, tilt = 0): Float32Array {
  const v = new Float32Array(DIM);
  v[i % DIM] = 1;
  v[(i + 1) % DIM] = tilt;
  return v;
}

describe('openIndex', () => {
  it('refuses a missing index unless asked to create one, and needs a model to create', () => {
    expect(() => openIndex(dir)).toThrow(expect.objectContaining({ code: 'INDEX_NOT_FOUND' }));
    expect(() => openIndex(dir, { readonly: true })).toThrow(expect.objectContaining({ code: 'INDEX_NOT_FOUND' }));
    expect(() => openIndex(dir, { create: true })).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT' }));
  });

  it('records the model and build parameters, and refuses another model', async () => {
    const store = openIndex(dir, { model, create: true, hnsw: { M: 8 } });
    expect(store.meta).toMatchObject({ modelId: 'test/model-a', modelFingerprint: model.fingerprint, embeddingDim: DIM, metric: 'cosine', hnsw: { M: 8, efConstruction: 200, seed: 100 } });
    await store.close();
    const other = { ...model, id: 'test/model-b', fingerprint: 'b'.repeat(64) };
    let error: unknown;
    try {
      openIndex(dir, { model: other, readonly: true });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'INDEX_INCOMPATIBLE',
      message: `index ${dir} was built with model test/model-a (aaaaaaaaaaaa); you asked for test/model-b (bbbbbbbbbbbb)`,
    });
    expect(() => openIndex(dir, { model: other })).toThrow(/built with model test\/model-a/);
  });

  it('remembers the model directory and variant of the last update, for queries without --model', async () => {
    const store = openIndex(dir, { model, create: true });
    expect(store.meta).toMatchObject({ modelDir: '/nonexistent', modelVariant: 'fp32' });
    await store.close();
    const moved = openIndex(dir, { model: { ...model, dir: '/models/moved' } });
    await moved.close();
    const reader = openIndex(dir, { readonly: true });
    expect(reader.meta).toMatchObject({ modelDir: '/models/moved', modelVariant: 'fp32' });
    await reader.close();
  });

  it('refuses a catalog from a newer rsclip', () => {
    const newer = { pragma: () => 99 } as unknown as Parameters<typeof migrate>[0];
    expect(() => migrate(newer, 'catalog.sqlite')).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', hint: 'update rsclip' }));
  });

  it('lets one writer in at a time, takes over a lock left by a dead process, and lets readers in meanwhile', async () => {
    const writer = openIndex(dir, { model, create: true });
    expect(() => openIndex(dir, { model })).toThrow(expect.objectContaining({ code: 'INDEX_LOCKED' }));
    const reader = openIndex(dir, { readonly: true });
    writer.commit([{ kind: 'put', image: image('a.jpg'), vector: axis(0) }]);
    reader.refresh();
    expect(reader.searchBestFirst(axis(0), 1)).toEqual([{ id: 1, score: expect.closeTo(1, 5) }]);
    await writer.close();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: 'then' }));
    const again = openIndex(dir, { model });
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await again.close();
    await reader.close();
  });

  it('keeps catalog and HNSW in step through puts, failures and removals', async () => {
    const store = openIndex(dir, { model, create: true });
    const ids = store.commit([
      { kind: 'put', image: image('a.jpg'), vector: axis(0) },
      { kind: 'put', image: image('b.jpg'), vector: axis(1) },
      { kind: 'fail', image: image('bad.jpg'), error: 'truncated JPEG' },
    ]);
    expect(ids).toEqual([1, 2, 3]);
    store.commit([{ kind: 'put', image: image('a.jpg', { contentHash: 'new' }), vector: axis(2) }]);
    expect(store.searchBestFirst(axis(2), 1)[0]!.id).toBe(1); // same path keeps its id
    store.commit([{ kind: 'remove', id: 2 }]);
    expect(store.searchBestFirst(axis(1), 5).map((r) => r.id)).toEqual([1]);
    expect(store.getImage(2)!.status).toBe('removed');
    expect(store.getVector(2)).toBeUndefined();
    expect(store.getImage(3)).toMatchObject({ status: 'error', error: 'truncated JPEG', path: 'bad.jpg', absolutePath: path.join('/archive', 'bad.jpg') });
    expect(store.findVectorByContentHash('new')!.id).toBe(1);
    expect(store.stats()).toMatchObject({ images: { ok: 1, error: 1, removed: 1 }, vectors: 1, hnsw: { size: 1 } });
    await store.close();
  });

  it('searches a very selective filter exactly and a broad one through the graph', async () => {
    const store = openIndex(dir, { model, create: true });
    store.commit(Array.from({ length: 40 }, (_, i) => ({ kind: 'put' as const, image: image(`img${i}.jpg`), vector: axis(i, i / 40) })));
    const only = new Set([5, 17]);
    const hits = store.searchBestFirst(axis(0), 10, { allowedIds: only });
    expect(hits.map((r) => r.id).sort((a, b) => a - b)).toEqual([5, 17]);
    const odd = store.searchBestFirst(axis(3), 5, { allowedIds: (id) => id % 2 === 1 });
    expect(odd).toHaveLength(5);
    expect(odd.every((r) => r.id % 2 === 1)).toBe(true);
    const exact = store.searchBestFirst(axis(3), 5, { exact: true });
    expect(exact[0]!.score).toBeGreaterThanOrEqual(store.searchBestFirst(axis(3), 5)[0]!.score - 1e-6);
    await store.close();
  });

  it('filters by folder, glob, format, size, time, dimensions and user fields', async () => {
    const store = openIndex(dir, { model, create: true });
    store.commit([
      { kind: 'put', image: image('2020/coast/a.jpg', { bytes: 10, mtimeMs: Date.UTC(2020, 0, 1) }), vector: axis(0) },
      { kind: 'put', image: image('2020/coast/deep/b.png', { format: 'png', width: 1000, height: 800, bytes: 5000 }), vector: axis(1) },
      { kind: 'put', image: image('2021/c.tif', { format: 'tiff', mtimeMs: Date.UTC(2021, 5, 1) }), vector: axis(2) },
      { kind: 'fail', image: image('2020/coast/bad.jpg'), error: 'x' },
    ]);
    const sidecar = path.join(path.dirname(dir), 'fields.jsonl');
    writeFileSync(sidecar, ['{"filename": "a.jpg", "label": "beach", "captions": ["sand", "sea"], "cloud": 0.2}', '{"filename": "b.png", "label": "port", "cloud": 0.9}'].join('\n'));
    expect(await store.importFields(sidecar)).toEqual({ file: sidecar, records: 2, fields: ['captions', 'cloud', 'label'], unmatched: 0 });
    expect(store.filterIds({ folder: '2020/coast' })).toEqual([1, 2]);
    expect(store.filterIds({ folder: '2020/coas' })).toEqual([]);
    expect(store.filterIds({ pathGlob: '2020/**/*.png' })).toEqual([2]);
    expect(store.filterIds({ pathGlob: '*.jpg' })).toEqual([1]);
    expect(store.filterIds({ formats: ['jpg', 'tiff'] })).toEqual([1, 3]);
    expect(store.filterIds({ minBytes: 100, maxBytes: 2000 })).toEqual([3]);
    expect(store.filterIds({ modifiedAfter: new Date(Date.UTC(2021, 0, 1)), modifiedBefore: new Date(Date.UTC(2022, 0, 1)) })).toEqual([3]);
    expect(store.filterIds({ minWidth: 500, minHeight: 500 })).toEqual([2]);
    expect(store.filterIds({ fields: { label: ['beach', 'port'], cloud: { max: 0.5 } } })).toEqual([1]);
    expect(store.filterIds({ fields: { captions: 'sea' } })).toEqual([1]);
    expect(store.getFields([1, 2, 3])).toEqual(
      new Map([
        [1, { label: 'beach', captions: ['sand', 'sea'], cloud: 0.2 }],
        [2, { label: 'port', cloud: 0.9 }],
      ]),
    );
    await store.close();
  });

  it('rebuilds an unreadable HNSW file from the catalog and verify reports it', async () => {
    const store = openIndex(dir, { model, create: true });
    store.commit([0, 1, 2].map((i) => ({ kind: 'put' as const, image: image(`${i}.jpg`), vector: axis(i) })));
    await store.close();
    writeFileSync(path.join(dir, HNSW_FILE), 'garbage');
    const reopened = openIndex(dir, { model });
    expect(reopened.searchBestFirst(axis(2), 1)[0]!.id).toBe(3);
    const report = await reopened.verify();
    expect(report).toMatchObject({ ok: true, checked: { images: 3, vectors: 3 }, unrepaired: [] });
    expect(report.repaired.join('\n')).toMatch(/HNSW file unreadable/);
    expect((await reopened.verify()).repaired).toEqual([]);
    await reopened.close();
  });

  it('replays what a writer killed between checkpoints committed', async () => {
    const script = `
      import { openIndex } from ${JSON.stringify(path.resolve('src/store/index.ts'))};
      const model = ${JSON.stringify(model)};
      const axis = (i) => { const v = new Float32Array(${DIM}); v[i % ${DIM}] = 1; return v; };
      const image = (p) => ({ root: '/archive', path: p, bytes: 1, mtimeMs: 1, contentHash: p, width: 1, height: 1, format: 'png' });
      const store = openIndex(${JSON.stringify(dir)}, { model, create: true });
      store.commit([0, 1, 2, 3].map((i) => ({ kind: 'put', image: image(i + '.png'), vector: axis(i) })));
      await store.checkpoint();
      store.commit([{ kind: 'remove', id: 1 }, { kind: 'put', image: image('2.png'), vector: axis(6) }, { kind: 'put', image: image('9.png'), vector: axis(7) }]);
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    const reader = openIndex(dir, { readonly: true });
    expect(reader.stats().hnsw.size).toBe(4);
    expect(reader.searchBestFirst(axis(0), 10).map((r) => r.id)).not.toContain(1);
    expect(reader.searchBestFirst(axis(6), 1)[0]).toEqual({ id: 3, score: expect.closeTo(1, 5) });
    expect(reader.searchBestFirst(axis(7), 1)[0]!.id).toBe(5);
    await reader.close();
    const writer = openIndex(dir, { model }); // stale lock taken over
    expect((await writer.verify()).ok).toBe(true);
    await writer.close();
  });
});
