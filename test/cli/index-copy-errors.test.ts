/** `rsclip index copy` refuses what it cannot do in one line: a target that is a file, a target that is the source; and its progress in a log. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let index: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-copy-errors-'));
  const archive = path.join(work, 'archive');
  mkdirSync(archive);
  for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `tile_${i}.png`), makePng(i + 1, 40, 40));
  index = path.join(work, 'index');
  const indexed = await runCli(['index', archive, '--index', index, '--model', await tinyModelDir(), '--threads', '1']);
  expect(indexed.code, indexed.stderr).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('says that a target which is a file cannot be an index directory (it was an internal error with a stack)', async () => {
  const file = path.join(work, 'a-file');
  writeFileSync(file, 'hi');
  const copy = await runCli(['index', 'copy', '--from', index, '--to', file]);
  expect(copy.code).toBe(1);
  expect(copy.stderr).toMatch(new RegExp(`^rsclip: cannot create the index directory ${file}: EEXIST.*\\(choose another --to, or fix the permissions\\)\\n$`));
  expect(copy.stderr).not.toMatch(/internal error|\n\s+at /);
});

it('refuses to copy an index onto itself, however the path is written (it blamed its own process for holding the index)', async () => {
  const before = readdirSync(index).sort();
  for (const to of [index, `${index}/`, path.join(index, '..', 'index')]) {
    const copy = await runCli(['index', 'copy', '--from', index, '--to', to]);
    expect(copy.code, copy.stderr).toBe(1);
    expect(copy.stderr).toMatch(`rsclip: --from and --to are the same index: ${index}`);
  }
  expect(readdirSync(index).sort()).toEqual(before);
});

it('writes its progress to a log or pipe as whole lines, not one line rewritten with carriage returns', async () => {
  const to = path.join(work, 'copied');
  const copy = await runCli(['index', 'copy', '--from', index, '--to', to]);
  expect(copy.code, copy.stderr).toBe(0);
  expect(copy.stdout).toMatch(/^copied .*: 3 files, 3 items, 3 vectors/);
  expect(copy.stderr).not.toMatch(/\r/);
  const lines = copy.stderr.split('\n');
  expect(lines.at(-1)).toBe('');
  expect(lines).toContain('copying files: 3 rows');
  expect(lines).toContain('building the vector graph file from the copied vectors (minutes for millions)');
});
