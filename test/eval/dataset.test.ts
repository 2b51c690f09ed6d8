/**
 * The image lists and labels of the evaluations: files and links to them, class folders linked
 * into place (loops cut), no hidden or system entries, names that are not UTF-8 refused; labels
 * files as TSV or RFC 4180 CSV, and rows matched to files without guessing.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLabels } from '../../src/eval/dataset.js';
import { listImageFiles, listImagesRecursively } from '../../src/eval/image-listing.js';
import { matchLabels } from '../../src/eval/labelling.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-dataset-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let folders = 0;
function folder(files: string[]): string {
  const dir = path.join(work, `d${folders++}`);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), 'x');
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('image listings', () => {
  it.skipIf(process.platform === 'win32')('lists images linked into the folder beside plain ones, follows links to folders at depth, and skips links to nothing', async () => {
    const real = folder(['a.jpg', 'b.png']);
    const linked = folder(['c.jpg']);
    mkdirSync(path.join(linked, 'river'));
    symlinkSync(path.join(real, 'a.jpg'), path.join(linked, 'a.jpg'));
    symlinkSync(path.join(real, 'b.png'), path.join(linked, 'river', 'b.png'));
    symlinkSync(path.join(work, 'gone.jpg'), path.join(linked, 'gone.jpg'));
    symlinkSync(real, path.join(linked, 'folder.jpg'));
    expect(await listImageFiles(linked)).toEqual(['a.jpg', 'c.jpg']);
    expect(await listImagesRecursively(linked)).toEqual(['a.jpg', 'c.jpg', 'folder.jpg/a.jpg', 'folder.jpg/b.png', 'river/b.png']);
  });

  it.skipIf(process.platform === 'win32')('takes a class folder that is a link (each class folder linked into place), and cuts a link back up the tree', async () => {
    const parks = folder(['p1.jpg', 'p2.jpg']);
    const dataset = folder(['beach/b1.jpg']);
    symlinkSync(parks, path.join(dataset, 'park'));
    symlinkSync(dataset, path.join(dataset, 'beach', 'loop'));
    expect(await listImagesRecursively(dataset)).toEqual(['beach/b1.jpg', 'park/p1.jpg', 'park/p2.jpg']);
  });

  it('skips hidden files and folders, system folders and a Mac zip\'s __MACOSX', async () => {
    const dir = folder(['a.jpg', '._a.jpg', '.thumbs/t.jpg', '@eaDir/a.jpg/x.jpg', '__MACOSX/park/._p.jpg', 'park/p.jpg', 'park/._p.jpg']);
    expect(await listImagesRecursively(dir)).toEqual(['a.jpg', 'park/p.jpg']);
    expect(await listImageFiles(dir)).toEqual(['a.jpg']);
  });

  it.skipIf(process.platform !== 'linux')('refuses an image whose name is not valid UTF-8, naming it, as the indexer does', async () => {
    const dir = folder(['ok.jpg']);
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.jpg')]), 'x');
    const refused = { code: 'DATASET_INVALID', message: expect.stringMatching(/name is not valid UTF-8 \(café\.jpg read as Latin-1\)/) };
    await expect(listImageFiles(dir)).rejects.toMatchObject(refused);
    await expect(listImagesRecursively(dir)).rejects.toMatchObject(refused);
  });
});

describe('labels files', () => {
  const labelsFile = (name: string, text: string): string => {
    const file = path.join(work, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads CSV by RFC 4180: a quoted field holds commas, quotes and line breaks', async () => {
    const file = labelsFile('quoted.csv', 'filename,label\r\nairport_348.jpg,"airport, large"\r\n"my ""best"" image.jpg",beach\n"two\nlines.jpg",forest\n');
    expect([...(await readLabels(file))]).toEqual([
      ['airport_348.jpg', 'airport, large'],
      ['my "best" image.jpg', 'beach'],
      ['two\nlines.jpg', 'forest'],
    ]);
  });

  it('reads CSV whose quoted field holds a tab as CSV, by its extension or by a tab outside quotes, as field sidecars', async () => {
    const csv = 'airport_348.jpg,airport\n"odd\tname.jpg",airport\n';
    const expected = [['airport_348.jpg', 'airport'], ['odd\tname.jpg', 'airport']];
    expect([...(await readLabels(labelsFile('tab-in-quotes.csv', csv)))]).toEqual(expected);
    expect([...(await readLabels(labelsFile('tab-in-quotes.txt', csv)))]).toEqual(expected);
    expect([...(await readLabels(labelsFile('first-quoted.txt', '"odd\tname.jpg",airport\n')))]).toEqual([expected[1]]);
    expect([...(await readLabels(labelsFile('plain.txt', 'a.jpg\tairport\n"b".jpg\tbeach\n')))]).toEqual([['a.jpg', 'airport'], ['"b".jpg', 'beach']]);
  });

  it('refuses a third column with its line number, and a quote left open', async () => {
    await expect(readLabels(labelsFile('extra.csv', 'a.jpg,airport\nb.jpg,airport,large\n'))).rejects.toMatchObject({ message: expect.stringMatching(/extra\.csv:2: expected .* got 3 field\(s\)/) });
    await expect(readLabels(labelsFile('extra.tsv', 'a.jpg\tairport\nb.jpg\tbeach\tx\n'))).rejects.toMatchObject({ message: expect.stringMatching(/extra\.tsv:2:/) });
    await expect(readLabels(labelsFile('open.csv', 'a.jpg,"airport\n'))).rejects.toMatchObject({ message: expect.stringMatching(/open\.csv:1: Quote Not Closed/) });
  });

  it('matches a row by absolute path, relative path or base name, and refuses a base name two files share', () => {
    const files = ['a/001.jpg', 'b/001.jpg', 'b/002.jpg'].map((relativePath) => ({ absolutePath: `/data/${relativePath}`, relativePath }));
    expect(() => matchLabels(files, new Map([['001.jpg', 'airport']]), 'labels.tsv')).toThrow(/labels\.tsv: the row "001\.jpg" names 2 files \(\/data\/a\/001\.jpg, \/data\/b\/001\.jpg\)/);
    const matched = matchLabels(
      files,
      new Map([
        ['a/001.jpg', 'airport'],
        ['/data/b/001.jpg', 'beach'],
        ['002.jpg', 'forest'],
        ['missing.jpg', 'river'],
      ]),
      'labels.tsv',
    );
    expect(matched).toEqual({ labels: ['airport', 'beach', 'forest'], unmatchedRows: ['missing.jpg'] });
  });
});
