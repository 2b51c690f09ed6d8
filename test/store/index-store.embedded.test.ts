/**
 * The embedded back end beyond the shared contract: its files (write lock, graph file,
 * catalog schema), crash recovery and repairs that need raw access to catalog.sqlite.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as library from '../../src/index.js';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { GRAPH_FILE } from '../../src/store/embedded/graph-sync.js';
import { FIRST_SCHEMA_SQL, migrate, SCHEMA_VERSION } from '../../src/store/embedded/schema.js';
import { LOCK_FILE } from '../../src/store/embedded/write-lock.js';
import { HnswIndex } from '../../src/store/hnsw-index.js';
import * as store from '../../src/store/index.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { axis, BACKENDS, DIM, MODEL, newFile } from './backends.js';

const embedded = BACKENDS.find((b) => b.embedded)!;
let dir: string;
let dispose: () => void;
beforeEach(() => ({ location: dir, dispose } = embedded.newLocation()));
afterEach(() => dispose());

describe('the embedded back end', () => {
  it('lets one writer in at a time, takes over a lock left by a dead process, and lets readers in meanwhile', async () => {
    const writer = await embedded.open(dir, { model: MODEL, create: true });
    await expectRsclipError(embedded.open(dir, { model: MODEL }), 'INDEX_LOCKED');
    const reader = await embedded.open(dir, { readonly: true });
    await writer.close();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: 'then' }));
    const again = await embedded.open(dir, { model: MODEL });
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await again.close();
    await reader.close();
  });

  it('refuses a catalog from a newer rsclip', () => {
    const newer = { pragma: () => 99 } as unknown as Parameters<typeof migrate>[0];
    expect(() => migrate(newer, 'catalog.sqlite')).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', hint: 'update rsclip' }));
  });

  it('rebuilds an unreadable HNSW file from the catalog and verify reports it', async () => {
    const writer = await embedded.open(dir, { model: MODEL, create: true });
    const ids = await writer.commit([0, 1, 2].map((i) => ({ kind: 'put' as const, file: newFile(`${i}.jpg`), vector: axis(i) })));
    await writer.close();
    writeFileSync(path.join(dir, GRAPH_FILE), 'garbage');
    const reopened = await embedded.open(dir, { model: MODEL });
    expect((await reopened.search(axis(2), 1))[0]!.id).toBe(ids[2]);
    const report = await reopened.verify();
    expect(report).toMatchObject({ ok: true, checked: { images: 3, vectors: 3 }, unrepaired: [] });
    expect(report.repaired.join('\n')).toMatch(/HNSW file unreadable/);
    expect((await reopened.verify()).repaired).toEqual([]);
    await reopened.close();
    // the repaired file loads as it is
    expect(HnswIndex.load(path.join(dir, GRAPH_FILE), DIM).ids()).toEqual(ids);
  });

  it('replays what a writer killed between checkpoints committed', async () => {
    const script = `
      import { openIndex } from ${JSON.stringify(path.resolve('src/store/index.ts'))};
      const model = ${JSON.stringify(MODEL)};
      const axis = (i) => { const v = new Float32Array(${DIM}); v[i % ${DIM}] = 1; return v; };
      const file = (p) => ({ root: '/archive', path: p, bytes: 1, mtimeMs: 1, contentHash: p, width: 1, height: 1, format: 'png' });
      const store = await openIndex(${JSON.stringify(dir)}, { model, create: true });
      await store.commit([0, 1, 2, 3].map((i) => ({ kind: 'put', file: file(i + '.png'), vector: axis(i) })));
      await store.flush();
      await store.commit([{ kind: 'remove', fileId: 1 }, { kind: 'put', file: file('2.png'), vector: axis(6) }, { kind: 'put', file: file('9.png'), vector: axis(7) }]);
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    const reader = await embedded.open(dir, { readonly: true });
    expect((await reader.stats()).details).toMatchObject({ hnsw: { size: 4 } });
    expect((await reader.search(axis(0), 10)).map((r) => r.id)).not.toContain(1);
    expect((await reader.search(axis(6), 1))[0]).toEqual({ id: 3, score: expect.closeTo(1, 5) });
    expect((await reader.search(axis(7), 1))[0]!.id).toBe(5);
    await reader.close();
    const writer = await embedded.open(dir, { model: MODEL }); // stale lock taken over
    expect((await writer.verify()).ok).toBe(true);
    await writer.close();
  });

  it('queues files whose vector is missing or invalid for embedding again, as an explicit state', async () => {
    const writer = await embedded.open(dir, { model: MODEL, create: true });
    const [a, b, c] = await writer.commit(['a.jpg', 'b.jpg', 'c.jpg'].map((p, i) => ({ kind: 'put' as const, file: newFile(p), vector: axis(i) })));
    await writer.close();
    const db = new Database(path.join(dir, CATALOG_FILE));
    db.prepare('DELETE FROM vectors WHERE image_id = ?').run(a);
    db.prepare('UPDATE vectors SET embedding = ? WHERE image_id = ?').run(Buffer.alloc(DIM * 4 + 4), b);
    db.close();
    const repairing = await embedded.open(dir, { model: MODEL });
    const report = await repairing.verify();
    expect(report.repaired).toEqual(expect.arrayContaining([expect.stringMatching(/1 invalid vectors dropped/), expect.stringMatching(/1 ok images had no vector/)]));
    const known = await repairing.knownFiles('/archive');
    expect([known.get('a.jpg'), known.get('b.jpg'), known.get('c.jpg')].map((k) => [k!.status, k!.needsEmbedding])).toEqual([
      ['error', true],
      ['error', true],
      ['ok', false],
    ]);
    expect(known.get('a.jpg')!.bytes).toBe(1000); // the size stays true
    expect((await repairing.search(axis(0), 5)).map((r) => r.id)).toEqual([c]);
    await repairing.commit([{ kind: 'put', file: newFile('a.jpg'), vector: axis(0) }]);
    expect((await repairing.knownFiles('/archive')).get('a.jpg')).toMatchObject({ status: 'ok', needsEmbedding: false });
    await repairing.close();
  });

  it('opens an index made by rsclip 0.1 (schema 1) read-only as it is, and upgrades it on the next update', async () => {
    mkdirSync(dir, { recursive: true });
    const db = new Database(path.join(dir, CATALOG_FILE));
    db.exec(FIRST_SCHEMA_SQL);
    db.pragma('user_version = 1');
    const meta = { model_id: MODEL.id, model_fingerprint: MODEL.fingerprint, embedding_dim: DIM, metric: 'cosine', hnsw_m: 16, hnsw_ef_construction: 200, hnsw_seed: 100, created_at: 'then', commit_seq: 2, hnsw_seq: -1 };
    for (const [key, value] of Object.entries(meta)) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, String(value));
    const insert = db.prepare("INSERT INTO images (root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq) VALUES ('/archive', ?, ?, ?, 1, ?, 4, 4, 'png', ?, ?, 1, ?)");
    insert.run('a.png', 'a.png', 10, 'ha', 'ok', null, 1);
    // how rsclip 0.1's verify queued a file for embedding again
    insert.run('b.png', 'b.png', -1, 'hb', 'error', 'vector missing or invalid; re-embedded by the next `rsclip index`', 2);
    db.prepare('INSERT INTO vectors (image_id, embedding) VALUES (1, ?)').run(Buffer.from(axis(3).buffer));
    db.close();

    const reader = await embedded.open(dir, { readonly: true });
    expect(reader.meta).toMatchObject({ schemaVersion: 1, engine: { name: 'hnswlib', M: 16 }, modelId: MODEL.id });
    expect(await reader.search(axis(3), 5)).toEqual([{ id: 1, score: expect.closeTo(1, 5) }]);
    await reader.close();

    const writer = await embedded.open(dir, { model: MODEL });
    expect(writer.meta.schemaVersion).toBe(SCHEMA_VERSION);
    expect((await writer.knownFiles('/archive')).get('b.png')).toMatchObject({ status: 'error', needsEmbedding: true });
    await writer.commit([{ kind: 'put', file: newFile('c.png'), vector: axis(4) }]);
    await writer.close();
    const upgraded = new Database(path.join(dir, CATALOG_FILE), { readonly: true });
    expect(upgraded.prepare("SELECT value FROM meta WHERE key = 'engine'").get()).toEqual({ value: 'hnswlib' });
    upgraded.close();
  });

  it('refuses an index that records an engine or a metric this rsclip lacks', async () => {
    await (await embedded.open(dir, { model: MODEL, create: true })).close();
    for (const [key, value, pattern] of [
      ['engine', 'usearch', /vector engine "usearch"/],
      ['metric', 'l2', /metric "l2"/],
    ] as const) {
      const db = new Database(path.join(dir, CATALOG_FILE));
      const before = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string };
      db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(value, key);
      db.close();
      await expectRsclipError(embedded.open(dir, { readonly: true }), 'INDEX_INCOMPATIBLE', pattern);
      const restore = new Database(path.join(dir, CATALOG_FILE));
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
