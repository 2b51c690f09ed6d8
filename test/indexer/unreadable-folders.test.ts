/**
 * A folder the indexer cannot read keeps its files in the index: one it may neither list nor
 * enter (mode 000), and one it may list but not enter (mode 644, no search permission), whose
 * files every stat refuses; those were taken for files that vanished and removed. Run as an
 * unprivileged user (nobody, when the tests run as root, which reads everything).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { makePng } from '../fixtures/images.js';

const CHILD = path.join(import.meta.dirname, 'unreadable-folders.child.ts');
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-unreadable-folders-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function indexAsAnotherUser(archive: string, index: string): { summary: { removed: number; unreadableFolders: string[] }; paths: string[] } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', CHILD, archive, index], {
    cwd: path.dirname(CHILD),
    env: { ...process.env, TMPDIR: work, HOME: work },
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

/** Gives the tree under `dir` to nobody, so that only the modes set below keep it out. */
function giveAway(dir: string): void {
  if (!asRoot) return;
  chownSync(dir, NOBODY, NOBODY);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) giveAway(child);
    else chownSync(child, NOBODY, NOBODY);
  }
}

it.skipIf(process.platform === 'win32')('keeps the files of a folder it may list but not enter, and of one it may not list', { timeout: 60_000 }, () => {
  chmodSync(work, 0o755);
  const archive = path.join(work, 'archive');
  for (const folder of ['open', 'listable', 'closed']) {
    mkdirSync(path.join(archive, folder), { recursive: true });
    writeFileSync(path.join(archive, folder, 'a.png'), makePng(folder.length, 8, 8));
  }
  const index = path.join(work, 'index');
  giveAway(work);
  expect(indexAsAnotherUser(archive, index).paths).toEqual(['closed/a.png', 'listable/a.png', 'open/a.png']);
  chmodSync(path.join(archive, 'listable'), 0o644);
  chmodSync(path.join(archive, 'closed'), 0o000);
  try {
    const { summary, paths } = indexAsAnotherUser(archive, index);
    expect(summary).toMatchObject({ removed: 0, unreadableFolders: expect.arrayContaining(['listable', 'closed']) });
    expect(paths).toEqual(['closed/a.png', 'listable/a.png', 'open/a.png']);
  } finally {
    chmodSync(path.join(archive, 'listable'), 0o755);
    chmodSync(path.join(archive, 'closed'), 0o755);
  }
});
