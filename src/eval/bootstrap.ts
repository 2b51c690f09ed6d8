/**
 * Bootstrap confidence intervals for evaluation metrics (Efron's percentile bootstrap).
 *
 * A metric is a ratio over units (images): the sum of per-unit numerators over the sum of
 * per-unit denominators (text->image recall over the captions of each image, accuracy over
 * images, ...), or the mean of other metrics (mR). A resample draws as many units as there
 * are, with replacement, from a seeded generator; every metric of a set is computed on the
 * same resample, so a mean stays the mean of its parts. The interval at level 0.95 runs from
 * the 2.5th to the 97.5th percentile of the resampled values. Only the queries are
 * resampled: the gallery they rank stays whole, so ranks are never recomputed.
 *
 * Paired comparison (two models on the same units): both sets get the very same resamples,
 * and the interval is that of the difference; it is significant when it excludes zero.
 */
import { RsclipError } from '../errors.js';
import { seededRandom } from './random.js';

export const DEFAULT_RESAMPLES = 1000;
export const DEFAULT_BOOTSTRAP_SEED = 1;
export const DEFAULT_CONFIDENCE_LEVEL = 0.95;
/** Fewer resamples put the 2.5th and 97.5th percentiles on the same few draws: an interval that need not hold the value. */
export const MIN_RESAMPLES = 100;
export const MAX_RESAMPLES = 1_000_000;

export interface Interval {
  low: number;
  high: number;
}

/** sum(numerators) / sum(denominators) over the units of a resample. */
export interface RatioMetric {
  key: string;
  numerators: Float64Array;
  denominators: Float64Array;
}

/** The mean of other metrics of the set. */
export interface MeanMetric {
  key: string;
  of: string[];
}

export interface MetricSet {
  units: number;
  ratios: RatioMetric[];
  means: MeanMetric[];
  /**
   * Per unit, the cluster it is drawn with (0-based): the tiles of one file are correlated, so a
   * resample draws files and takes all their tiles. Absent: every unit is drawn on its own.
   */
  clusters?: Int32Array;
}

export interface BootstrapOptions {
  /** Resamples drawn. Default 1000. */
  resamples?: number;
  /** Seed of the resampling. Default 1. */
  seed?: number;
  /** Confidence level of the intervals. Default 0.95. */
  level?: number;
}

/** How the intervals of a report were computed (recorded with them). */
export interface BootstrapSettings {
  method: 'percentile bootstrap';
  /** What a resample draws with replacement: images, or files with all their tiles (an index of scenes cut into tiles). */
  unit: 'image' | 'file';
  resamples: number;
  seed: number;
  level: number;
}

export interface PairedDifference {
  /** value(b) - value(a) on the full data. */
  delta: number;
  interval: Interval;
  /** The interval excludes 0. */
  significant: boolean;
}

export function bootstrapSettings(options: BootstrapOptions = {}): BootstrapSettings {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const seed = options.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const level = options.level ?? DEFAULT_CONFIDENCE_LEVEL;
  if (!Number.isInteger(resamples) || resamples < MIN_RESAMPLES || resamples > MAX_RESAMPLES) {
    throw new RsclipError('BAD_INPUT', `Expected an integer in [${MIN_RESAMPLES}, ${MAX_RESAMPLES}] for resamples but received ${resamples}`, {
      hint: `a ${Math.round(level * 100)} % percentile interval needs enough resamples to have tails; ${DEFAULT_RESAMPLES} is the default`,
    });
  }
  if (!Number.isInteger(seed) || seed < 0) throw new RsclipError('BAD_INPUT', `Expected non-negative integer for seed but received ${seed}`);
  if (!(level > 0 && level < 1)) throw new RsclipError('BAD_INPUT', `Expected a level in (0, 1) but received ${level}`);
  return { method: 'percentile bootstrap', unit: 'image', resamples, seed, level };
}

/** The units a ratio counts (non-zero numerator or denominator): a per-class metric touches only its class, so resampling stays linear in the images. */
const contributingUnits = new WeakMap<RatioMetric, Int32Array>();

function unitsOf(metric: RatioMetric): Int32Array {
  let units = contributingUnits.get(metric);
  if (!units) {
    const list: number[] = [];
    metric.denominators.forEach((den, u) => {
      if (den !== 0 || metric.numerators[u] !== 0) list.push(u);
    });
    units = Int32Array.from(list);
    contributingUnits.set(metric, units);
  }
  return units;
}

/** Every metric of the set with each unit counted `weights[u]` times (once each when omitted). NaN where a ratio has no denominator. */
export function metricValues(set: MetricSet, weights?: Int32Array): Record<string, number> {
  const values: Record<string, number> = {};
  for (const metric of set.ratios) {
    let num = 0;
    let den = 0;
    for (const u of unitsOf(metric)) {
      const w = weights ? weights[u]! : 1;
      num += w * metric.numerators[u]!;
      den += w * metric.denominators[u]!;
    }
    values[metric.key] = den > 0 ? num / den : NaN;
  }
  for (const mean of set.means) values[mean.key] = mean.of.reduce((sum, key) => sum + values[key]!, 0) / mean.of.length;
  return values;
}

function metricKeys(set: MetricSet): string[] {
  return [...set.ratios.map((m) => m.key), ...set.means.map((m) => m.key)];
}

/** Type-7 (linear) quantile of sorted finite values. */
function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

function percentileInterval(samples: readonly number[], level: number): Interval {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return { low: quantile(sorted, tail), high: quantile(sorted, 1 - tail) };
}

/** The units of each cluster; one cluster per unit when the set has none. */
function clusterMembers(set: MetricSet): Int32Array[] {
  if (!set.clusters) return Array.from({ length: set.units }, (_, u) => Int32Array.of(u));
  const members: number[][] = [];
  set.clusters.forEach((c, u) => (members[c] ??= []).push(u));
  return members.map((m) => Int32Array.from(m ?? []));
}

/** Draws `settings.resamples` multiplicity vectors over the units (clusters drawn whole) and hands each to `visit`. */
function forEachResample(set: MetricSet, settings: BootstrapSettings, visit: (weights: Int32Array) => void): void {
  const random = seededRandom(settings.seed);
  const members = clusterMembers(set);
  const weights = new Int32Array(set.units);
  for (let b = 0; b < settings.resamples; b++) {
    weights.fill(0);
    for (let i = 0; i < members.length; i++) for (const u of members[Math.floor(random() * members.length)]!) weights[u]!++;
    visit(weights);
  }
}

function assertUnits(set: MetricSet): void {
  if (!Number.isInteger(set.units) || set.units < 1) throw new RsclipError('DATASET_INVALID', 'bootstrap needs at least one unit (image)');
  for (const metric of set.ratios) {
    if (metric.numerators.length !== set.units || metric.denominators.length !== set.units) {
      throw new RsclipError('BAD_INPUT', `metric ${metric.key}: expected ${set.units} numerators and denominators, got ${metric.numerators.length} and ${metric.denominators.length}`);
    }
  }
  if (set.clusters && set.clusters.length !== set.units) throw new RsclipError('BAD_INPUT', `expected a cluster for each of the ${set.units} units, got ${set.clusters.length}`);
}

/** A percentile interval for every metric of the set. */
export function bootstrapIntervals(set: MetricSet, options: BootstrapOptions = {}): Record<string, Interval> {
  const settings = bootstrapSettings(options);
  assertUnits(set);
  const keys = metricKeys(set);
  const samples: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
  forEachResample(set, settings, (weights) => {
    const values = metricValues(set, weights);
    for (const key of keys) samples[key]!.push(values[key]!);
  });
  return Object.fromEntries(keys.map((key) => [key, percentileInterval(samples[key]!, settings.level)]));
}

/**
 * Paired bootstrap of b - a for every metric the two sets share. Unit u of `a` and unit u
 * of `b` must be the same image (the caller aligns them); `a`'s clusters are drawn.
 */
export function pairedBootstrap(a: MetricSet, b: MetricSet, options: BootstrapOptions = {}): Record<string, PairedDifference> {
  const settings = bootstrapSettings(options);
  assertUnits(a);
  assertUnits(b);
  if (a.units !== b.units) throw new RsclipError('BAD_INPUT', `paired bootstrap needs the same units on both sides, got ${a.units} and ${b.units}`);
  const bKeys = new Set(metricKeys(b));
  const keys = metricKeys(a).filter((k) => bKeys.has(k));
  const samples: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
  forEachResample(a, settings, (weights) => {
    const va = metricValues(a, weights);
    const vb = metricValues(b, weights);
    for (const key of keys) samples[key]!.push(vb[key]! - va[key]!);
  });
  const fullA = metricValues(a);
  const fullB = metricValues(b);
  return Object.fromEntries(
    keys.map((key) => {
      const interval = percentileInterval(samples[key]!, settings.level);
      return [key, { delta: fullB[key]! - fullA[key]!, interval, significant: interval.low > 0 || interval.high < 0 }];
    }),
  );
}
