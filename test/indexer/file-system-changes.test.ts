/**
 * What real file systems do under an index: contents swapped or rewritten with their size and
 * mtime kept (only the ctime tells), folders emptied or moved, files that change or go away
 * while a run reads them, and roots that are one folder under two names.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ImageSource } from '../../src/model/index.js';
import { openIndex } from '../../src/store/index.js';
import { makePng, pngChunk } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from './fake-encoder.js';

let work: string;
let archive: string;
let indexDir: string;

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-fs-changes-'));
  archive = path.join(work, 'archive');
  indexDir = path.join(work, 'index');
  mkdirSync(archive);
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(work, { recursive: true, force: true });
});

/** A PNG of `seed` padded with a text chunk to exactly `bytes` bytes (same-size files). */
function pngOfSize(seed: number, bytes: number): Buffer {
  const png = makePng(seed);
  const end = png.length - 12; // IEND
  return Buffer.concat([png.subarray(0, end), pngChunk('tEXt', Buffer.alloc(bytes - png.length - 12, 0x20)), png.subarray(end)]);
}

const at = (rel: string): string => path.join(archive, rel);

/** The vector of a whole-image file. */
async function vectorOf(rel: string): Promise<number[]> {
  const store = await openIndex(indexDir, { readonly: true });
  try {
    const [id] = await store.listItemIds({ filter: { pathGlob: rel } });
    return Array.from((await store.getVectors([id!])).get(id!)!);
  } finally {
    await store.close();
  }
}

/** Rows are written as if 5 s later: their files' ctimes are then well before them, as for files not touched during a run. */
function commitLater(): void {
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 5000);
}

describe('a change that keeps size and mtime', () => {
  it('is found by its ctime: swapped contents are indexed again, and the next run hashes nothing', async () => {
    const when = new Date('2024-01-01T00:00:00Z');
    for (const [i, name] of ['a.png', 'b.png', 'c.png'].entries()) {
      writeFileSync(at(name), pngOfSize(i + 1, 4000));
      utimesSync(at(name), when, when);
    }
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const [a, b] = [await vectorOf('a.png'), await vectorOf('b.png')];
    renameSync(at('a.png'), at('tmp.png'));
    renameSync(at('b.png'), at('a.png'));
    renameSync(at('tmp.png'), at('b.png'));
    commitLater();
    const encoder = new FakeEncoder();
    const swapped = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    expect(swapped).toMatchObject({ scanned: 3, updated: 2, reused: 2, embedded: 0, errors: 0 });
    expect(await vectorOf('a.png')).toEqual(b);
    expect(await vectorOf('b.png')).toEqual(a);
    const totals: number[] = [];
    const again = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), onProgress: (p) => totals.push(p.total) });
    expect(again).toMatchObject({ unchanged: 3, updated: 0, embedded: 0 });
    expect(Math.max(...totals)).toBe(0);
  });

  it('finds an in-place edit whose mtime was put back, and touches a file whose content is the same', async () => {
    writeFileSync(at('edit.png'), pngOfSize(1, 4000));
    writeFileSync(at('same.png'), pngOfSize(2, 4000));
    writeFileSync(at('bad.png'), Buffer.alloc(4000, 7));
    // whole seconds, which `touch -r` below puts back exactly
    const when = new Date('2024-01-01T00:00:00Z');
    for (const name of ['edit.png', 'same.png', 'bad.png']) utimesSync(at(name), when, when);
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    writeFileSync(at('edit.png'), pngOfSize(3, 4000));
    // a status change alone (the content rewritten as it was)
    for (const name of ['same.png', 'bad.png']) writeFileSync(at(name), readFileSync(at(name)));
    for (const name of ['edit.png', 'same.png', 'bad.png']) utimesSync(at(name), when, when);
    commitLater();
    const encoder = new FakeEncoder();
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder });
    // same.png and bad.png are touches: no model run, no error counted again
    expect(summary).toMatchObject({ updated: 1, embedded: 1, unchanged: 2, errors: 0 });
    expect(encoder.embeddedImages).toBe(1);
    const store = await openIndex(indexDir, { model: encoder.info });
    const known = await store.knownFiles(archive);
    await store.close();
    expect(known.get('bad.png')).toMatchObject({ status: 'error' });
    // the touch moved the rows' last change past the ctimes: the next run hashes nothing
    for (const name of ['same.png', 'bad.png']) expect(known.get(name)!.indexedAt).toBeGreaterThan(statSync(at(name)).ctimeMs + 1000);
  });
});

describe('an archive folder that holds no image file', () => {
  it('keeps the files the index holds under it, and --forget removes them', async () => {
    writeFileSync(at('a.png'), makePng(1));
    writeFileSync(at('sub.png'), makePng(2));
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    unlinkSync(at('a.png'));
    unlinkSync(at('sub.png'));
    const empty = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(empty).toMatchObject({ scanned: 0, removed: 0, emptyRoots: [{ root: archive, files: 2 }] });
    let store = await openIndex(indexDir, { readonly: true });
    expect(await store.countItems()).toBe(2);
    await store.close();

    rmSync(archive, { recursive: true });
    const forgotten = await indexInto({ roots: [], forget: [archive], index: indexDir, model: new FakeEncoder() });
    expect(forgotten).toMatchObject({ removed: 2, forgotten: [{ root: archive, files: 2 }] });
    store = await openIndex(indexDir, { readonly: true });
    expect(await store.countItems()).toBe(0);
    await store.close();
  });
});

describe('a folder inside an archive folder that holds no image file', () => {
  /** Indexes disk1/a.png, disk1/deep/b.png and disk2/c.png. */
  async function twoDisks(): Promise<void> {
    mkdirSync(at('disk1/deep'), { recursive: true });
    mkdirSync(at('disk2'));
    writeFileSync(at('disk1/a.png'), makePng(1));
    writeFileSync(at('disk1/deep/b.png'), makePng(2));
    writeFileSync(at('disk2/c.png'), makePng(3));
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
  }

  it('keeps the files the index holds under it (an unmounted disk), naming the top-most such folder once; a folder deleted is a deletion', async () => {
    await twoDisks();
    const hold = path.join(work, 'hold');
    renameSync(at('disk1'), hold);
    mkdirSync(at('disk1/deep'), { recursive: true }); // the mount point, and a folder left in it
    writeFileSync(at('disk1/.mounted'), 'not an image');
    const empty = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(empty).toMatchObject({ scanned: 1, removed: 0, emptyRoots: [{ root: archive, folder: at('disk1'), files: 2 }] });
    let store = await openIndex(indexDir, { readonly: true });
    expect(await store.countItems()).toBe(3);
    await store.close();

    // mounted again: nothing is embedded again
    rmSync(at('disk1'), { recursive: true });
    renameSync(hold, at('disk1'));
    const back = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(back).toMatchObject({ added: 0, removed: 0, embedded: 0, unchanged: 3 });
    expect(back.emptyRoots).toBeUndefined();

    // deleted for good: removed
    rmSync(at('disk1'), { recursive: true });
    const deleted = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(deleted).toMatchObject({ removed: 2 });
    expect(deleted.emptyRoots).toBeUndefined();
    store = await openIndex(indexDir, { readonly: true });
    expect(await store.countItems()).toBe(1);
    await store.close();
  });

  it('is not empty when it holds image files the run leaves out (excluded, hidden) or files that now fail: those gone are removed', async () => {
    await twoDisks();
    // disk1's files excluded: removed, as --exclude asks
    const excluded = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), exclude: ['disk1/**'] });
    expect(excluded).toMatchObject({ removed: 2 });
    expect(excluded.emptyRoots).toBeUndefined();
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });

    // only a hidden image left in disk1: the folder is not empty, its files were deleted
    unlinkSync(at('disk1/a.png'));
    unlinkSync(at('disk1/deep/b.png'));
    writeFileSync(at('disk1/deep/._b.png'), makePng(5));
    const hidden = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(hidden).toMatchObject({ removed: 2 });
    expect(hidden.emptyRoots).toBeUndefined();

    // disk2's file replaced by one that fails: the scan found an image file there
    unlinkSync(at('disk2/c.png'));
    writeFileSync(at('disk2/broken.png'), 'not a png');
    const failing = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(failing).toMatchObject({ removed: 1, errors: 1 });
    expect(failing.emptyRoots).toBeUndefined();
  });
});

describe('--forget', () => {
  it('removes what the index holds under a folder inside an archive folder (it need not exist), and refuses a folder under which it holds nothing', async () => {
    mkdirSync(at('old/deep'), { recursive: true });
    writeFileSync(at('old/a.png'), makePng(1));
    writeFileSync(at('old/deep/b.png'), makePng(2));
    writeFileSync(at('older.png'), makePng(3));
    writeFileSync(at('keep.png'), makePng(4));
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    const files = async (): Promise<string[]> => {
      const store = await openIndex(indexDir, { model: new FakeEncoder().info });
      try {
        return [...(await store.knownFiles(archive))].filter(([, row]) => row.status !== 'removed').map(([rel]) => rel).sort();
      } finally {
        await store.close();
      }
    };
    // a typo, a folder never indexed, a folder beside the archive: refused, naming the archive folders
    for (const folder of [`${archive}h`, at('none'), path.join(work, 'other')]) {
      await expect(indexInto({ roots: [], forget: [folder], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: `the index holds no file under ${folder} to forget`,
        hint: expect.stringContaining(`its archive folders: ${archive}`),
      });
    }
    // its files scanned by this run too: refused
    await expect(indexInto({ roots: [archive], forget: [at('old')], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/which this run indexes/) });
    expect(await files()).toEqual(['keep.png', 'old/a.png', 'old/deep/b.png', 'older.png']);

    rmSync(at('old'), { recursive: true });
    // `old` is not `older.png`'s folder
    const forgotten = await indexInto({ roots: [], forget: [at('old')], index: indexDir, model: new FakeEncoder() });
    expect(forgotten).toMatchObject({ removed: 2, forgotten: [{ root: at('old'), files: 2 }] });
    expect(await files()).toEqual(['keep.png', 'older.png']);
    // forgotten already: nothing is held under it any more
    await expect(indexInto({ roots: [], forget: [at('old')], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    // a folder that holds the archive folder: all of it
    expect(await indexInto({ roots: [], forget: [work], index: indexDir, model: new FakeEncoder() })).toMatchObject({ removed: 2, forgotten: [{ root: work, files: 2 }] });
    expect(await files()).toEqual([]);
  });
});

describe('roots', () => {
  it('refuses a root inside another, or one folder under two names', async () => {
    writeFileSync(path.join(mkdirSync(at('sub'), { recursive: true })!, 'a.png'), makePng(1));
    symlinkSync(archive, path.join(work, 'alias'));
    await expect(indexInto({ roots: [archive, at('sub')], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/is inside/) });
    await expect(indexInto({ roots: [path.join(work, 'alias'), archive], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/same folder/) });
  });

  it('refuses a root that is, holds or lies inside a root the index holds, and moves one under a new name with --forget, reusing its vectors', async () => {
    writeFileSync(path.join(mkdirSync(at('sub'), { recursive: true })!, 'a.png'), makePng(1));
    writeFileSync(at('b.png'), makePng(2));
    const alias = path.join(work, 'alias');
    symlinkSync(archive, alias);
    await indexInto({ roots: [at('sub')], index: indexDir, model: new FakeEncoder() });
    // the archive holds the indexed sub-folder: its file would be indexed twice
    await expect(indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/holds .*sub, which the index holds/), hint: expect.stringContaining(`--forget ${at('sub')}`) });
    const moved = await indexInto({ roots: [archive], forget: [at('sub')], index: indexDir, model: new FakeEncoder() });
    expect(moved).toMatchObject({ added: 2, reused: 1, embedded: 1, removed: 1 });
    await expect(indexInto({ roots: [at('sub')], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/is inside .*, which the index holds/) });
    await expect(indexInto({ roots: [alias], index: indexDir, model: new FakeEncoder() })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/is the folder the index holds as/) });
    const store = await openIndex(indexDir, { readonly: true });
    expect((await store.listItemIds()).length).toBe(2);
    await store.close();
  });
});

describe('a file that changes or goes away during the run', () => {
  /** An encoder that runs `before` once, when it is first asked to decode `file` from its path. */
  function encoderThat(file: string, before: () => void): FakeEncoder {
    const encoder = new FakeEncoder();
    const preprocess = encoder.preprocess.bind(encoder);
    let done = false;
    vi.spyOn(encoder, 'preprocess').mockImplementation(async (image: ImageSource) => {
      if (!done && (image === file || typeof image !== 'string')) {
        done = true;
        before();
      }
      return preprocess(image);
    });
    return encoder;
  }

  it('fails a large image rewritten while it is decoded with that reason, not as corrupt', async () => {
    // larger than the content the hash keeps (1 MiB): decoded from its path after the hash
    writeFileSync(at('big.png'), pngOfSize(1, 1_200_000));
    const encoder = encoderThat(at('big.png'), () => writeFileSync(at('big.png'), Buffer.alloc(1_100_000, 1)));
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, decodeThreads: 0 });
    expect(summary).toMatchObject({ errors: 1 });
    const store = await openIndex(indexDir, { readonly: true });
    expect((await store.findFileByPath(at('big.png')))!.error).toMatch(/^the file changed while it was being indexed/);
    await store.close();
  });

  it('fails a large image rewritten while it is decoded with its size and mtime put back (only the ctime tells)', async () => {
    const when = new Date('2024-01-01T00:00:00Z');
    writeFileSync(at('big.png'), pngOfSize(1, 1_200_000));
    utimesSync(at('big.png'), when, when);
    const encoder = encoderThat(at('big.png'), () => {
      writeFileSync(at('big.png'), pngOfSize(2, 1_200_000));
      utimesSync(at('big.png'), when, when);
    });
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, decodeThreads: 0 });
    expect(summary).toMatchObject({ errors: 1, added: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    expect((await store.findFileByPath(at('big.png')))!.error).toMatch(/^the file changed while it was being indexed/);
    await store.close();
  });

  it('treats a file deleted before it was read as removed, not as an error', async () => {
    writeFileSync(at('a.png'), makePng(1));
    writeFileSync(at('b.png'), makePng(2));
    writeFileSync(at('c.png'), makePng(3));
    await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    for (const name of ['a.png', 'b.png']) writeFileSync(at(name), makePng(name === 'a.png' ? 11 : 12));
    writeFileSync(at('d.png'), makePng(4));
    const later = new Date(Date.now() + 10_000);
    for (const name of ['a.png', 'b.png']) utimesSync(at(name), later, later);
    // one file at a time, in name order: b.png (known) and d.png (new) go while a.png is decoded
    const encoder = encoderThat(at('a.png'), () => ['b.png', 'd.png'].forEach((name) => unlinkSync(at(name))));
    const summary = await indexInto({ roots: [archive], index: indexDir, model: encoder, decoders: 1, decodeThreads: 0 });
    expect(summary).toMatchObject({ errors: 0, removed: 1, updated: 1, added: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    expect(await store.findFileByPath(at('b.png'))).toMatchObject({ status: 'removed' });
    expect(await store.countFiles('error')).toBe(0);
    await store.close();
  });
});

describe('files of identical content that fail', () => {
  it('each name themselves in their error', async () => {
    writeFileSync(at('a.png'), Buffer.alloc(100, 9));
    writeFileSync(at('b.png'), Buffer.alloc(100, 9));
    const encoder = new FakeEncoder();
    const preprocess = encoder.preprocess.bind(encoder);
    // as the model's decoder does, the message names the file it read
    vi.spyOn(encoder, 'preprocess').mockImplementation((image: ImageSource) => preprocess(image).catch((error: Error) => {
      throw new Error(`cannot read image ${typeof image === 'string' ? image : '(bytes)'}: ${error.message}`);
    }));
    await indexInto({ roots: [archive], index: indexDir, model: encoder, decodeThreads: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    const errors = new Map((await store.listFiles('error')).map((f) => [f.path, f.error!]));
    await store.close();
    expect(errors.size).toBe(2);
    for (const [rel, error] of errors) {
      expect(error).toContain(rel);
      expect(error).not.toContain(rel === 'a.png' ? 'b.png' : 'a.png');
    }
  });
});
