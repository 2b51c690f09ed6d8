/**
 * Bootstrap intervals on synthetic rankings whose truth is known: a large difference is
 * significant, a zero difference is not, the same seed gives the same numbers, and the
 * metric sets of per-image outcomes reproduce the exact metric code.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapIntervals, metricValues, pairedBootstrap, type MetricSet } from '../../src/eval/bootstrap.js';
import { crossModalRecall, imageToTextRankPerImage, textToImageRanks, type ScoreMatrix } from '../../src/eval/metrics.js';
import { retrievalMetricSet, retrievalOutcomes, zeroShotMetricSet } from '../../src/eval/outcomes.js';
import { seededRandom } from '../../src/eval/random.js';

const IMAGES = 1000;

/** Zero-shot outcomes of `IMAGES` images over 10 classes: image u is a top-1 hit when hit(u). */
function zeroShotSet(hit: (u: number) => boolean): MetricSet {
  const ranks = Array.from({ length: IMAGES }, (_, u) => (hit(u) ? 0 : 5));
  const labels = Array.from({ length: IMAGES }, (_, u) => u % 10);
  const outcomes = { fileNames: labels.map((_, u) => `${u}.jpg`), labels, ranks, predicted: labels.map((l, u) => (hit(u) ? l : (l + 1) % 10)) };
  return zeroShotMetricSet(outcomes, Array.from({ length: 10 }, (_, c) => `class${c}`), [1, 10], { perClass: true });
}

describe('bootstrap intervals', () => {
  it('are reproducible: the same seed gives identical intervals, another seed other ones', () => {
    const random = seededRandom(7);
    const set = zeroShotSet(() => random() < 0.6);
    const a = bootstrapIntervals(set, { seed: 3 });
    const b = bootstrapIntervals(set, { seed: 3 });
    const c = bootstrapIntervals(set, { seed: 4 });
    expect(a).toEqual(b);
    expect(a['score@1']).not.toEqual(c['score@1']);
  });

  it('cover the value with about the binomial width, and degenerate where every resample agrees', () => {
    const random = seededRandom(11);
    const set = zeroShotSet(() => random() < 0.6);
    const value = metricValues(set)['score@1']!;
    const interval = bootstrapIntervals(set, { resamples: 2000 })['score@1']!;
    expect(interval.low).toBeLessThan(value);
    expect(interval.high).toBeGreaterThan(value);
    const expectedWidth = 2 * 1.96 * Math.sqrt((value * (1 - value)) / IMAGES);
    expect(interval.high - interval.low).toBeGreaterThan(0.8 * expectedWidth);
    expect(interval.high - interval.low).toBeLessThan(1.2 * expectedWidth);
    // score@10 with 10 classes is 1 for every image: nothing varies
    expect(bootstrapIntervals(set)['score@10']).toEqual({ low: 1, high: 1 });
    // a class metric only counts its own images (100 each)
    const classInterval = bootstrapIntervals(set)['class:class3']!;
    expect(classInterval.high - classInterval.low).toBeGreaterThan(interval.high - interval.low);
  });
});

describe('paired bootstrap', () => {
  it('finds a large difference significant', () => {
    const random = seededRandom(1);
    const draws = Array.from({ length: IMAGES }, () => random());
    const a = zeroShotSet((u) => draws[u]! < 0.5);
    const b = zeroShotSet((u) => draws[u]! < 0.7); // B hits wherever A does, and on 20 % more
    const diff = pairedBootstrap(a, b)['score@1']!;
    expect(diff.delta).toBeCloseTo(metricValues(b)['score@1']! - metricValues(a)['score@1']!, 12);
    expect(diff.delta).toBeGreaterThan(0.15);
    expect(diff.significant).toBe(true);
    expect(diff.interval.low).toBeGreaterThan(0);
    expect(pairedBootstrap(b, a)['score@1']).toMatchObject({ significant: true });
    expect(pairedBootstrap(b, a)['score@1']!.interval.high).toBeLessThan(0);
  });

  it('finds no significance in a zero difference, whether the models agree image by image or not', () => {
    // same accuracy, different images: A hits the even images, B the odd ones
    const a = zeroShotSet((u) => u % 2 === 0);
    const b = zeroShotSet((u) => u % 2 === 1);
    const diff = pairedBootstrap(a, b)['score@1']!;
    expect(diff.delta).toBe(0);
    expect(diff.significant).toBe(false);
    expect(diff.interval.low).toBeLessThan(0);
    expect(diff.interval.high).toBeGreaterThan(0);
    // identical outcomes: the difference is 0 in every resample
    expect(pairedBootstrap(a, a)['score@1']).toEqual({ delta: 0, interval: { low: 0, high: 0 }, significant: false });
  });

  it('gives identical results for the same seed', () => {
    const a = zeroShotSet((u) => u % 3 === 0);
    const b = zeroShotSet((u) => u % 4 === 0);
    expect(pairedBootstrap(a, b, { seed: 9, resamples: 500 })).toEqual(pairedBootstrap(a, b, { seed: 9, resamples: 500 }));
  });

  it('refuses sets over different numbers of images, and bad settings', () => {
    const a = zeroShotSet(() => true);
    const fewer: MetricSet = { ...a, units: 10, ratios: a.ratios.map((r) => ({ ...r, numerators: r.numerators.slice(0, 10), denominators: r.denominators.slice(0, 10) })) };
    expect(() => pairedBootstrap(a, fewer)).toThrow(/same units/);
    expect(() => bootstrapIntervals(a, { resamples: 0 })).toThrow(/resamples/);
    expect(() => bootstrapIntervals(a, { level: 1 })).toThrow(/level/);
  });

  it('refuses too few resamples to give an interval its tails', () => {
    const a = zeroShotSet((u) => u % 2 === 0);
    expect(() => bootstrapIntervals(a, { resamples: 1 })).toThrow(/Expected an integer in \[100, 1000000\] for resamples but received 1/);
    expect(() => bootstrapIntervals(a, { resamples: 99 })).toThrow(/resamples/);
    expect(bootstrapIntervals(a, { resamples: 100 })['score@1']!.low).toBeLessThan(0.5);
  });
});

describe('clustered bootstrap (tiles of one file drawn together)', () => {
  /** Two files of 50 tiles each: every tile of the first is a hit, none of the second. */
  function tiledSet(clustered: boolean): MetricSet {
    const units = 100;
    const labels = new Array<number>(units).fill(0);
    const ranks = labels.map((_, u) => (u < 50 ? 0 : 1));
    const outcomes = { fileNames: labels.map((_, u) => `tile${u}`), labels, ranks, predicted: ranks.map((r) => (r === 0 ? 0 : 1)), ...(clustered ? { files: labels.map((_, u) => (u < 50 ? 'a.tif' : 'b.tif')) } : {}) };
    return zeroShotMetricSet(outcomes, ['x', 'y'], [1], { perClass: false });
  }

  it('resamples files, not tiles: two files give an interval as wide as their disagreement', () => {
    expect(Array.from(tiledSet(true).clusters!)).toEqual([...new Array<number>(50).fill(0), ...new Array<number>(50).fill(1)]);
    const byFile = bootstrapIntervals(tiledSet(true), { resamples: 400 })['score@1']!;
    // a resample draws two files: both a, both b, or one of each: 1, 0 or 0.5
    expect(byFile).toEqual({ low: 0, high: 1 });
    // drawn tile by tile, the 100 tiles would pretend to be independent: about 0.5 +- 0.1
    const byTile = bootstrapIntervals(tiledSet(false), { resamples: 400 })['score@1']!;
    expect(byTile.low).toBeGreaterThan(0.35);
    expect(byTile.high).toBeLessThan(0.65);
  });

  it('draws one unit per cluster exactly as the unclustered bootstrap draws units', () => {
    const set = zeroShotSet((u) => u % 3 === 0);
    const singletons: MetricSet = { ...set, clusters: Int32Array.from({ length: IMAGES }, (_, u) => u) };
    expect(bootstrapIntervals(singletons, { seed: 4 })).toEqual(bootstrapIntervals(set, { seed: 4 }));
  });
});

describe('retrieval metric set', () => {
  it('reproduces crossModalRecall from per-image outcomes, images without captions included', () => {
    const random = seededRandom(5);
    const images = 40;
    const captionImage = Array.from({ length: 150 }, () => Math.floor(random() * (images - 3))); // the last 3 images have no caption
    const scores: ScoreMatrix = { rows: captionImage.length, cols: images, data: Float32Array.from({ length: captionImage.length * images }, () => random()) };
    const exact = crossModalRecall(scores, captionImage, [1, 5, 10]);
    const outcomes = retrievalOutcomes(
      Array.from({ length: images }, (_, i) => `${i}.jpg`),
      captionImage,
      textToImageRanks(scores, captionImage),
      imageToTextRankPerImage(scores, captionImage),
    );
    expect(outcomes.imageRanks.slice(-3)).toEqual([null, null, null]);
    const values = metricValues(retrievalMetricSet(outcomes, [1, 5, 10]));
    for (const k of [1, 5, 10]) {
      expect(values[`textToImage@${k}`]).toBe(exact.textToImage[k]);
      expect(values[`imageToText@${k}`]).toBe(exact.imageToText[k]);
    }
    expect(values.meanRecall).toBeCloseTo(exact.meanRecall, 14);
  });
});
