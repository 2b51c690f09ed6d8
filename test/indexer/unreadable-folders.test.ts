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
import { afterAll, expect, it, vi } from 'vitest';
import { printIndexSummary } from '../../src/cli/index-cmd.js';
import type { IndexSummary } from '../../src/indexer/index.js';
import { makePng } from '../fixtures/images.js';

const CHILD = path.join(import.meta.dirname, 'unreadable-folders.child.ts');
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-unreadable-folders-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function indexAsAnotherUser(archive: string, index: string): { summary: IndexSummary; paths: string[] } {
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

it.skipIf(process.platform === 'win32')('keeps the files of a folder it may list but not enter, of one it may not list, and of an archive folder it may not list', { timeout: 60_000 }, () => {
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
    // the archive folder itself: kept, and named as itself in the summary (it was an empty name)
    chmodSync(archive, 0o000);
    const ofRoot = indexAsAnotherUser(archive, index);
    expect(ofRoot.summary).toMatchObject({ removed: 0, unreadableFolders: [''] });
    expect(ofRoot.paths).toEqual(['closed/a.png', 'listable/a.png', 'open/a.png']);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      printIndexSummary(ofRoot.summary);
      expect(String(write.mock.calls[0]![0])).toContain('  unreadable folders (their files were kept): . (an archive folder itself)\n');
    } finally {
      write.mockRestore();
    }
  } finally {
    chmodSync(archive, 0o755);
    chmodSync(path.join(archive, 'listable'), 0o755);
    chmodSync(path.join(archive, 'closed'), 0o755);
  }
});
