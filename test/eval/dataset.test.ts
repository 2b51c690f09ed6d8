/** The image lists of the evaluations: files, and symbolic links to files (a dataset linked into place), nothing else. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { listImageFiles } from '../../src/eval/dataset.js';
import { listImagesRecursively } from '../../src/eval/zero-shot-images.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-dataset-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it.skipIf(process.platform === 'win32')('lists images linked into the folder beside plain ones, and skips links to folders or to nothing', async () => {
  const real = path.join(work, 'real');
  mkdirSync(real);
  for (const name of ['a.jpg', 'b.png']) writeFileSync(path.join(real, name), 'x');
  const linked = path.join(work, 'linked');
  mkdirSync(path.join(linked, 'river'), { recursive: true });
  symlinkSync(path.join(real, 'a.jpg'), path.join(linked, 'a.jpg'));
  symlinkSync(path.join(real, 'b.png'), path.join(linked, 'river', 'b.png'));
  writeFileSync(path.join(linked, 'c.jpg'), 'x');
  symlinkSync(path.join(work, 'gone.jpg'), path.join(linked, 'gone.jpg'));
  symlinkSync(real, path.join(linked, 'folder.jpg'));
  expect(await listImageFiles(linked)).toEqual(['a.jpg', 'c.jpg']);
  expect(await listImagesRecursively(linked)).toEqual(['a.jpg', 'c.jpg', 'river/b.png']);
});
