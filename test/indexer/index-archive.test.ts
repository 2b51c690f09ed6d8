import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { indexArchive, localEmbedder, type Embedder } from '../../src/indexer/index.js';
import { openIndex, type FileStatus, type IndexStore } from '../../src/store/index.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { makePng, writeBadFiles } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { DATASETS_DIR, hasShared } from '../fixtures/shared.js';
import { FakeEncoder } from './fake-encoder.js';

let work: string;
let archive: string;
let indexDir: string;

function writePng(rel: string, seed: number): void {
  const file = path.join(archive, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, makePng(seed));
}

/** Paths of the archive's files with this status (read through a writable handle: readers need no file listing). */
async function catalogPaths(status: FileStatus): Promise<string[]> {
  const store = await openIndex(indexDir, { model: new FakeEncoder().info });
  try {
    return [...(await store.knownFiles(archive))].filter(([, file]) => file.status === status).map(([rel]) => rel).sort();
  } finally {
    await store.close();
  }
}

/** The item of a whole-image file. */
async function itemOf(store: IndexStore, rel: string): Promise<number> {
  const [id] = await store.listItemIds({ filter: { pathGlob: rel } });
  return id!;
}

const graphSize = async (store: IndexStore): Promise<number> => ((await store.stats()).details as { hnsw: { size: number } }).hnsw.size;
const vectorOf = async (store: IndexStore, id: number): Promise<Float32Array> => (await store.getVectors([id])).get(id)!;

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-indexer-'));
  archive = path.join(work, 'archive');
  indexDir = path.join(work, 'index');
  mkdirSync(archive);
});

afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('indexArchive', () => {
  it('indexes every image and skips other files', async () => {
    for (let i = 0; i < 7; i++) writePng(`scene_${i}.png`, i);
    writePng('sub/deeper/x.png', 100);
    writeFileSync(path.join(archive, 'notes.txt'), 'not an image');
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, batchSize: 3 });
    expect(summary).toMatchObject({ scanned: 8, added: 8, updated: 0, removed: 0, reused: 0, embedded: 8, errors: 0, unchanged: 0, interrupted: false });
    expect(encoder.runCount.image).toBe(3);
    const store = await openIndex(indexDir, { readonly: true });
    expect(await store.countFiles('ok')).toBe(8);
    expect(await graphSize(store)).toBe(8);
    expect((await store.findFileByPath(path.join(archive, 'sub/deeper/x.png')))!.path).toBe('sub/deeper/x.png');
    const hit = await itemOf(store, 'sub/deeper/x.png');
    expect((await store.search(await vectorOf(store, hit), 1))[0]!.id).toBe(hit);
    await store.close();
  });

  it('reports the save phase once every file is committed, before the store saves, and finishes after it', async () => {
    for (let i = 0; i < 5; i++) writePng(`s${i}.png`, i);
    const encoder = new FakeEncoder();
    const store = await openIndex(indexDir, { model: encoder.info, create: true });
    const seen: string[] = [];
    const flush = store.flush.bind(store);
    vi.spyOn(store, 'flush').mockImplementation(async () => {
      seen.push('store flush');
      await flush();
    });
    try {
      await indexArchive({ roots: [archive], store, encoder, batchSize: 2, onProgress: (p) => seen.push(`${p.phase} ${p.done}/${p.total}`) });
    } finally {
      await store.close();
    }
    expect(seen.slice(-3)).toEqual(['save 5/5', 'store flush', 'finish 5/5']);
  });

  it('re-indexes an unchanged archive with zero model calls', async () => {
    for (let i = 0; i < 5; i++) writePng(`a${i}.png`, i);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    expect(summary).toMatchObject({ scanned: 5, added: 0, updated: 0, removed: 0, reused: 0, embedded: 0, errors: 0, unchanged: 5 });
    expect(encoder.runCount.image).toBe(0);
  });

  it('applies adds, modifications, deletions, renames and duplicates exactly', async () => {
    writePng('keep.png', 1);
    writePng('modify.png', 2);
    writePng('delete.png', 3);
    writePng('rename-me.png', 4);
    writePng('original.png', 5);
    writePng('touched.png', 6);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    let store = await openIndex(indexDir, { readonly: true });
    const renamedVector = await vectorOf(store, await itemOf(store, 'rename-me.png'));
    const deletedItem = await itemOf(store, 'delete.png');
    await store.close();

    writePng('new.png', 7);
    writePng('modify.png', 22);
    utimesSync(path.join(archive, 'modify.png'), new Date(), new Date(Date.now() + 5000));
    unlinkSync(path.join(archive, 'delete.png'));
    renameSync(path.join(archive, 'rename-me.png'), path.join(archive, 'now-here.png'));
    copyFileSync(path.join(archive, 'original.png'), path.join(archive, 'copy-of-original.png'));
    utimesSync(path.join(archive, 'touched.png'), new Date(), new Date(Date.now() + 10_000));

    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    // unchanged: keep.png, original.png, and touched.png (new mtime, same content)
    expect(summary).toMatchObject({ scanned: 7, added: 3, updated: 1, removed: 2, reused: 2, embedded: 2, errors: 0, unchanged: 3 });
    expect(encoder.embeddedImages).toBe(2); // new.png and modify.png only

    store = await openIndex(indexDir, { readonly: true });
    expect(await catalogPaths('ok')).toEqual(['copy-of-original.png', 'keep.png', 'modify.png', 'new.png', 'now-here.png', 'original.png', 'touched.png']);
    expect(await catalogPaths('removed')).toEqual(['delete.png', 'rename-me.png']);
    expect(await graphSize(store)).toBe(7);
    expect(Array.from(await vectorOf(store, await itemOf(store, 'now-here.png')))).toEqual(Array.from(renamedVector));
    // removed files are gone from search
    const ids = (await store.search(renamedVector, 10)).map((r) => r.id);
    expect(ids).not.toContain(deletedItem);
    expect(ids).toHaveLength(7);
    await store.close();
  });

  it('embeds identical new files once within one run', async () => {
    writePng('a.png', 9);
    copyFileSync(path.join(archive, 'a.png'), path.join(archive, 'b.png'));
    copyFileSync(path.join(archive, 'a.png'), path.join(archive, 'c.png'));
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, batchSize: 1, decoders: 3 });
    expect(summary).toMatchObject({ added: 3, reused: 2, embedded: 1 });
    expect(encoder.embeddedImages).toBe(1);
  });

  it('records bad files as errors, indexes the good ones, and retries a bad file only when it changes', async () => {
    for (let i = 0; i < 4; i++) writePng(`good/g${i}.png`, i);
    writeFileSync(path.join(archive, 'good/png-named.jpg'), makePng(77)); // readable: the decoder sniffs content
    const { bad } = writeBadFiles(archive);
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ added: 5, errors: Object.keys(bad).length });
    const store = await openIndex(indexDir, { readonly: true });
    expect(await catalogPaths('error')).toEqual(Object.keys(bad).sort());
    for (const rel of Object.keys(bad)) {
      expect((await store.findFileByPath(path.join(archive, rel)))!.error, rel).toMatch(/\w/);
    }
    expect((await store.findFileByPath(path.join(archive, 'bad/empty.png')))!.error).toMatch(/empty/);
    expect(await graphSize(store)).toBe(5);
    await store.close();

    const again = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(again).toMatchObject({ errors: 0, unchanged: 5 + Object.keys(bad).length });
    writeFileSync(path.join(archive, 'bad/truncated.png'), makePng(55));
    const fixed = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(fixed).toMatchObject({ errors: 0, updated: 1, embedded: 1 });
  });

  it("tells a truncated JPEG's reason once, though libvips gives it at each attempt", async () => {
    const noise = Buffer.from(Array.from({ length: 256 * 256 * 3 }, (_, i) => (i * 7919) % 251));
    const jpeg = await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    // 200 bytes: a header libvips calls corrupt, which sharp's own words precede
    for (const size of [200, 0.2, 0.4, 0.6, 0.8].map((share) => (share > 1 ? share : Math.floor(jpeg.length * share)))) writeFileSync(path.join(archive, `cut-${size}.jpg`), jpeg.subarray(0, size));
    // the model's own decoding (the fake encoder reads PNG only)
    expect(await indexInto({ roots: [archive], index: indexDir, model: await tinyModelDir(), threads: 1 })).toMatchObject({ errors: 5 });
    const store = await openIndex(indexDir, { readonly: true });
    const errors = (await store.listFiles('error')).map((f) => f.error!);
    await store.close();
    for (const error of errors) {
      expect(error).toMatch(/^cannot read image .*cut-\d+\.jpg: /);
      const reason = error.replace(/^cannot read image .*?\.jpg: /, '').replace(/ \(check that .*$/, '');
      expect(reason.split('; ').length, error).toBe(new Set(reason.split('; ')).size);
      expect(reason, error).not.toMatch(/(.{12,}) \1/);
    }
  });

  if (!hasShared) console.warn(`[rsclip tests] skipping the RSICD JPEG's error message in index-archive.test.ts: ${DATASETS_DIR} is absent`);
  it.skipIf(!hasShared)("tells the first 200 bytes of an RSICD JPEG (a header libvips calls corrupt) each reason once", async () => {
    writeFileSync(path.join(archive, 'head.jpg'), readFileSync(path.join(DATASETS_DIR, 'rsicd-test/images/00641.jpg')).subarray(0, 200));
    expect(await indexInto({ roots: [archive], index: indexDir, model: await tinyModelDir(), threads: 1 })).toMatchObject({ errors: 1 });
    const store = await openIndex(indexDir, { readonly: true });
    const [failed] = await store.listFiles('error');
    await store.close();
    const reason = failed!.error!.replace(/^cannot read image .*?head\.jpg: /, '').replace(/ \(check that .*$/, '');
    expect(reason).toMatch(/^corrupt header: VipsJpeg: /);
    const parts = reason.replace(/^corrupt header: /, '').split('; ');
    expect(new Set(parts).size, reason).toBe(parts.length);
  });

  it('survives symlink loops and keeps files of a folder it cannot read', async () => {
    writePng('a/one.png', 1);
    writePng('b/two.png', 2);
    symlinkSync(archive, path.join(archive, 'a/loop'));
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ scanned: 2, added: 2, symlinkLoops: ['a/loop'] });
    rmSync(path.join(archive, 'a/loop'));
    // a folder replaced by something unreadable: a dangling symlink to a folder
    rmSync(path.join(archive, 'b'), { recursive: true });
    symlinkSync(path.join(work, 'missing'), path.join(archive, 'b'));
    const second = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    // a dangling link is not a folder that failed to read: b/two.png is gone
    expect(second).toMatchObject({ scanned: 1, removed: 1 });
  });

  // root reads everything, so permissions cannot make a file unreadable there
  it.skipIf(process.getuid?.() === 0)('records an unreadable file as an error and keeps the files of an unreadable folder', async () => {
    writePng('open/a.png', 1);
    writePng('locked/b.png', 2);
    writePng('secret.png', 3);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    writePng('secret.png', 4);
    chmodSync(path.join(archive, 'secret.png'), 0o000);
    chmodSync(path.join(archive, 'locked'), 0o000);
    try {
      const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
      expect(summary).toMatchObject({ errors: 1, removed: 0, unreadableFolders: ['locked'] });
      const store = await openIndex(indexDir, { readonly: true });
      expect(await store.findFileByPath(path.join(archive, 'secret.png'))).toMatchObject({ status: 'error', error: expect.stringMatching(/EACCES/) });
      expect((await store.findFileByPath(path.join(archive, 'locked/b.png')))!.status).toBe('ok');
      await store.close();
    } finally {
      chmodSync(path.join(archive, 'locked'), 0o755);
      chmodSync(path.join(archive, 'secret.png'), 0o644);
    }
  });

  it('honours include and exclude globs', async () => {
    writePng('x/keep.png', 1);
    writePng('x/skip.png', 2);
    writePng('y/other.png', 3);
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), include: ['x/**'], exclude: ['skip.png'] });
    expect(summary).toMatchObject({ scanned: 1, added: 1 });
  });

  it('refuses to update an index with another model', async () => {
    writePng('a.png', 1);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const other = new FakeEncoder({ fingerprint: '0'.repeat(64) });
    await expectRsclipError(indexInto({ roots: [archive], index: indexDir, model: other }), 'INDEX_INCOMPATIBLE', /built with model fake-clip \(fp32, ffffffffffff\); you asked for fake-clip \(fp32, 000000000000\)/);
    // the same check where an open store meets an encoder
    const store = await openIndex(indexDir, {});
    try {
      await expectRsclipError(indexArchive({ roots: [archive], store, encoder: other }), 'INDEX_INCOMPATIBLE', /you asked for fake-clip \(fp32, 000000000000\)/);
    } finally {
      await store.close();
    }
  });

  it('needs a store open for writing', async () => {
    writePng('a.png', 1);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const reader = await openIndex(indexDir, { readonly: true });
    try {
      await expectRsclipError(indexArchive({ roots: [archive], store: reader, encoder: new FakeEncoder() }), 'INDEX_READ_ONLY');
    } finally {
      await reader.close();
    }
  });

  it('stops cleanly when aborted, keeping committed batches, and resumes without re-embedding them', async () => {
    for (let i = 0; i < 20; i++) writePng(`s${String(i).padStart(2, '0')}.png`, i);
    const controller = new AbortController();
    const encoder = new FakeEncoder();
    const summary = await indexInto({
      roots: [archive],
      index: indexDir,
      model: encoder,
      batchSize: 4,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'index' && p.done >= 8) controller.abort();
      },
    });
    expect(summary.interrupted).toBe(true);
    expect(summary.added).toBeGreaterThanOrEqual(8);
    expect(summary.added).toBeLessThan(20);
    const resumed = new FakeEncoder();
    const rest = await indexInto({ roots: [archive], index: indexDir, model: resumed, batchSize: 4 });
    expect(rest.added).toBe(20 - summary.added);
    expect(resumed.embeddedImages).toBe(20 - summary.added);
    const store = await openIndex(indexDir, { readonly: true });
    expect(await store.countFiles('ok')).toBe(20);
    expect(await graphSize(store)).toBe(20);
    await store.close();
  });

  it('commits in one store commit the batches whose results arrived while it waited for the oldest', async () => {
    for (let i = 0; i < 8; i++) writePng(`m${i}.png`, i);
    const encoder = new FakeEncoder();
    const local = localEmbedder(encoder);
    // the first batch's results come only once the fourth batch was sent (a slow worker of a fleet)
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let calls = 0;
    const embedder: Embedder = {
      ...local,
      inFlight: 4,
      async embed(batch) {
        const call = ++calls;
        const out = await local.embed(batch);
        if (call === 4) releaseFirst();
        if (call === 1) await firstHeld;
        return out;
      },
    };
    const store = await openIndex(indexDir, { model: encoder.info, create: true });
    const commit = vi.spyOn(store, 'commit');
    const summary = await indexArchive({ roots: [archive], store, encoder, embedder, batchSize: 2 });
    const putsPerCommit = commit.mock.calls.map(([changes]) => changes.reduce((n, c) => n + (c.kind === 'put' && 'items' in c ? c.items.length : 0), 0));
    expect(calls).toBe(4);
    expect(putsPerCommit).toEqual([8]);
    expect(summary).toMatchObject({ added: 8, embedded: 8, errors: 0 });
    expect(await store.countFiles('ok')).toBe(8);
    expect(await graphSize(store)).toBe(8);
    await store.close();
  });

  it("fails a file whose vector a cosine cannot use (a damaged model's NaN, all zeros), indexes the others, and embeds it again when errors are retried", async () => {
    for (const name of ['ok0', 'nan', 'zero', 'ok1']) writePng(`${name}.png`, name.length + name.charCodeAt(0));
    const encoder = new FakeEncoder();
    const local = localEmbedder(encoder);
    const broken: Embedder = {
      ...local,
      async embed(batch) {
        const out = await local.embed(batch);
        out.results = out.results.map((result, i) => {
          const name = path.basename(batch[i]!.job.row.path, '.png');
          if (!('vector' in result) || (name !== 'nan' && name !== 'zero')) return result;
          return { ...result, vector: name === 'nan' ? result.vector.map((x, j) => (j === 5 ? Number.NaN : x)) : new Float32Array(result.vector.length) };
        });
        return out;
      },
    };
    const store = await openIndex(indexDir, { model: encoder.info, create: true });
    const summary = await indexArchive({ roots: [archive], store, encoder, embedder: broken });
    expect(summary).toMatchObject({ added: 2, errors: 2 });
    expect((await store.findFileByPath(path.join(archive, 'nan.png')))!.error).toMatch(/the model gave it a vector with NaN at position 5: is the model damaged/);
    expect((await store.findFileByPath(path.join(archive, 'zero.png')))!.error).toMatch(/every component zero/);
    expect(await graphSize(store)).toBe(2);
    // the same model fixed: the failed files are embedded again (their error was the model's, not the file's)
    expect(await indexArchive({ roots: [archive], store, encoder, retryErrors: true })).toMatchObject({ errors: 0, embedded: 2 });
    expect(await graphSize(store)).toBe(4);
    await store.close();
  });

  it('embeds again a file that verify queued, though its size and mtime are unchanged', async () => {
    writePng('a.png', 1);
    writePng('b.png', 2);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const db = new Database(path.join(indexDir, 'catalog.sqlite'));
    db.prepare("DELETE FROM vectors WHERE item_id = (SELECT it.id FROM items it JOIN files f ON f.id = it.file_id WHERE f.path = 'b.png')").run();
    db.close();
    const repairing = await openIndex(indexDir);
    expect((await repairing.verify()).repaired).toContainEqual(expect.stringMatching(/1 items of ok images had no vector/));
    await repairing.close();
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    expect(summary).toMatchObject({ updated: 1, embedded: 1, unchanged: 1, errors: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    expect(await store.countItems()).toBe(2);
    await store.close();
  });

  it('imports user fields from a sidecar and filters on them', async () => {
    writePng('airport_1.png', 1);
    writePng('beach_2.png', 2);
    writeFileSync(path.join(work, 'labels.tsv'), 'filename\tlabel\tcloud\nairport_1.png\tairport\t0.1\nbeach_2.png\tbeach\t0.7\nmissing.png\tx\t1\n');
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), fields: path.join(work, 'labels.tsv') });
    expect(summary.fields).toEqual({ records: 3, fields: ['cloud', 'label'], unmatched: 1 });
    const store = await openIndex(indexDir, { readonly: true });
    const beach = await store.listItemIds({ filter: { fields: { label: 'beach' } } });
    expect((await store.getItems(beach)).map((item) => item.file.path)).toEqual(['beach_2.png']);
    expect(await store.listItemIds({ filter: { fields: { cloud: { max: 0.5 } } } })).toHaveLength(1);
    expect((await store.getFields(beach)).get(beach[0]!)).toEqual({ label: 'beach', cloud: 0.7 });
    await store.close();
  });

  it('refuses a sidecar it cannot import before it embeds anything', async () => {
    writePng('airport_1.png', 1);
    writeFileSync(path.join(work, 'clash.csv'), 'path,label\na/x.png,airport\nb/x.png,beach\n');
    const encoder = new FakeEncoder();
    await expect(indexInto({ roots: [archive], index: indexDir, model: encoder, fields: path.join(work, 'clash.csv') })).rejects.toThrow(/gives different fields to the file name x\.png/);
    expect(encoder.embeddedImages).toBe(0);
  });
});
