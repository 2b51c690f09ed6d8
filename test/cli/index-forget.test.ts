/**
 * `rsclip index` over a folder that went empty (an unmounted disk) keeps what the index holds
 * there and says how to drop it; `--forget` drops the files of a folder moved or deleted for good.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let modelDir: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-cli-forget-'));
  modelDir = await tinyModelDir();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

it('keeps the files of an emptied folder, tells how to forget them, and forgets them when asked', async () => {
  const archive = path.join(work, 'arcC');
  const hold = path.join(work, 'hold');
  const index = path.join(work, 'index');
  mkdirSync(archive);
  mkdirSync(hold);
  for (let i = 0; i < 3; i++) writeFileSync(path.join(archive, `t${i}.png`), makePng(i + 1, 40, 40));
  expect((await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--json'])).code).toBe(0);
  for (let i = 0; i < 3; i++) renameSync(path.join(archive, `t${i}.png`), path.join(hold, `t${i}.png`));

  const empty = await runCli(['index', archive, '--index', index, '--threads', '1']);
  expect(empty.code).toBe(0);
  expect(empty.stdout).toMatch(/removed 0,/);
  expect(empty.stdout).toContain(`kept 3 files of ${archive}: no image file found there`);
  expect(empty.stderr).toContain(`rsclip: warning: no image files found in ${archive}, where the index holds 3: kept them (is a disk unmounted?); \`rsclip index --forget ${archive}\` removes them`);

  rmSync(archive, { recursive: true });
  const forgotten = await runCli(['index', '--forget', archive, '--index', index, '--threads', '1', '--json']);
  expect(forgotten.stderr).toBe('');
  expect(forgotten.code).toBe(0);
  expect(JSON.parse(forgotten.stdout)).toMatchObject({ removed: 3, forgotten: [{ root: archive, files: 3 }] });
  const store = await openIndex(index, { readonly: true });
  expect(await store.countItems()).toBe(0);
  await store.close();
});
