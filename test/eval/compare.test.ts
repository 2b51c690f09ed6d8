/**
 * `eval compare` on reports built from synthetic per-image outcomes whose difference is
 * known: a large difference is marked significant, none is not; images are paired by name
 * whatever their order; reports over other data, or edited by hand, are refused.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrapSettings } from '../../src/eval/bootstrap.js';
import { compareReports, readReport, type Comparison, type ZeroShotReport } from '../../src/eval/index.js';
import { zeroShotSection, type ZeroShotOutcomes } from '../../src/eval/outcomes.js';
import { runCli } from '../fixtures/cli.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-compare-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CLASSES = ['airport', 'beach', 'forest', 'river'];
const IMAGES = 400;
const KS = [1, 3];

/** A zero-shot report whose image u is a top-1 hit when hit(u) (else its class ranks third). */
function zeroShotReport(hit: (u: number) => boolean, options: { prompts?: string[]; order?: number[]; labelShift?: number } = {}): ZeroShotReport {
  const order = options.order ?? Array.from({ length: IMAGES }, (_, u) => u);
  const labels = order.map((u) => (u + (options.labelShift ?? 0)) % CLASSES.length);
  const outcomes: ZeroShotOutcomes = {
    fileNames: order.map((u) => `img_${u}.png`),
    labels,
    ranks: order.map((u) => (hit(u) ? 0 : 2)),
    predicted: order.map((u, i) => (hit(u) ? labels[i]! : (labels[i]! + 1) % CLASSES.length)),
  };
  const scores = Object.fromEntries(KS.map((k) => [k, outcomes.ranks.filter((r) => r < k).length / IMAGES]));
  const perClass = CLASSES.map((className, c) => {
    const own = outcomes.labels.flatMap((l, i) => (l === c ? [i] : []));
    return { className, images: own.length, top1: own.filter((i) => outcomes.ranks[i] === 0).length / own.length };
  });
  const settings = bootstrapSettings({ resamples: 200 });
  return {
    kind: 'zero-shot',
    rsclipVersion: 'test',
    date: '2026-01-01T00:00:00.000Z',
    commandLine: null,
    wallSeconds: 1,
    phaseSeconds: { images: 1, zeroShot: 0 },
    model: { id: 'synthetic', fingerprint: 'f'.repeat(64), variant: 'fp32', logitScale: 100, logitScaleSource: 'default' },
    data: { imagesDir: '/nowhere', imageFiles: IMAGES, imageListSha256: 'x', labelSource: 'folders', labelsSha256: null, excluded: { unlabelled: 0, otherClass: 0 }, unmatchedLabelRows: 0 },
    warnings: [],
    prompts: options.prompts ?? ['Aerial photograph of {class}'],
    confidence: settings,
    zeroShot: zeroShotSection(scores, perClass, CLASSES, outcomes, KS, settings),
  };
}

const metric = (comparison: Comparison, key: string) => comparison.sections[0]!.metrics.find((m) => m.key === key)!;

describe('compareReports', () => {
  const weak = zeroShotReport((u) => u % 10 < 5); // 50 %
  const strong = zeroShotReport((u) => u % 10 < 7); // 70 %, a superset of weak's hits

  it('marks a large difference significant and gives each report its interval', () => {
    const comparison = compareReports([weak, strong], ['weak.json', 'strong.json'], { seed: 2 });
    expect(comparison.reports.map((r) => r.label)).toEqual(['A', 'B']);
    expect(comparison.sections.map((s) => s.name)).toEqual(['zeroShot']);
    const top1 = metric(comparison, 'score@1');
    expect(top1.values.map((v) => v.value)).toEqual([0.5, 0.7]);
    expect(top1.deltas[0]).toBeNull();
    expect(top1.deltas[1]).toMatchObject({ significant: true });
    expect(top1.deltas[1]!.delta).toBeCloseTo(0.2, 12);
    expect(top1.deltas[1]!.interval.low).toBeGreaterThan(0.1);
    expect(metric(comparison, 'score@3').deltas[1]).toEqual({ delta: 0, interval: { low: 0, high: 0 }, significant: false });
  });

  it('finds a zero difference not significant, and is identical for the same seed', () => {
    const other = zeroShotReport((u) => u % 10 >= 5, { prompts: ['a satellite image of {class}'] }); // 50 %, the other images
    const a = compareReports([weak, other], ['a', 'b'], { seed: 5 });
    expect(metric(a, 'score@1').deltas[1]).toMatchObject({ delta: 0, significant: false });
    expect(compareReports([weak, other], ['a', 'b'], { seed: 5 }).sections).toEqual(a.sections);
    expect(a.reports[1]!.prompts).toEqual(['a satellite image of {class}']);
  });

  it('pairs images by name, whatever order each report lists them in', () => {
    const reversed = zeroShotReport((u) => u % 10 < 7, { order: Array.from({ length: IMAGES }, (_, u) => IMAGES - 1 - u) });
    expect(compareReports([weak, reversed], ['a', 'b']).sections).toEqual(compareReports([weak, strong], ['a', 'b']).sections);
  });

  it('refuses reports over other data, edited reports, and reports with no metric in common', () => {
    const relabelled = zeroShotReport((u) => u % 10 < 5, { labelShift: 1 });
    expect(() => compareReports([weak, relabelled], ['a.json', 'b.json'])).toThrow(/a\.json and b\.json evaluated different images, labels or classes \(400 of 400 images shared\)/);
    // in the order of the command line: the first report, then the one that differs from it
    expect(() => compareReports([weak, strong, relabelled], ['a.json', 'b.json', 'c.json'])).toThrow(/^a\.json and c\.json evaluated different/);
    const edited = structuredClone(strong);
    edited.zeroShot.scores[1] = 0.9;
    expect(() => compareReports([weak, edited], ['a.json', 'b.json'])).toThrow(/b\.json: the per-image outcomes give score@1 0\.7 but the report says 0\.9/);
    const retrievalOnly = { ...weak, kind: 'retrieval' as const, retrieval: undefined };
    expect(() => compareReports([weak, retrievalOnly as never], ['a', 'b'])).toThrow(/share no metric/);
    expect(() => compareReports([weak], ['a'])).toThrow(/at least two/);
  });
});

describe('rsclip eval compare', () => {
  it('prints the table with significant differences marked, and writes the page with --html', async () => {
    const files = ['weak', 'strong'].map((name, i) => {
      mkdirSync(path.join(work, name), { recursive: true });
      const file = path.join(work, name, 'report.json');
      writeFileSync(file, JSON.stringify(zeroShotReport(i === 0 ? (u) => u % 10 < 5 : (u) => u % 10 < 7)));
      return file;
    });
    const html = path.join(work, 'compare', 'page.html');
    const result = await runCli(['eval', 'compare', ...files, '--html', html]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^A {2}synthetic fp32 \(ffffffffffff\) {2}.*weak\/report\.json$/m);
    expect(result.stdout).toMatch(/^ {2}score@1 +0\.500 \[\d\.\d{3}, \d\.\d{3}\] +0\.700 \[\d\.\d{3}, \d\.\d{3}\] +\+0\.200 \[\d\.\d{3}, \d\.\d{3}\] \*$/m);
    expect(result.stdout).toMatch(/^ {2}score@3 .* \+0\.000 \[0\.000, 0\.000\]$/m);
    expect(result.stdout).toContain('zero-shot classification (400 images paired)');
    // the --out folders themselves: their report.json
    const folders = await runCli(['eval', 'compare', ...files.map((file) => path.dirname(file))]);
    expect(folders.code, folders.stderr).toBe(0);
    expect(folders.stdout).toContain('zero-shot classification (400 images paired)');

    // with a third report, every column still starts under its header
    const third = path.join(work, 'third.json');
    writeFileSync(third, JSON.stringify(zeroShotReport((u) => u % 10 < 6)));
    const three = await runCli(['eval', 'compare', ...files, third]);
    const lines = three.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('  metric'))!;
    const row = lines.find((l) => l.startsWith('  score@1'))!;
    expect(row.indexOf('0.700')).toBe(header.indexOf('B '));
    expect(row.indexOf('+0.200')).toBe(header.indexOf('B - A'));
    expect(row.indexOf('+0.100')).toBe(header.indexOf('C - A'));
    expect(result.stdout).toContain(`wrote ${html}`);
    expect(readFileSync(html, 'utf8')).toContain('data-chart="delta-zeroShot-B"');

    const older = path.join(work, 'older.json');
    const { outcomes: _dropped, ...withoutOutcomes } = zeroShotReport((u) => u % 10 < 5).zeroShot;
    writeFileSync(older, JSON.stringify({ ...zeroShotReport((u) => u % 10 < 5), zeroShot: withoutOutcomes }));
    await expect(readReport(older)).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringMatching(/no per-image outcomes/) });

    const notReport = path.join(work, 'not-a-report.json');
    writeFileSync(notReport, '{"kind": "something"}');
    const refused = await runCli(['eval', 'compare', files[0]!, notReport]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/is not an rsclip evaluation report/);
  });

  it('writes --html /dev/stdout through stdout, appending under >> log, and --html - to stdout; the table goes to stderr', async () => {
    const files = ['weak', 'strong'].map((name, i) => {
      const file = path.join(work, `${name}-stdout.json`);
      writeFileSync(file, JSON.stringify(zeroShotReport(i === 0 ? (u) => u % 10 < 5 : (u) => u % 10 < 7)));
      return file;
    });
    const log = path.join(work, 'job.log');
    writeFileSync(log, 'line 1 written by an earlier job\n');
    const appending = openSync(log, 'a');
    try {
      const result = await runCli(['eval', 'compare', ...files, '--html', '/dev/stdout'], { stdio: ['ignore', appending, 'pipe'] });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('score@1');
    } finally {
      closeSync(appending);
    }
    const logged = readFileSync(log, 'utf8');
    expect(logged.startsWith('line 1 written by an earlier job\n<!doctype html>')).toBe(true);
    expect(logged.trimEnd().endsWith('</html>')).toBe(true);

    const dash = await runCli(['eval', 'compare', ...files, '--html', '-'], { cwd: work });
    expect(dash.code, dash.stderr).toBe(0);
    expect(dash.stdout.startsWith('<!doctype html>')).toBe(true);
    expect(dash.stderr).toContain('score@1');
    expect(() => readFileSync(path.join(work, '-'))).toThrow(/ENOENT/);
  });
});
