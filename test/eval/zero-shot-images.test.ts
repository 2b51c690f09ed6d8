/**
 * `rsclip eval zero-shot` on a folder tree the test makes (one folder per class), with the
 * tiny random model: the CLI as a user runs it, piped (progress lines with rate and ETA),
 * writing report.json, report.md, report.html and predictions.tsv. Random weights give no
 * accuracy to check, so the test checks that the numbers agree with each other.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateZeroShot, scorePredictions, writeZeroShotReport, type ZeroShotReport } from '../../src/eval/index.js';
import { runCli, type CliResult } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { FOLDER_CLASSES, IMAGES_PER_CLASS, writeLabelledFolders } from './labelled-folders.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-zero-shot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('eval zero-shot --labels-from-folders', () => {
  const images = writeLabelledFolders(path.join(work, 'images'));
  const out = path.join(work, 'report');
  let modelDir: string;
  let cli: CliResult;
  let report: ZeroShotReport;

  beforeAll(async () => {
    modelDir = await tinyModelDir();
    cli = await runCli(['eval', 'zero-shot', '--model', modelDir, '--images', images, '--labels-from-folders', '--batch', '4', '--threads', '1', '--out', out]);
    if (cli.code !== 0) throw new Error(`rsclip eval zero-shot failed (${cli.code}): ${cli.stderr}`);
    report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as ZeroShotReport;
  }, 300_000);

  it('labels each image by its folder and leaves out the one at the root', () => {
    expect(report.kind).toBe('zero-shot');
    expect(report.zeroShot.classes).toEqual(FOLDER_CLASSES);
    expect(report.zeroShot.images).toBe(FOLDER_CLASSES.length * IMAGES_PER_CLASS);
    expect(report.data).toMatchObject({ imageFiles: FOLDER_CLASSES.length * IMAGES_PER_CLASS + 1, labelSource: 'folders', labelsSha256: null, excluded: { unlabelled: 1, otherClass: 0 } });
    expect(report.zeroShot.perClass.map((c) => [c.className, c.images])).toEqual(FOLDER_CLASSES.map((c) => [c, IMAGES_PER_CLASS]));
    expect(report.zeroShot.outcomes.fileNames[0]).toBe('airport/airport_0.png');
  });

  it('reports top-k, per-class accuracy and a confusion matrix that agree with each other', () => {
    const { confusion, scores, perClass, intervals } = report.zeroShot;
    expect(confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(FOLDER_CLASSES.map(() => IMAGES_PER_CLASS));
    const diagonal = confusion.reduce((sum, row, c) => sum + row[c]!, 0);
    expect(scores[1]).toBeCloseTo(diagonal / report.zeroShot.images, 12);
    perClass.forEach((c, i) => expect(c.top1).toBeCloseTo(confusion[i]![i]! / IMAGES_PER_CLASS, 12));
    expect(scores[3]).toBe(1); // three classes
    expect(intervals['score@3']).toEqual({ low: 1, high: 1 });
    expect(intervals['score@1']!.low).toBeLessThanOrEqual(scores[1]!);
    expect(intervals['score@1']!.high).toBeGreaterThanOrEqual(scores[1]!);
  });

  it('writes the four report files, and a predictions.tsv that scores to the same numbers', async () => {
    expect(cli.stdout).toMatch(/score@1 /);
    for (const name of ['report.json', 'report.md', 'report.html', 'predictions.tsv']) expect(cli.stdout).toContain(path.join(out, name));
    const rescored = await scorePredictions(path.join(out, 'predictions.tsv'));
    expect(rescored.images).toBe(report.zeroShot.images);
    for (const k of [1, 3]) expect(rescored.scores[k]).toBeCloseTo(report.zeroShot.scores[k]!, 12);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('| airport | 4 |');
  });

  it('shows plain progress lines with a rate and an ETA when piped', () => {
    const lines = cli.stderr.split('\n').filter((l) => l.startsWith('images:'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(/^images: \d+\/12 \(\d+%\), \d+\.\d images\/s, ETA (\d+s|\d+m|\?)$/);
    expect(lines.at(-1)).toMatch(/^images: 12\/12 \(100%\), .* ETA 0s$/);
  });

  it('takes labels from a file (relative path or base name) and restricts to --classes', async () => {
    const labels = path.join(work, 'labels.tsv');
    writeFileSync(labels, 'filename\tlabel\nairport/airport_0.png\tairport\nairport_1.png\tairport\nbeach_0.png\tbeach\nloose.png\tbeach\n');
    const evaluation = await evaluateZeroShot({ model: modelDir, images, labels, threads: 1 });
    expect(evaluation.report.zeroShot.outcomes.fileNames).toEqual(['airport/airport_0.png', 'airport/airport_1.png', 'beach/beach_0.png', 'loose.png']);
    expect(evaluation.report.data.excluded).toEqual({ unlabelled: 9, otherClass: 0 });
    const some = await evaluateZeroShot({ model: modelDir, images, labelsFromFolders: true, classes: ['forest', 'beach'], threads: 1 });
    expect(some.report.zeroShot.classes).toEqual(['forest', 'beach']);
    expect(some.report.data.excluded).toEqual({ unlabelled: 1, otherClass: IMAGES_PER_CLASS });
  });

  it('writes a class folder named with a tab, a line break or a | to predictions.tsv and report.md escaped: one line per image, one table row per class, scoring the same', async () => {
    const odd = path.join(work, 'odd-names');
    const classes = ['dense\tresidential', 'river\nbank', 'back\\slash', 'pipe|name'];
    classes.forEach((className, c) => {
      mkdirSync(path.join(odd, className), { recursive: true });
      for (let i = 0; i < 2; i++) writeFileSync(path.join(odd, className, `${i}.png`), makePng(10 * c + i, 48, 40));
    });
    const evaluation = await evaluateZeroShot({ model: modelDir, images: odd, labelsFromFolders: true, threads: 1 });
    const oddOut = path.join(work, 'odd-report');
    await writeZeroShotReport(oddOut, evaluation);
    const lines = readFileSync(path.join(oddOut, 'predictions.tsv'), 'utf8').split('\n').slice(0, -1);
    expect(lines).toHaveLength(8);
    for (const line of lines) expect(line.split('\t')).toHaveLength(2 + 2 * classes.length);
    expect(lines.map((l) => l.split('\t')[1])).toEqual(['back\\\\slash', 'back\\\\slash', 'dense\\tresidential', 'dense\\tresidential', 'pipe|name', 'pipe|name', 'river\\nbank', 'river\\nbank']);
    const markdown = readFileSync(path.join(oddOut, 'report.md'), 'utf8').split('\n');
    const rows = markdown.slice(markdown.indexOf('| class | images | top-1 |') + 2, markdown.indexOf('| class | images | top-1 |') + 2 + classes.length);
    expect(rows.map((row) => row.split(/(?<!\\)\|/).length)).toEqual([5, 5, 5, 5]);
    expect(rows.map((row) => row.split(/(?<!\\)\|/)[1]!.trim()).sort()).toEqual(['back\\\\slash', 'dense\\tresidential', 'pipe\\|name', 'river\\nbank']);
    const rescored = await scorePredictions(path.join(oddOut, 'predictions.tsv'));
    for (const k of [1, 3]) expect(rescored.scores[k]).toBeCloseTo(evaluation.report.zeroShot.scores[k]!, 12);
  });

  it('refuses two label sources or none, and a prompt without {class}, in one line before embedding anything', async () => {
    const both = await runCli(['eval', 'zero-shot', '--model', modelDir, '--images', images, '--labels-from-folders', '--labels', 'x.tsv']);
    expect(both.code).toBe(1);
    expect(both.stderr.trim().split('\n')).toEqual(['rsclip: expected exactly one label source (pass --labels FILE or --labels-from-folders)']);
    await expect(evaluateZeroShot({ model: modelDir, images, labelsFromFolders: true, prompts: ['a photo'] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(evaluateZeroShot({ model: modelDir, images: path.join(work, 'nope'), labelsFromFolders: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('eval zero-shot on datasets as people keep them', () => {
  let modelDir: string;
  beforeAll(async () => {
    modelDir = await tinyModelDir();
  }, 300_000);

  const png = (file: string, seed: number): void => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, makePng(seed, 40, 40));
  };

  it.skipIf(process.platform === 'win32')('takes a class folder linked into place, skips a Mac\'s ._ files, gives a class without images no accuracy, and writes class names into report.md as text', async () => {
    const parks = path.join(work, 'parks');
    png(path.join(parks, 'p1.png'), 1);
    png(path.join(parks, 'p2.png'), 2);
    const dataset = path.join(work, 'linked-classes');
    png(path.join(dataset, 'beach', 'b1.png'), 3);
    writeFileSync(path.join(dataset, 'beach', '._b1.png'), 'AppleDouble, not an image');
    png(path.join(dataset, '<i>', 'i1.png'), 4);
    symlinkSync(parks, path.join(dataset, 'park'));
    const out = path.join(work, 'linked-report');
    const cli = await runCli(['eval', 'zero-shot', '--model', modelDir, '--images', dataset, '--labels-from-folders', '--classes', 'beach,park,<i>,empty', '--threads', '1', '--out', out]);
    expect(cli.code, cli.stderr).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as ZeroShotReport;
    expect(report.data.imageFiles).toBe(4);
    expect(report.zeroShot.perClass.map((c) => [c.className, c.images])).toEqual([['beach', 1], ['park', 2], ['<i>', 1], ['empty', 0]]);
    expect(report.zeroShot.perClass[3]!.top1).toBeNull();
    expect(report.warnings).toEqual([]);
    const markdown = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('| \\<i\\> | 1 |');
    expect(markdown).toContain('| empty | 0 | - |');
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('No images, so no accuracy: empty.');
  });

  it('warns on stderr and in the report about a single class, and about labels rows that name no image', async () => {
    const dataset = path.join(work, 'one-class');
    png(path.join(dataset, 'park', 'a.png'), 5);
    png(path.join(dataset, 'park', 'b.png'), 6);
    const labels = path.join(work, 'one-class.tsv');
    writeFileSync(labels, 'a.png\tpark\npark/b.png\tpark\ngone.png\tbeach\n');
    const out = path.join(work, 'one-class-report');
    const cli = await runCli(['eval', 'zero-shot', '--model', modelDir, '--images', dataset, '--labels', labels, '--threads', '1', '--out', out, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const warnings = cli.stderr.split('\n').filter((l) => l.startsWith('rsclip: warning: '));
    expect(warnings).toEqual([
      expect.stringMatching(/^rsclip: warning: 1 row\(s\) of .*one-class\.tsv name no image in .*one-class \(e\.g\. "gone\.png"\); they were not scored$/),
      'rsclip: warning: only one class (park): every score is trivially 1; check the labels or the class folders',
    ]);
    const report = JSON.parse(cli.stdout) as ZeroShotReport;
    expect(report.data.unmatchedLabelRows).toBe(1);
    expect(report.warnings).toHaveLength(2);
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('- warning: only one class (park)');
  });

  it('refuses a labels row whose base name two images share, naming them', async () => {
    const dataset = path.join(work, 'same-names');
    png(path.join(dataset, 'a', '001.png'), 7);
    png(path.join(dataset, 'b', '001.png'), 8);
    const labels = path.join(work, 'same-names.tsv');
    writeFileSync(labels, '001.png\tairport\n');
    await expect(evaluateZeroShot({ model: modelDir, images: dataset, labels, threads: 1 })).rejects.toMatchObject({
      code: 'DATASET_INVALID',
      message: expect.stringMatching(/the row "001\.png" names 2 files \(.*same-names\/a\/001\.png, .*same-names\/b\/001\.png\)/),
    });
  });
});
