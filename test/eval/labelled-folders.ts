/** A labelled image folder made by the tests: one folder per class (the AID / UCM layout), PNGs with seeded content. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePng } from '../fixtures/images.js';

export const FOLDER_CLASSES = ['airport', 'beach', 'forest'];
export const IMAGES_PER_CLASS = 4;

/** `<dir>/<class>/<class>_<i>.png` for each class, plus `<dir>/loose.png` (no folder, so no label); returns `dir`. */
export function writeLabelledFolders(dir: string): string {
  FOLDER_CLASSES.forEach((className, c) => {
    mkdirSync(path.join(dir, className), { recursive: true });
    for (let i = 0; i < IMAGES_PER_CLASS; i++) writeFileSync(path.join(dir, className, `${className}_${i}.png`), makePng(10 * c + i, 48, 40));
  });
  writeFileSync(path.join(dir, 'loose.png'), makePng(99, 48, 40));
  return dir;
}
