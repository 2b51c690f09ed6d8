/**
 * `evaluateLabels` and prompt ensembling with hand-chosen vectors: a text encoder stand-in
 * maps a prompt to a one-hot vector by the colour it names, and the index holds chosen
 * image vectors, so every score is known in advance. No model needed.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareReports, evaluateLabels } from '../../src/eval/index.js';
import { embedClassPrompts } from '../../src/eval/prompts.js';
import type { ModelInfo } from '../../src/model/index.js';
import { TextOnlyEncoder } from './text-only-encoder.js';
import { openIndex, type CatalogChange } from '../../src/store/index.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-labels-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const COLOURS = ['red', 'green', 'blue'];
const DIM = 4;

function oneHot(i: number): Float32Array {
  const v = new Float32Array(DIM);
  v[i] = 1;
  return v;
}

/** Texts naming a colour embed to that colour's axis; texts starting with "other" to the last axis. */
class ColourTextEncoder extends TextOnlyEncoder {
  readonly info: ModelInfo = {
    id: 'colour-text',
    dir: '/nonexistent/colour-text',
    variant: 'fp32',
    fingerprint: 'c'.repeat(64),
    embeddingDim: DIM,
    contextLength: 77,
    imageSize: 4,
    logitScale: undefined,
  };
  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    this.runCount.text++;
    return texts.map((t) => (t.startsWith('other') ? oneHot(DIM - 1) : oneHot(COLOURS.findIndex((c) => t.includes(c)))));
  }
}

describe('zero-shot over a labelled archive (evaluateLabels)', () => {
  const encoder = new ColourTextEncoder();
  const indexDir = path.join(work, 'index');

  beforeAll(async () => {
    // red/b.png looks green: the one mistake; top.png sits at the root (no folder label)
    const images: [string, Float32Array][] = [
      ['red/a.png', oneHot(0)],
      ['red/b.png', oneHot(1)],
      ['green/c.png', oneHot(1)],
      ['blue/d.png', oneHot(2)],
      ['top.png', oneHot(2)],
    ];
    const store = await openIndex(indexDir, { create: true, model: encoder.info });
    try {
      await store.commit(
        images.map(([p, vector]): CatalogChange => ({
          kind: 'put',
          file: { root: work, path: p, bytes: 1, mtimeMs: 0, contentHash: p, width: 4, height: 4, format: 'png' },
          vector,
        })),
      );
    } finally {
      await store.close();
    }
  });

  it('labels by folder, scores top-k and per-class accuracy, and counts images without a label', async () => {
    const report = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true });
    expect(report.zeroShot.classes).toEqual(['blue', 'green', 'red']);
    expect(report.zeroShot.images).toBe(4);
    expect(report.excluded).toEqual({ unlabelled: 1, otherClass: 0 });
    expect(report.zeroShot.scores).toEqual({ 1: 0.75, 3: 1, 5: 1, 10: 1 });
    expect(report.zeroShot.perClass.map(({ className, images, top1 }) => ({ className, images, top1 }))).toEqual([
      { className: 'blue', images: 1, top1: 1 },
      { className: 'green', images: 1, top1: 1 },
      { className: 'red', images: 2, top1: 0.5 },
    ]);
    // rows: true class, columns: top-1 prediction (red/b.png looks green)
    expect(report.zeroShot.confusion).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 1, 1],
    ]);
  });

  it('reads a labels file keyed by relative path or base name, and restricts to --classes', async () => {
    const labels = path.join(work, 'labels.tsv');
    writeFileSync(labels, 'filename\tlabel\nred/a.png\tred\nb.png\tred\nc.png\tgreen\nd.png\tblue\ntop.png\tblue\n');
    const all = await evaluateLabels({ index: indexDir, model: encoder, labels });
    expect(all).toMatchObject({ zeroShot: { images: 5 }, excluded: { unlabelled: 0, otherClass: 0 } });
    expect(all.zeroShot.scores[1]).toBeCloseTo(4 / 5);
    const some = await evaluateLabels({ index: indexDir, model: encoder, labels, classes: ['red', 'green'] });
    expect(some.zeroShot.classes).toEqual(['red', 'green']);
    expect(some).toMatchObject({ zeroShot: { images: 3 }, excluded: { unlabelled: 0, otherClass: 2 } });
    // red/b.png is scored among red and green only: green wins, so one of three misses at k = 1
    expect(some.zeroShot.scores[1]).toBeCloseTo(2 / 3);
  });

  it('needs exactly one label source, and labels that match the classes', async () => {
    await expect(evaluateLabels({ index: indexDir, model: encoder })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true, classes: ['purple'] })).rejects.toMatchObject({ code: 'DATASET_INVALID' });
  });
});

describe('an index of scenes cut into tiles, under two archive roots', () => {
  const encoder = new ColourTextEncoder();
  const indexDir = path.join(work, 'tiles-index');
  const roots = [path.join(work, 'north'), path.join(work, 'south')];

  beforeAll(async () => {
    const tile = (i: number, colour: number) => ({ key: `s1:${i * 224},0`, window: { x: i * 224, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: oneHot(colour) });
    const scene = (root: string, p: string, colours: number[]): CatalogChange => ({
      kind: 'put',
      file: { root, path: p, bytes: 1, mtimeMs: 0, contentHash: `${root}/${p}`, width: 224 * colours.length, height: 224, format: 'tiff' },
      items: colours.map((colour, i) => tile(i, colour)),
      complete: true,
    });
    const store = await openIndex(indexDir, { create: true, model: encoder.info });
    try {
      // the same relative path under both roots; one red tile of three misses in the north, all hit in the south
      await store.commit([scene(roots[0]!, 'red/scene.tif', [0, 0, 1]), scene(roots[1]!, 'red/scene.tif', [0, 0]), scene(roots[0]!, 'green/field.tif', [1, 1, 0, 1])]);
    } finally {
      await store.close();
    }
  });

  it('names each tile uniquely by root, path and window, and resamples files with all their tiles', async () => {
    const report = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true });
    const names = report.zeroShot.outcomes.fileNames;
    expect(names).toHaveLength(9);
    expect(new Set(names).size).toBe(9);
    expect(names).toContain(`${path.join(roots[1]!, 'red/scene.tif')}#s1:224,0`);
    expect(new Set(report.zeroShot.outcomes.files)).toEqual(new Set([path.join(roots[0]!, 'red/scene.tif'), path.join(roots[1]!, 'red/scene.tif'), path.join(roots[0]!, 'green/field.tif')]));
    expect(report.confidence.unit).toBe('file');
    expect(report.zeroShot.scores[1]).toBeCloseTo(7 / 9);
  });

  it('compares two runs tile by tile: each value is its report\'s, the difference the true one, counted as tiles of files', async () => {
    const a = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true });
    // every class prompt maps to the last axis: classes tie, and the first (green) wins everywhere
    const b = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true, prompts: ['other {class}'] });
    const comparison = compareReports([a, b], ['a.json', 'b.json'], { resamples: 200 });
    const section = comparison.sections[0]!;
    expect(section).toMatchObject({ images: 9, unit: 'tile', files: 3 });
    const top1 = section.metrics.find((m) => m.key === 'score@1')!;
    expect(top1.values.map((v) => v.value)).toEqual([a.zeroShot.scores[1], b.zeroShot.scores[1]]);
    expect(top1.deltas[1]!.delta).toBeCloseTo(b.zeroShot.scores[1]! - a.zeroShot.scores[1]!, 12);
  });

  it('refuses outcomes that name one unit twice (a report of an older rsclip)', async () => {
    const report = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true });
    const older = structuredClone(report);
    older.zeroShot.outcomes.fileNames = older.zeroShot.outcomes.fileNames.map((name) => name.replace(/#.*/, ''));
    expect(() => compareReports([older, report], ['older.json', 'new.json'])).toThrow(/older\.json names the outcome of .* more than once/);
  });

  it('refuses a labels row that names two files, and counts and reports rows that name none', async () => {
    const shared = path.join(work, 'shared-name.tsv');
    writeFileSync(shared, 'red/scene.tif\tred\ngreen/field.tif\tgreen\n');
    await expect(evaluateLabels({ index: indexDir, model: encoder, labels: shared })).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringMatching(/the row "red\/scene\.tif" names 2 files/) });
    const byPath = path.join(work, 'by-path.tsv');
    writeFileSync(byPath, `${path.join(roots[0]!, 'red/scene.tif')}\tred\n${path.join(roots[1]!, 'red/scene.tif')}\tred\nfield.tif\tgreen\nlost.tif\tblue\n`);
    const report = await evaluateLabels({ index: indexDir, model: encoder, labels: path.relative(process.cwd(), byPath) });
    expect(report).toMatchObject({ zeroShot: { images: 9 }, unmatchedLabelRows: 1, labelSource: byPath, labelsSha256: createHash('sha256').update(readFileSync(byPath)).digest('hex'), model: { variant: 'fp32' } });
    expect(report.warnings).toEqual([expect.stringMatching(/^1 row\(s\) of .*by-path\.tsv name no image in .* \(e\.g\. "lost\.tif"\)/)]);
  });

  it('warns when a single class is scored (every score is then 1)', async () => {
    const report = await evaluateLabels({ index: indexDir, model: encoder, labelsFromFolders: true, classes: ['red'] });
    expect(report.zeroShot.scores[1]).toBe(1);
    expect(report.warnings).toEqual([expect.stringMatching(/only one class \(red\): every score is trivially 1/)]);
  });
});

describe('prompt ensembling', () => {
  it('averages the unit embeddings of each class over the templates and renormalises', async () => {
    const [red, blue] = await embedClassPrompts(new ColourTextEncoder(), ['red', 'blue'], ['photo of {class}', 'other {class}']);
    const s = Math.SQRT1_2;
    expect(Array.from(red!)).toEqual([s, 0, 0, s].map(Math.fround));
    expect(Array.from(blue!)).toEqual([0, 0, s, s].map(Math.fround));
  });

  it('refuses a template without a {class} slot', async () => {
    await expect(embedClassPrompts(new ColourTextEncoder(), ['red'], ['a photo'])).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
