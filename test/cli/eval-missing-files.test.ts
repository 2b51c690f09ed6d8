/**
 * A captions or labels file that is not there is named with the option that gave it, in words
 * (not the system's "ENOENT: no such file or directory, open ..."), before any model is opened.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

describe('eval with a missing captions or labels file', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-missing-'));
  const images = path.join(work, 'images');
  const captions = path.join(work, 'captions.jsonl');
  const labels = path.join(work, 'labels.tsv');
  const nowhere = path.join(work, 'nope');
  let model: string;
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(async () => {
    model = await tinyModelDir();
    mkdirSync(images);
    writeFileSync(path.join(images, 'beach_1.png'), makePng(1, 40, 40));
    writeFileSync(captions, `${JSON.stringify({ filename: 'beach_1.png', captions: ['a beach'] })}\n`);
    writeFileSync(labels, 'beach_1.png\tbeach\n');
  });

  it.each([
    ['eval rsicd', '--captions', ['eval', 'rsicd', '--captions', `${nowhere}.jsonl`, '--labels', labels]],
    ['eval rsicd', '--labels', ['eval', 'rsicd', '--captions', captions, '--labels', `${nowhere}.tsv`]],
    ['eval retrieval', '--captions', ['eval', 'retrieval', '--captions', `${nowhere}.jsonl`]],
    ['eval zero-shot', '--labels', ['eval', 'zero-shot', '--labels', `${nowhere}.tsv`]],
  ] as [string, string, string[]][])('%s names a missing %s file and the option', async (_command, option, args) => {
    const run = await runCli([...args, '--model', model, '--images', images, '--threads', '1']);
    expect(run.code).toBe(1);
    const file = `${nowhere}.${option === '--captions' ? 'jsonl' : 'tsv'}`;
    const what = option === '--captions' ? 'captions' : 'labels';
    expect(run.stderr).toContain(`rsclip: ${what} file ${file} (${option}) does not exist`);
    expect(run.stderr).toContain(`check the path given to ${option}`);
    expect(run.stderr).not.toContain('ENOENT');
  });
});
