/**
 * A labels file with a single class makes every zero-shot score trivially 1: `eval rsicd` warns
 * as `eval zero-shot` does, on stderr and in report.json. A small RSICD-shaped set, tiny model.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

const NAMES = ['airport_1.png', 'airport_2.png', 'beach_1.png', 'beach_2.png'];
const WARNING = 'rsclip: warning: only one class (bogus): every score is trivially 1';

describe('a labels file with one class', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-one-class-'));
  const images = path.join(work, 'images');
  const captions = path.join(work, 'captions.jsonl');
  const labels = path.join(work, 'labels.tsv');
  let model: string;
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(async () => {
    model = await tinyModelDir();
    mkdirSync(images);
    NAMES.forEach((name, i) => writeFileSync(path.join(images, name), makePng(i + 1, 40, 40)));
    writeFileSync(captions, NAMES.map((n) => JSON.stringify({ filename: n, captions: [`an image of ${n.split('_')[0]}`] })).join('\n'));
    writeFileSync(labels, NAMES.map((n) => `${n}\tbogus\n`).join(''));
  });

  it.each([
    ['rsicd', ['--captions', captions]],
    ['zero-shot', []],
  ] as [string, string[]][])('eval %s warns that every score is trivially 1, on stderr and in report.json', async (command, extra) => {
    const out = path.join(work, `out-${command}`);
    const run = await runCli(['eval', command, '--model', model, '--images', images, '--labels', labels, ...extra, '--threads', '1', '--resamples', '100', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(WARNING);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as { warnings: string[] };
    expect(report.warnings).toEqual([expect.stringContaining('only one class (bogus)')]);
  });
});
