/**
 * Per-image query outcomes and the report sections built from them. A report keeps its
 * outcomes in report.json: enough to recompute every metric, to resample it (bootstrap
 * intervals) and to pair two reports image by image (`rsclip eval compare`).
 *
 * Metric keys (shared by intervals and comparisons): `textToImage@k`, `imageToText@k`,
 * `meanRecall`; `score@k`; `class:<name>` (top-1 accuracy of one class).
 */
import { bootstrapIntervals, type BootstrapSettings, type Interval, type MetricSet, type RatioMetric } from './bootstrap.js';
import { compareCodeUnits, sha256Hex } from './dataset.js';
import type { CrossModalRecall, ScoresAtK } from './metrics.js';
import type { ClassAccuracy } from './zero-shot.js';

export interface RetrievalOutcomes {
  /** The images, in the order of the other arrays. */
  fileNames: string[];
  /** Per image: its 0-based rank for each of its captions (text->image); null = not found within the searched depth. */
  captionRanks: (number | null)[][];
  /** Per image: the rank of its best-ranked own caption (image->text); null when it has no caption. */
  imageRanks: (number | null)[];
}

export interface ZeroShotOutcomes {
  /** Unique per unit: an image's path, or a tile's file and window (`eval labels` over scenes cut into tiles). */
  fileNames: string[];
  /** Per unit, the file it was cut from, when some file gave several units: resampled together. */
  files?: string[];
  /** Class index of each image's label. */
  labels: number[];
  /** 0-based rank of the true class among all classes. */
  ranks: number[];
  /** Class index of the top-1 prediction. */
  predicted: number[];
}

export interface RetrievalSection extends CrossModalRecall {
  /** Bootstrap intervals keyed `textToImage@k`, `imageToText@k`, `meanRecall`. */
  intervals: Record<string, Interval>;
  /** sha256 over the images and their captions: two reports with the same value ran the same queries. */
  queriesSha256: string;
  outcomes: RetrievalOutcomes;
}

export interface ClassAccuracyWithInterval extends ClassAccuracy {
  top1Interval: Interval;
}

export interface ZeroShotSection {
  images: number;
  classes: string[];
  scores: ScoresAtK;
  /** Bootstrap intervals keyed `score@k`. */
  intervals: Record<string, Interval>;
  perClass: ClassAccuracyWithInterval[];
  /** confusion[true class][predicted class] = images (top-1). */
  confusion: number[][];
  /** sha256 over the images, their labels and the class list. */
  queriesSha256: string;
  outcomes: ZeroShotOutcomes;
}

const nullRank = (rank: number | undefined): number | null => (rank === undefined || !Number.isFinite(rank) ? null : rank);
const within = (rank: number | null, k: number): boolean => rank !== null && rank < k;

/** Groups per-caption text->image ranks by image and pairs them with the image->text ranks. */
export function retrievalOutcomes(
  fileNames: readonly string[],
  captionImage: readonly number[],
  textRanks: readonly number[],
  imageRankPerImage: readonly (number | undefined)[],
): RetrievalOutcomes {
  const captionRanks: (number | null)[][] = fileNames.map(() => []);
  captionImage.forEach((image, caption) => captionRanks[image]!.push(nullRank(textRanks[caption])));
  return { fileNames: [...fileNames], captionRanks, imageRanks: fileNames.map((_, i) => nullRank(imageRankPerImage[i])) };
}

function ratio(key: string, units: number, fill: (u: number) => [number, number]): RatioMetric {
  const numerators = new Float64Array(units);
  const denominators = new Float64Array(units);
  for (let u = 0; u < units; u++) [numerators[u], denominators[u]] = fill(u);
  return { key, numerators, denominators };
}

export function retrievalMetricSet(outcomes: RetrievalOutcomes, ks: readonly number[]): MetricSet {
  const units = outcomes.fileNames.length;
  const t2i = ks.map((k) => ratio(`textToImage@${k}`, units, (u) => [outcomes.captionRanks[u]!.filter((r) => within(r, k)).length, outcomes.captionRanks[u]!.length]));
  const i2t = ks.map((k) => ratio(`imageToText@${k}`, units, (u) => (outcomes.captionRanks[u]!.length === 0 ? [0, 0] : [within(outcomes.imageRanks[u]!, k) ? 1 : 0, 1])));
  const ratios = [...t2i, ...i2t];
  return { units, ratios, means: [{ key: 'meanRecall', of: ratios.map((r) => r.key) }] };
}

export function zeroShotMetricSet(outcomes: ZeroShotOutcomes, classes: readonly string[], ks: readonly number[], options: { perClass: boolean }): MetricSet {
  const units = outcomes.fileNames.length;
  const ratios = ks.map((k) => ratio(`score@${k}`, units, (u) => [outcomes.ranks[u]! < k ? 1 : 0, 1]));
  if (options.perClass) {
    classes.forEach((className, c) => ratios.push(ratio(`class:${className}`, units, (u) => (outcomes.labels[u] === c ? [outcomes.ranks[u] === 0 ? 1 : 0, 1] : [0, 0]))));
  }
  return { units, ratios, means: [], ...(outcomes.files ? { clusters: clustersOf(outcomes.files) } : {}) };
}

/** Cluster indices of units named by their cluster (0 for the first name seen, 1 for the next, ...). */
export function clustersOf(names: readonly string[]): Int32Array {
  const index = new Map<string, number>();
  return Int32Array.from(names, (name) => {
    let c = index.get(name);
    if (c === undefined) index.set(name, (c = index.size));
    return c;
  });
}

/** What the units of a section are, for headings: `54 tiles of 3 files` or `20 images`. */
export function unitsPhrase(outcomes: ZeroShotOutcomes): string {
  const units = outcomes.fileNames.length;
  return outcomes.files ? `${units} tiles of ${new Set(outcomes.files).size} files` : `${units} images`;
}

function sortedLinesSha256(lines: string[]): string {
  return sha256Hex(lines.sort(compareCodeUnits).join('\n'));
}

export function retrievalSection(recall: CrossModalRecall, outcomes: RetrievalOutcomes, captionsPerImage: readonly (readonly string[])[], ks: readonly number[], settings: BootstrapSettings): RetrievalSection {
  const queriesSha256 = sortedLinesSha256(outcomes.fileNames.map((name, i) => [name, ...captionsPerImage[i]!].join('\t')));
  return { ...recall, intervals: bootstrapIntervals(retrievalMetricSet(outcomes, ks), settings), queriesSha256, outcomes };
}

export function confusionMatrix(outcomes: ZeroShotOutcomes, classCount: number): number[][] {
  const matrix = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  outcomes.labels.forEach((label, u) => matrix[label]![outcomes.predicted[u]!]!++);
  return matrix;
}

export function zeroShotSection(
  scores: ScoresAtK,
  perClass: readonly ClassAccuracy[],
  classes: readonly string[],
  outcomes: ZeroShotOutcomes,
  ks: readonly number[],
  settings: BootstrapSettings,
): ZeroShotSection {
  const intervals = bootstrapIntervals(zeroShotMetricSet(outcomes, classes, ks, { perClass: true }), settings);
  const queriesSha256 = sortedLinesSha256(outcomes.fileNames.map((name, u) => `${name}\t${classes[outcomes.labels[u]!]}`));
  return {
    images: outcomes.fileNames.length,
    classes: [...classes],
    scores,
    intervals: Object.fromEntries(ks.map((k) => [`score@${k}`, intervals[`score@${k}`]!])),
    perClass: perClass.map((c) => ({ ...c, top1Interval: intervals[`class:${c.className}`]! })),
    confusion: confusionMatrix(outcomes, classes.length),
    queriesSha256: sha256Hex(`${queriesSha256}\n${classes.join('\n')}`),
    outcomes,
  };
}
