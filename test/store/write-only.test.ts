/**
 * A write-only embedded store (`rsclip index --queue`'s coordinator) keeps its graph in a thread
 * of its own: the file it leaves holds every commit (added, replaced and removed vectors) so the
 * next open replays nothing; it refuses what needs the graph here; and a crash loses no commit.
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINE_DEFAULTS, openIndex, type CatalogChange, type IndexStore } from '../../src/store/index.js';
import { REPO_ROOT } from '../fixtures/cli.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { model, put, vectorOf } from './write-only-fixtures.js';

let parent: string;
let index: string;
beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-write-only-'));
  index = path.join(parent, 'index');
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

/** The k largest inner products of `query` with the stored vectors, best first. */
function exactTopScores(vectors: Map<number, Float32Array>, query: Float32Array, k: number): number[] {
  const dot = (v: Float32Array) => v.reduce((sum, x, j) => sum + x * query[j]!, 0);
  return [...vectors.values()]
    .map(dot)
    .sort((a, b) => b - a)
    .slice(0, k);
}

describe.each(Object.values(ENGINE_DEFAULTS))('with the $name engine', (engine) => {
  it('leaves a graph file that holds every commit, replaced and removed vectors included, and searches as exact search', async () => {
    const store = await openIndex(index, { model, create: true, engine, writeOnly: true, checkpointIntervalMs: 0 });
    const fileIds: number[] = [];
    for (let i = 0; i < 600; i += 20) {
      const committed = await store.commit(Array.from({ length: 20 }, (_, j) => put(i + j)));
      fileIds.push(...committed.map((c) => c.fileId));
    }
    // new content for files 0-29, files 100-119 removed
    await store.commit(Array.from({ length: 30 }, (_, i) => put(i, vectorOf(10_000 + i), 2)));
    await store.commit(fileIds.slice(100, 120).map((fileId): CatalogChange => ({ kind: 'remove', fileId })));
    await store.close();

    const reopened = await openIndex(index, { model });
    try {
      // nothing replayed or repaired: the file was current
      expect(await reopened.verify()).toEqual(expect.objectContaining({ ok: true, repaired: [], unrepaired: [] }));
      expect(await reopened.countItems()).toBe(580);
      const stored = new Map<number, Float32Array>();
      for await (const [id, vector] of reopened.vectors()) stored.set(id, vector);
      expect(stored.size).toBe(580);
      for (let q = 0; q < 40; q++) {
        const query = vectorOf(20_000 + q);
        // by score: near ties may come in either order
        const found = (await reopened.search(query, 10)).map((r) => r.score);
        expect(found).toEqual(exactTopScores(stored, query, 10).map((score) => expect.closeTo(score, 3)));
      }
      expect((await reopened.search(vectorOf(10_005), 1))[0]).toMatchObject({ score: expect.closeTo(1, 3) });
      expect((await reopened.search(vectorOf(5), 1))[0]!.score).toBeLessThan(0.99);
    } finally {
      await reopened.close();
    }
  });
});

it('refuses searches, counts, stats and verify, and goes on committing', async () => {
  const store: IndexStore = await openIndex(index, { model, create: true, writeOnly: true });
  try {
    await store.commit([put(0)]);
    await expectRsclipError(store.search(vectorOf(0), 1), 'INDEX_WRITE_ONLY');
    await expectRsclipError(store.countItems(), 'INDEX_WRITE_ONLY');
    await expectRsclipError(store.stats(), 'INDEX_WRITE_ONLY');
    await expectRsclipError(store.verify(), 'INDEX_WRITE_ONLY');
    await store.commit([put(1)]);
    await store.flush();
  } finally {
    await store.close();
  }
  const reader = await openIndex(index, { readonly: true });
  expect(await reader.countItems()).toBe(2);
  await reader.close();
});

it("says why its graph thread failed, not that the thread then held no graph (a catalog vector of the wrong length)", async () => {
  const first = await openIndex(index, { model, create: true });
  await first.commit([put(0), put(1), put(2)]);
  await first.close();
  const catalog = new Database(path.join(index, 'catalog.sqlite'));
  catalog.prepare("UPDATE vectors SET embedding = x'' WHERE item_id = (SELECT max(item_id) FROM vectors)").run();
  catalog.close();
  rmSync(path.join(index, 'vectors.hnsw'));
  const store = await openIndex(index, { writeOnly: true });
  const commitAndFlush = async () => {
    await store.commit([put(3)]);
    await store.flush();
  };
  await expectRsclipError(commitAndFlush(), 'INDEX_INCOMPATIBLE', /length 32 but received one of length 0/);
  // closing cannot save the graph either, and says why as well (the store is closed all the same)
  await expectRsclipError(store.close(), 'INDEX_INCOMPATIBLE', /length 0/);
  await expectRsclipError(store.commit([put(4)]), 'INDEX_CLOSED');
});

it('loses no commit when the process is killed before closing, whatever the graph thread had applied', async () => {
  const count = 3000;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'write-only.child.ts'), index, String(count)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, s) => resolve(s)));
  expect(output).toContain('committed');
  expect(signal).toBe('SIGKILL');

  const store = await openIndex(index, { model });
  try {
    expect(await store.verify()).toMatchObject({ ok: true, unrepaired: [] });
    expect(await store.countItems()).toBe(count);
    for (let i = 0; i < count; i += 7) expect((await store.search(vectorOf(i), 1))[0]).toMatchObject({ score: expect.closeTo(1, 3) });
  } finally {
    await store.close();
  }
});
