/**
 * The report pages in a real browser (Debian's chromium through playwright-core): every
 * page opens with no console error and no request beyond the file itself, holds the SVG
 * charts it should with the report's own numbers, shows its thumbnails, and is screenshotted
 * to test-output/. Reports come from the tiny random model on a folder tree the test makes
 * (zero-shot, retrieval, compare, ANN); the RSICD page too where ../shared is present.
 * Skips (visibly) where /usr/bin/chromium is not installed; .ci/run installs it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareReports,
  evaluateAnn,
  evaluateRetrieval,
  evaluateRsicd,
  evaluateZeroShot,
  writeAnnReport,
  writeComparisonHtml,
  writeRetrievalReport,
  writeRsicdReport,
  writeZeroShotReport,
  type ZeroShotEvaluation,
} from '../../src/eval/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { REPO_ROOT } from '../fixtures/cli.js';
import { tinyModelDir } from '../fixtures/model.js';
import { hasShared, sharedPath } from '../fixtures/shared.js';
import { FOLDER_CLASSES, writeLabelledFolders } from './labelled-folders.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/eval/html-report.test.ts: skipped, ${CHROMIUM} is not installed (apt-get install -y chromium)`);
if (!hasShared) console.warn('test/eval/html-report.test.ts: the RSICD page is skipped, ../shared is absent');

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-html-'));
const screenshots = path.join(REPO_ROOT, 'test-output');

describe.skipIf(!hasChromium)('evaluation report pages in chromium', () => {
  const images = writeLabelledFolders(path.join(work, 'images'));
  let modelDir: string;
  let zeroShot: ZeroShotEvaluation;
  let browser: Browser;

  beforeAll(async () => {
    modelDir = await tinyModelDir();
    mkdirSync(screenshots, { recursive: true });
    zeroShot = await evaluateZeroShot({ model: modelDir, images, labelsFromFolders: true, threads: 1, commandLine: 'rsclip eval zero-shot (test)' });
    await writeZeroShotReport(path.join(work, 'zero-shot'), zeroShot);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Opens a report page; fails the test on a console error or any request that is not the page itself or a data: URI. */
  async function open(file: string, screenshot: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== `file://${file}` && !r.url().startsWith('data:')) problems.push(`request: ${r.url()}`);
    });
    await page.goto(`file://${file}`);
    await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete));
    await page.screenshot({ path: path.join(screenshots, screenshot), fullPage: true });
    expect(problems).toEqual([]);
    return page;
  }

  const charts = (page: Page) => page.locator('svg[data-chart]').evaluateAll((svgs) => svgs.map((s) => s.getAttribute('data-chart')));
  const barValues = (page: Page, chart: string) => page.locator(`svg[data-chart="${chart}"] rect[data-value]`).evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-value'))));

  it('zero-shot: score@k bars, per-class bars sorted, the confusion heat map and the worst classes with thumbnails', async () => {
    const page = await open(path.join(work, 'zero-shot', 'report.html'), 'eval-zero-shot.png');
    const section = zeroShot.report.zeroShot;
    expect(await charts(page)).toEqual(['score-at-k', 'per-class', 'confusion']);
    expect(await barValues(page, 'score-at-k')).toEqual([1, 3, 5, 10].map((k) => section.scores[k]));
    const perClass = await barValues(page, 'per-class');
    expect(perClass).toEqual([...perClass].sort((a, b) => b - a));
    expect(perClass.sort()).toEqual(section.perClass.map((c) => c.top1).sort());
    const cells = await page.locator('svg[data-chart="confusion"] rect[data-count]').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-count'))));
    expect(cells).toEqual(section.confusion.flat());
    expect(await page.locator('#zero-shot-scores').textContent()).toContain(section.scores[1]!.toFixed(3));
    // every class that is not perfect is among the worst (3 classes), each with its misclassified images, loaded
    const worst = section.perClass.filter((c) => c.top1 !== null && c.top1 < 1);
    expect(await page.locator('.examples').count()).toBe(worst.length);
    const misclassified = section.outcomes.labels.filter((l, u) => l !== section.outcomes.predicted[u]).length;
    const thumbnails = page.locator('.example img');
    expect(await thumbnails.count()).toBe(Math.min(misclassified, worst.length * 4));
    expect(await thumbnails.evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0 && (i as HTMLImageElement).src.startsWith('data:image/jpeg')))).toBe(true);
    await page.close();
  });

  it('retrieval: R@k bars with intervals and the table of the same numbers', async () => {
    const captions = path.join(work, 'dataset_test.json');
    const entries = FOLDER_CLASSES.flatMap((className) => [0, 1, 2].map((i) => ({ filename: `${className}/${className}_${i}.png`, split: 'test', sentences: [{ raw: `an aerial photograph of ${className} number ${i}` }, { raw: `a ${className} seen from above` }] })));
    writeFileSync(captions, JSON.stringify({ images: entries }));
    const evaluation = await evaluateRetrieval({ model: modelDir, images, captions, threads: 1 });
    await writeRetrievalReport(path.join(work, 'retrieval'), evaluation);
    const page = await open(path.join(work, 'retrieval', 'report.html'), 'eval-retrieval.png');
    const r = evaluation.report.retrieval;
    expect(await charts(page)).toEqual(['recall-at-k']);
    expect(await barValues(page, 'recall-at-k')).toEqual([r.textToImage[1], r.imageToText[1], r.textToImage[5], r.imageToText[5], r.textToImage[10], r.imageToText[10], r.meanRecall]);
    const table = (await page.locator('#retrieval-scores').textContent())!;
    expect(table).toContain(`${r.meanRecall.toFixed(3)} [${r.intervals.meanRecall!.low.toFixed(3)}, ${r.intervals.meanRecall!.high.toFixed(3)}]`);
    await page.close();
  });

  it('compare: a table of values and paired differences, and a forest plot per compared model', async () => {
    const other = await evaluateZeroShot({ model: modelDir, images, labelsFromFolders: true, prompts: ['a satellite image of {class}', 'an aerial view of {class}'], threads: 1 });
    const comparison = compareReports([zeroShot.report, other.report], ['a/report.json', 'b/report.json']);
    const file = await writeComparisonHtml(path.join(work, 'compare.html'), comparison);
    const page = await open(file, 'eval-compare.png');
    expect(await charts(page)).toEqual(['delta-zeroShot-B']);
    const delta = comparison.sections[0]!.metrics[0]!.deltas[1]!;
    expect(await page.locator('table[data-section="zeroShot"]').textContent()).toContain(`${delta.delta >= 0 ? '+' : ''}${delta.delta.toFixed(3).replace(/^-(0\.0+)$/, '$1')}`);
    expect(await page.locator('svg[data-chart="delta-zeroShot-B"] g[data-significant]').count()).toBe(4);
    await page.close();
  });

  it('ann: recall against queries per second over ef, with the exact scan marked', async () => {
    const index = path.join(work, 'index');
    await indexInto({ roots: [images], index, model: modelDir, threads: 1 });
    const report = await evaluateAnn({ index, queries: 13, k: 5, efs: [5, 10, 50] });
    await writeAnnReport(path.join(work, 'ann'), report);
    const page = await open(path.join(work, 'ann', 'report.html'), 'eval-ann.png');
    expect(await charts(page)).toEqual(['recall-vs-qps']);
    const labels = await page.locator('svg[data-chart="recall-vs-qps"] circle[data-label]').evaluateAll((cs) => cs.map((c) => c.getAttribute('data-label')));
    // ef 5 is searched as 6: a search for k + 1 = 6 neighbours (self held out) uses at least that
    expect(labels).toEqual(['ef=6', 'ef=10', 'ef=50', 'exact']);
    expect(await page.locator('#ann-rows').textContent()).toContain('6 (asked 5)');
    await page.close();
  }, 120_000);

  it.skipIf(!hasShared)('rsicd: this run beside the model card, thumbnails of real RSICD images', async () => {
    const evaluation = await evaluateRsicd({
      model: modelDir,
      images: sharedPath('datasets/rsicd-test/images'),
      captions: sharedPath('datasets/rsicd-test/captions.jsonl'),
      labels: sharedPath('datasets/rsicd-test/labels.tsv'),
      threads: 1,
      commandLine: 'rsclip eval rsicd --model tiny-random --images RSICD/images --captions RSICD/captions.jsonl --labels RSICD/labels.tsv --out report/',
    });
    await writeRsicdReport(path.join(work, 'rsicd'), evaluation);
    const page = await open(path.join(work, 'rsicd', 'report.html'), 'eval-rsicd.png');
    expect(await charts(page)).toEqual(['score-at-k', 'per-class', 'confusion', 'recall-at-k']);
    // three series: this run, clip-rsicd-v2 and CLIP ViT-B/32 as published
    const published: Record<number, number[]> = { 1: [0.883, 0.572], 3: [0.968, 0.745], 5: [0.982, 0.837], 10: [0.998, 0.939] };
    expect(await barValues(page, 'score-at-k')).toEqual([1, 3, 5, 10].flatMap((k) => [evaluation.report.zeroShot.scores[k], ...published[k]!]));
    expect(await page.locator('.example img').count()).toBe(20);
    // the README's screenshot; refreshed on request only, since the page shows a date and timings
    if (process.env.RSCLIP_UPDATE_SCREENSHOT) await page.screenshot({ path: path.join(REPO_ROOT, 'docs/eval-report.png'), fullPage: true, clip: { x: 0, y: 0, width: 1200, height: 1640 } });
    expect(readFileSync(path.join(work, 'rsicd', 'report.html'), 'utf8')).not.toMatch(/(src|href)="(?!data:)/);
    await page.close();
  }, 300_000);
});
