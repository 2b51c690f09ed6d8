/**
 * Zero-shot classification fed chunk by chunk: what `classifyZeroShot` computes for the report
 * (score@k, per-class top-1 accuracy, per-unit outcomes), with a score matrix only as large as
 * one chunk of images against the classes. The per-image predictions (softmax, ten best
 * classes) are not made: a labels report keeps the outcomes, not the predictions. Every number
 * is the one `classifyZeroShot` gives for the same images in the same order (same cosine
 * scores, same ranking and tie rule).
 */
import { RsclipError } from '../errors.js';
import { cosineScores, rankColumnsBestFirst, rankOf, type ScoresAtK } from './metrics.js';
import type { ZeroShotOutcomes } from './outcomes.js';
import type { ClassAccuracy } from './zero-shot.js';

export interface ZeroShotTotals {
  scores: ScoresAtK;
  perClass: ClassAccuracy[];
  outcomes: ZeroShotOutcomes;
}

export class ZeroShotAccumulator {
  private readonly fileNames: string[] = [];
  private readonly labels: number[] = [];
  private readonly ranks: number[] = [];
  private readonly predicted: number[] = [];
  private readonly hitsWithinK: number[];
  private readonly perClassHits: number[];
  private readonly perClassImages: number[];

  constructor(
    private readonly classes: readonly string[],
    /** Unit class vectors, one per class. */
    private readonly classVectors: readonly Float32Array[],
    private readonly ks: readonly number[],
  ) {
    if (ks.length === 0) throw new RsclipError('BAD_INPUT', 'no k given: expected at least one positive integer k');
    for (const k of ks) {
      if (!Number.isInteger(k) || k < 1) throw new RsclipError('BAD_INPUT', `Expected positive integer for k but received ${String(k)}`);
    }
    this.hitsWithinK = ks.map(() => 0);
    this.perClassHits = new Array<number>(classes.length).fill(0);
    this.perClassImages = new Array<number>(classes.length).fill(0);
  }

  /** Scores one chunk of images: their names, unit vectors and class indices, in order. */
  add(fileNames: readonly string[], vectors: readonly Float32Array[], labels: readonly number[]): void {
    if (vectors.length !== fileNames.length || labels.length !== fileNames.length) {
      throw new RsclipError('BAD_INPUT', `expected one vector and one label per image (${fileNames.length}), got ${vectors.length} and ${labels.length}`);
    }
    if (this.classes.length === 0) throw new RsclipError('DATASET_INVALID', 'zero-shot evaluation has no classes: expected at least one class');
    const scores = cosineScores(vectors, this.classVectors);
    labels.forEach((label, row) => {
      if (!Number.isInteger(label) || label < 0 || label >= scores.cols) {
        throw new RsclipError('BAD_INPUT', `label of image ${this.fileNames.length + row} is ${label}: expected a class index in [0, ${scores.cols - 1}]`);
      }
      const rank = rankOf(scores, row, label);
      this.ks.forEach((k, i) => {
        if (rank < k) this.hitsWithinK[i]!++;
      });
      const order = rankColumnsBestFirst(scores, row);
      this.perClassImages[label]!++;
      if (order[0] === label) this.perClassHits[label]!++;
      this.fileNames.push(fileNames[row]!);
      this.labels.push(label);
      this.ranks.push(order.indexOf(label));
      this.predicted.push(order[0]!);
    });
  }

  get images(): number {
    return this.fileNames.length;
  }

  finish(): ZeroShotTotals {
    const n = this.fileNames.length;
    if (n === 0) throw new RsclipError('DATASET_INVALID', 'zero-shot evaluation has no images: expected at least one labelled image');
    const scores: ScoresAtK = {};
    this.ks.forEach((k, i) => (scores[k] = this.hitsWithinK[i]! / n));
    const perClass = this.classes.map((className, c) => ({
      className,
      images: this.perClassImages[c]!,
      top1: this.perClassImages[c]! === 0 ? null : this.perClassHits[c]! / this.perClassImages[c]!,
    }));
    return { scores, perClass, outcomes: { fileNames: this.fileNames, labels: this.labels, ranks: this.ranks, predicted: this.predicted } };
  }
}
