import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HIDDEN_FILE, HIDDEN_FOLDER, isImagePath, LINK_OUTSIDE_ROOT, listedFiles, newScanProblems, scanRoot, type ScanOptions, type ScanProblems } from '../../src/indexer/scan.js';
import { expectRsclipError } from '../fixtures/errors.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-scan-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function touch(rel: string, bytes = 'x'): void {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}

async function scan(options: ScanOptions = {}, scanRootDir = root): Promise<{ paths: string[]; problems: ScanProblems }> {
  const problems: ScanProblems = newScanProblems();
  const paths: string[] = [];
  for await (const file of scanRoot(scanRootDir, options, problems)) {
    expect(file).toMatchObject({ root: path.resolve(scanRootDir), absolutePath: path.join(scanRootDir, file.path), bytes: expect.any(Number), mtimeMs: expect.any(Number) });
    paths.push(file.path);
  }
  return { paths, problems };
}

describe('scanRoot', () => {
  it('yields image files only, folder by folder in name order, with forward-slash relative paths', async () => {
    for (const rel of ['b.png', 'a.JPG', 'z/y.tif', 'm/n/o.webp', 'notes.txt', 'm/data.json', 'c.jpeg']) touch(rel);
    expect((await scan()).paths).toEqual(['a.JPG', 'b.png', 'c.jpeg', 'm/n/o.webp', 'z/y.tif']);
    expect(isImagePath('x/y.TIFF')).toBe(true);
    expect(isImagePath('y.tiff.txt')).toBe(false);
  });

  it("tells each image the world file its folder's listing holds (GDAL's names, either case), or that there is none", async () => {
    for (const rel of ['a.png', 'a.pgw', 'b.JPG', 'b.JGW', 'c.tif', 'c.wld', 'd.png', 'e.png', 'e.pngw/x.txt']) touch(rel);
    const problems = newScanProblems();
    const found: Record<string, string | null | undefined> = {};
    for await (const file of scanRoot(root, {}, problems)) found[file.path] = file.worldFile;
    expect(found).toEqual({ 'a.png': path.join(root, 'a.pgw'), 'b.JPG': path.join(root, 'b.JGW'), 'c.tif': path.join(root, 'c.wld'), 'd.png': null, 'e.png': null });
  });

  it('applies include and exclude globs (a glob without "/" matches the file name) and skips given folders', async () => {
    for (const rel of ['keep/a.png', 'keep/skip.png', 'other/b.png', 'index/c.png']) touch(rel);
    expect((await scan({ include: ['keep/**', 'b.png'], exclude: ['skip.png'] })).paths).toEqual(['keep/a.png', 'other/b.png']);
    expect((await scan({ skipDirs: [path.join(root, 'index')] })).paths).toEqual(['keep/a.png', 'keep/skip.png', 'other/b.png']);
  });

  it('follows a symlinked folder once, reports the loop, and ignores dangling links', async () => {
    touch('a/one.png');
    symlinkSync(root, path.join(root, 'a/loop'));
    symlinkSync(path.join(root, 'missing'), path.join(root, 'dangling.png'));
    const { paths, problems } = await scan();
    expect(paths).toEqual(['a/one.png']);
    expect(problems).toEqual({ unreadableFolders: [], symlinkLoops: ['a/loop'], skipped: [{ reason: 'symbolic link to nothing (dangling)', count: 1, examples: ['dangling.png'] }] });
  });

  it('indexes a real folder under its own name though a link to it sorts first, wherever the link is', async () => {
    touch('zdir/a.png');
    touch('b/deep/c.png');
    symlinkSync(path.join(root, 'zdir'), path.join(root, 'adir'));
    symlinkSync(path.join(root, 'b/deep'), path.join(root, 'a-deep'));
    const { paths, problems } = await scan();
    expect(paths).toEqual(['b/deep/c.png', 'zdir/a.png']);
    expect(problems.symlinkLoops.sort()).toEqual(['a-deep', 'adir']);
  });

  it('counts links that lead back to themselves, or to each other, as loops, not as dangling', async () => {
    symlinkSync('self.jpg', path.join(root, 'self.jpg'));
    symlinkSync('loopB.png', path.join(root, 'loopA.png'));
    symlinkSync('loopA.png', path.join(root, 'loopB.png'));
    const { paths, problems } = await scan();
    expect(paths).toEqual([]);
    expect(problems.skipped).toEqual([{ reason: 'symbolic link loop (a link that leads back to itself)', count: 3, examples: ['loopA.png', 'loopB.png', 'self.jpg'] }]);
  });

  it('skips and counts links leading outside the root unless followLinks; links inside it are followed', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'rsclip-scan-outside-'));
    try {
      writeFileSync(path.join(outside, 'secret.png'), 'x');
      mkdirSync(path.join(outside, 'folder'));
      writeFileSync(path.join(outside, 'folder', 'far.png'), 'x');
      touch('in/near.png');
      symlinkSync(path.join(outside, 'secret.png'), path.join(root, 'link-out.png'));
      symlinkSync(path.join(outside, 'folder'), path.join(root, 'folder-out'));
      symlinkSync(path.join(root, 'in', 'near.png'), path.join(root, 'link-in.png'));
      symlinkSync(path.join(root, 'in'), path.join(root, 'folder-in'));
      const kept = await scan();
      // a folder's files come before its sub-folders, in name order; the real folder `in` claims its files, the link to it is the repeat
      expect(kept.paths).toEqual(['link-in.png', 'in/near.png']);
      expect(kept.problems.symlinkLoops).toEqual(['folder-in']);
      expect(kept.problems.skipped).toEqual([{ reason: LINK_OUTSIDE_ROOT, count: 2, examples: ['folder-out', 'link-out.png'] }]);
      const followed = await scan({ followLinks: true });
      expect(followed.paths).toEqual(['link-in.png', 'link-out.png', 'in/near.png', 'folder-out/far.png']);
      expect(followed.problems.skipped).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('skips and counts hidden files and what hidden and system folders hold unless includeHidden; a hidden root is scanned', async () => {
    for (const rel of ['a.png', '._a.png', '.thumbs/t.png', '@eaDir/a.png/SYNOFILE_THUMB_XL.jpg', '#recycle/old.png', '$RECYCLE.BIN/x.png', 'sub/.hidden.tif', 'sub/b.png', 'sub/@eaDir.png', 'sub/lost+found/c.png']) touch(rel);
    const { paths, problems } = await scan();
    expect(paths).toEqual(['a.png', 'sub/@eaDir.png', 'sub/b.png']);
    expect(problems.skipped).toEqual([
      { reason: HIDDEN_FOLDER, count: 5, examples: ['#recycle', '$RECYCLE.BIN', '.thumbs'] },
      { reason: HIDDEN_FILE, count: 2, examples: ['._a.png', 'sub/.hidden.tif'] },
    ]);
    expect((await scan({ includeHidden: true })).paths).toEqual(['._a.png', 'a.png', '#recycle/old.png', '$RECYCLE.BIN/x.png', '.thumbs/t.png', '@eaDir/a.png/SYNOFILE_THUMB_XL.jpg', 'sub/.hidden.tif', 'sub/@eaDir.png', 'sub/b.png', 'sub/lost+found/c.png']);
    expect((await scan({}, path.join(root, '.thumbs'))).paths).toEqual(['t.png']);
  });

  it('stops when aborted', async () => {
    for (let i = 0; i < 5; i++) touch(`d${i}/x.png`);
    const controller = new AbortController();
    controller.abort();
    expect((await scan({ signal: controller.signal })).paths).toEqual([]);
  });

  it('refuses a root that is missing or is a file, saying nothing changed', async () => {
    await expectRsclipError(scan({}, path.join(root, 'nowhere')), 'BAD_INPUT', /nowhere does not exist$/);
    touch('file.png');
    await expectRsclipError(scan({}, path.join(root, 'file.png')), 'BAD_INPUT', /is a file/);
  });

  it('counts every file it does not yield, with its reason: formats sharp cannot read, other files, excluded ones, names that are not UTF-8', async () => {
    for (const rel of ['a.png', 'scan.bmp', 'b/old.BMP', 'c/tile.jp2', 'notes.txt', 'b/skip.png']) touch(rel);
    writeFileSync(Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.png')]), 'x');
    const { paths, problems } = await scan({ exclude: ['skip.png'] });
    expect(paths).toEqual(['a.png']);
    const byReason = (a: { reason: string }, b: { reason: string }) => a.reason.localeCompare(b.reason);
    expect([...problems.skipped].sort(byReason)).toEqual([
      { reason: 'image format rsclip cannot read (BMP): convert to PNG, JPEG or TIFF to index it', count: 2, examples: ['scan.bmp', 'b/old.BMP'] },
      { reason: 'file name is not valid UTF-8 (rename it to index it)', count: 1, examples: ['bad-\\xff\\xfe.png'] },
      { reason: 'not an image file (by its extension)', count: 1, examples: ['notes.txt'] },
      { reason: 'excluded by --include/--exclude', count: 1, examples: ['b/skip.png'] },
      { reason: 'image format rsclip cannot read (JPEG 2000): convert to PNG, JPEG or TIFF to index it', count: 1, examples: ['c/tile.jp2'] },
    ].sort(byReason));
  });
});

describe('skipped-file examples', () => {
  it('show names as search and errors do: one line each, and a name that is not UTF-8 never reads as a real one', async () => {
    touch('q\\xff.txt');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/q`), Buffer.from([0xff]), Buffer.from('.txt')]), 'x');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/ü`), Buffer.from([0xc3]), Buffer.from('\n.txt')]), 'x');
    touch('new\nline.txt');
    const { problems } = await scan();
    const examples = (reason: string) => [...problems.skipped.find((s) => s.reason === reason)!.examples].sort();
    expect(examples('not an image file (by its extension)')).toEqual(['new\\nline.txt', 'q\\\\xff.txt']);
    expect(examples('file name is not valid UTF-8 (rename it to index it)')).toEqual(['q\\xff.txt', 'ü\\xc3\\n.txt']);
  });
});

describe('listedFiles', () => {
  it('yields each listed path once, in list order, with its size (0 for a file that is not there)', async () => {
    touch('a.png', 'aaa');
    touch('b.png');
    const files = [];
    for await (const file of listedFiles(root, ['b.png', 'a.png', 'b.png', 'gone.png'])) files.push([file.path, file.bytes]);
    expect(files).toEqual([['b.png', 1], ['a.png', 3], ['gone.png', 0]]);
  });
});
