/**
 * A full disk under the index (a small tmpfs the test mounts; skipped with the reason where it
 * cannot): every write either lands whole or fails with one line that says what was kept; the
 * graph file recorded in the catalog is always the complete one; once there is room again the
 * index opens, verifies and answers for everything that was committed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { openIndex, type IndexStore, type OpenIndexOptions } from '../../src/store/index.js';
import { copyIndex } from '../../src/store/postgres/index-copy.js';
import { mountSmallFs, smallFsUnavailable, type SmallFs } from '../fixtures/small-fs.js';
import { MODEL } from './backends.js';

const unavailable = smallFsUnavailable();
if (unavailable) console.warn(`[rsclip tests] skipping the full-disk tests: ${unavailable}`);

const DIM = 64;
const model = { ...MODEL, embeddingDim: DIM };

function vectorOf(i: number): Float32Array {
  const v = Float32Array.from({ length: DIM }, (_, j) => Math.sin(i * 7.1 + j * 1.3));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const put = (i: number) => ({
  kind: 'put' as const,
  file: { root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' },
  vector: vectorOf(i),
});

/** The graph file is either absent and never recorded, or exactly the file whose sha256 the catalog recorded. */
function expectRecordedGraphIntact(index: string): void {
  const db = new Database(path.join(index, 'catalog.sqlite'), { readonly: true });
  const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  db.close();
  const graph = path.join(index, 'vectors.hnsw');
  if (Number(meta.get('hnsw_seq') ?? -1) < 0) return;
  expect(existsSync(graph)).toBe(true);
  const bytes = readFileSync(graph);
  const sha = createHash('sha256').update(bytes).digest('hex');
  expect([meta.get('hnsw_sha256'), meta.get('hnsw_next_sha256')]).toContain(sha);
}

let fs: SmallFs | undefined;

/** A small file system of `bytes`, filled to about `freeKiB` left (in pieces the tmpfs still takes). */
function fillSmallFs(bytes: number, freeKiB: number): SmallFs {
  const mounted = mountSmallFs(bytes);
  if (typeof mounted === 'string') throw new Error(mounted);
  const filler = path.join(mounted.dir, 'filler');
  for (let size = 256 * 1024; size >= 4096; size >>= 1) {
    try {
      writeFileSync(`${filler}${size}`, Buffer.alloc(size));
    } catch {
      rmSync(`${filler}${size}`, { force: true });
    }
  }
  if (freeKiB > 0) for (let size = 4096; size < freeKiB * 1024; size *= 2) rmSync(`${filler}${size}`, { force: true });
  return mounted;
}
afterEach(() => {
  fs?.dispose();
  fs = undefined;
});

// write-only: the graph thread of `rsclip index --queue`'s coordinator writes the file
describe.skipIf(unavailable !== undefined).each([{ writeOnly: false }, { writeOnly: true }])('a full disk under the index (write-only $writeOnly)', ({ writeOnly }) => {
  it('fails a commit or a checkpoint with one line saying what was kept, records only complete graph files, and loses nothing committed', async () => {
    const mounted = mountSmallFs(1536 * 1024);
    if (typeof mounted === 'string') throw new Error(mounted);
    fs = mounted;
    const index = path.join(fs.dir, 'index');
    let store: IndexStore = await openIndex(index, { model, create: true, checkpointIntervalMs: 0, writeOnly });
    let committed = 0;
    let failure: unknown;
    for (let batch = 0; batch < 200 && failure === undefined; batch++) {
      try {
        await store.commit(Array.from({ length: 20 }, (_, j) => put(committed + j)));
        committed += 20;
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(RsclipError);
    const error = failure as RsclipError;
    expect(error.code).toBe('INDEX_UNWRITABLE');
    expect(error.toOneLine()).not.toContain('\n');
    expect(error.message).toMatch(/no space left on the device; (the catalog keeps every commit and the previous graph file was kept|this change was not written; every earlier commit is kept)/);
    expect(committed).toBeGreaterThan(0);
    await store.close().catch((e: unknown) => expect((e as RsclipError).code).toBe('INDEX_UNWRITABLE'));
    expectRecordedGraphIntact(index);

    fs.remount('size=64m');
    store = await openIndex(index, { model });
    expect(await store.verify()).toMatchObject({ ok: true, unrepaired: [] });
    expect(await store.countItems()).toBeGreaterThanOrEqual(committed);
    for (let i = 0; i < committed; i++) expect((await store.search(vectorOf(i), 1))[0]).toMatchObject({ score: expect.closeTo(1, 4) });
    await store.close();
    expectRecordedGraphIntact(index);
  });

  it('keeps the previous graph file when a checkpoint cannot be written, and says so', async () => {
    const mounted = mountSmallFs(2 * 1024 * 1024);
    if (typeof mounted === 'string') throw new Error(mounted);
    fs = mounted;
    const index = path.join(fs.dir, 'index');
    const store = await openIndex(index, { model, create: true, writeOnly });
    await store.commit(Array.from({ length: 100 }, (_, i) => put(i)));
    await store.flush();
    const before = readFileSync(path.join(index, 'vectors.hnsw'));
    await store.commit(Array.from({ length: 400 }, (_, i) => put(100 + i)));
    // leave almost no room: the catalog's WAL already holds the commit, the graph file must grow
    const filler = path.join(fs.dir, 'filler');
    for (let size = 1 << 20; size >= 4096; size >>= 1) {
      try {
        writeFileSync(filler + size, Buffer.alloc(size));
      } catch {
        rmSync(filler + size, { force: true });
      }
    }
    const error = await store.flush().then(
      () => undefined,
      (e: unknown) => e as RsclipError,
    );
    expect(error).toMatchObject({ code: 'INDEX_UNWRITABLE', message: expect.stringMatching(/^cannot write the HNSW graph .*: no space left on the device; the catalog keeps every commit and the previous graph file was kept$/) });
    expect(readFileSync(path.join(index, 'vectors.hnsw')).equals(before)).toBe(true);
    expect(existsSync(path.join(index, `vectors.hnsw.tmp-${process.pid}`))).toBe(false);
    expectRecordedGraphIntact(index);
    fs.remount('size=64m');
    await store.close();
    const reader = await openIndex(index, { readonly: true });
    expect(await reader.countItems()).toBe(500);
    expect((await reader.search(vectorOf(450), 1))[0]).toMatchObject({ score: expect.closeTo(1, 4) });
    await reader.close();
  });
});

describe.skipIf(unavailable !== undefined)('a full disk as an index is created', () => {
  it('is said to be full, not a damaged catalog, however little room is left; with room again the same create works', async () => {
    for (const freeKiB of [0, 16, 64, 160]) {
      fs = fillSmallFs(512 * 1024, freeKiB);
      const index = path.join(fs.dir, 'index');
      const error = await openIndex(index, { model, create: true }).then(
        async (store) => {
          await store.close();
          return undefined;
        },
        (e: unknown) => e as RsclipError,
      );
      if (error !== undefined) {
        expect(error, `${freeKiB} KiB free`).toBeInstanceOf(RsclipError);
        expect(error.code, `${freeKiB} KiB free: ${error.message}`).not.toBe('INDEX_CORRUPT');
        expect(error.message).toMatch(/no space left on the device/);
      }
      fs.remount('size=64m');
      const store = await openIndex(index, { model, create: true });
      await store.commit([put(1)]);
      expect(await store.verify()).toMatchObject({ ok: true, unrepaired: [] });
      await store.close();
      fs.dispose();
      fs = undefined;
    }
  });
});

describe.skipIf(unavailable !== undefined)('a full disk under doctor --repair', () => {
  it('is said to be full, with the room the rebuild needs, leaving the damaged catalog as it was; with room again the same repair works', async () => {
    const mounted = mountSmallFs(16 * 1024 * 1024);
    if (typeof mounted === 'string') throw new Error(mounted);
    fs = mounted;
    const index = path.join(fs.dir, 'index');
    const store = await openIndex(index, { model, create: true });
    for (let i = 0; i < 2000; i += 200) await store.commit(Array.from({ length: 200 }, (_, j) => put(i + j)));
    await store.close();
    // a zeroed leaf of the vectors table: REINDEX cannot read it, so the rows are copied into a new catalog
    const file = path.join(index, 'catalog.sqlite');
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const leaf = (db.prepare("SELECT pageno FROM dbstat WHERE name = 'vectors' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 3").get() as { pageno: number }).pageno;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const bytes = readFileSync(file);
    bytes.fill(0, (leaf - 1) * pageSize, leaf * pageSize);
    writeFileSync(file, bytes);
    // fill the disk to about 64 KiB left, in pieces the tmpfs still takes
    for (let size = 1 << 20; size >= 4096; size >>= 1) {
      for (let piece = 0; ; piece++) {
        try {
          writeFileSync(path.join(fs.dir, `filler-${size}-${piece}`), Buffer.alloc(size));
        } catch {
          rmSync(path.join(fs.dir, `filler-${size}-${piece}`), { force: true });
          break;
        }
      }
    }
    for (const size of [4096, 8192, 16384, 32768]) rmSync(path.join(fs.dir, `filler-${size}-0`), { force: true });
    const before = readdirSync(index);

    const error = await openIndex(index, { model, catalogCheck: 'repair' }).then(
      async (opened) => {
        await opened.close();
        return undefined;
      },
      (e: unknown) => e as RsclipError,
    );
    expect(error).toBeInstanceOf(RsclipError);
    expect(error, error?.message).toMatchObject({
      code: 'INDEX_UNWRITABLE',
      message: expect.stringMatching(/^cannot rebuild .*catalog\.sqlite: no space left on the device \(the rebuild needs up to about [\d.]+ MiB, [\d.]+ MiB free now\); the damaged catalog was left as it was and nothing was left behind$/),
      hint: expect.stringContaining(`rsclip doctor --repair --index ${index}\` again`),
    });
    expect(readdirSync(index).filter((name) => !before.includes(name) && !/^catalog\.sqlite-(wal|shm)$/.test(name))).toEqual([]);
    expect(readFileSync(file).equals(bytes)).toBe(true);

    // the room it says it needs is enough (it said 0.6 MiB where 2.2 were needed)
    const needed = Number(/needs up to about ([\d.]+) MiB/.exec(error!.message)![1]) * 2 ** 20;
    const { blocks, bfree, bsize } = statfsSync(fs.dir);
    fs.remount(`size=${Math.ceil(((blocks - bfree) * bsize + needed) / 1024)}k`);
    const repaired = await openIndex(index, { model, catalogCheck: 'repair' });
    const report = await repaired.verify();
    expect(report.ok).toBe(true);
    expect(report.repaired.join('\n')).toMatch(/catalog tables were damaged/);
    // the vectors of the zeroed leaf are gone (their files are embedded again by the next run), the rest kept
    expect(await repaired.countItems()).toBeGreaterThan(1800);
    await repaired.close();
  });
});

describe.skipIf(unavailable !== undefined)('a full disk under an index copy', () => {
  it('is said to be full, not a catalog that cannot be opened, however little room is left; with room again the same copy finishes', async () => {
    const source = mkdtempSync(path.join(tmpdir(), 'rsclip-copy-source-'));
    try {
      const store = await openIndex(path.join(source, 'index'), { model, create: true });
      await store.commit(Array.from({ length: 300 }, (_, i) => put(i)));
      await store.close();
      for (const freeKiB of [0, 16, 50, 100, 200, 400]) {
        fs = fillSmallFs(512 * 1024, freeKiB);
        const target = path.join(fs.dir, 'copy');
        const error = await copyIndex(path.join(source, 'index'), target).then(
          () => undefined,
          (e: unknown) => e as RsclipError,
        );
        if (error !== undefined) {
          expect(error, `${freeKiB} KiB free: ${String(error)} ${(error as Error).stack}`).toBeInstanceOf(RsclipError);
          expect(error.message, `${freeKiB} KiB free`).toMatch(/no space left on the device/);
        }
        fs.remount('size=64m');
        await copyIndex(path.join(source, 'index'), target);
        const copied = await openIndex(target, { readonly: true });
        expect(await copied.countItems()).toBe(300);
        await copied.close();
        fs.dispose();
        fs = undefined;
      }
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });
});

/** An index of 20 items on a small file system then filled to the last block. */
async function indexOnAFullDisk(): Promise<string> {
  fs = fillSmallFs(4 * 1024 * 1024, 1024);
  const index = path.join(fs.dir, 'index');
  const store = await openIndex(index, { model, create: true });
  await store.commit(Array.from({ length: 20 }, (_, i) => put(i)));
  await store.close();
  for (let i = 0; ; i++) {
    try {
      writeFileSync(path.join(fs.dir, `rest${i}`), Buffer.alloc(4096));
    } catch {
      return index;
    }
  }
}

/** Why the index cannot be opened so, or undefined when it can. */
function openingError(index: string, options: OpenIndexOptions): Promise<RsclipError | undefined> {
  return openIndex(index, options).then(
    async (opened) => {
      await opened.close();
      return undefined;
    },
    (e: unknown) => e as RsclipError,
  );
}

describe.skipIf(unavailable !== undefined)('a full disk under an index that doctor checks', () => {
  it('refuses to open it for writing, saying the disk is full, with a hint that does not promise a check continues', async () => {
    const index = await indexOnAFullDisk();
    // doctor's open (a full check of the catalog) takes the write lock, as every writer does
    const error = await openingError(index, { catalogCheck: 'full' });
    // the lock or the catalog's shared-memory file, whichever cannot grow first
    expect(error).toMatchObject({ code: 'INDEX_UNWRITABLE', message: expect.stringMatching(/no space left on the device/) });
    // a check has nothing to continue: the hint says which commands do
    expect(error!.hint).toBe('free some space (or move the index to a larger disk) and run the command again (an indexing run or a copy continues where it stopped)');
  });
});

describe.skipIf(unavailable !== undefined)('a full disk under an index that is only read', () => {
  it('is said to be full when SQLite cannot make what it reads with, not that a change was not written', async () => {
    const index = await indexOnAFullDisk();
    const error = await openingError(index, { readonly: true });
    // where SQLite found its WAL index still there, reading needs no room: nothing to say then
    if (error !== undefined) {
      expect(error).toMatchObject({ code: 'INDEX_UNWRITABLE', message: expect.stringMatching(/^cannot open .*catalog\.sqlite to read it: no space left on the device/) });
      expect(error.message).not.toMatch(/not written/);
    }
  });
});
