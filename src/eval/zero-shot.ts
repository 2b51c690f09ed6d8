/**
 * Zero-shot classification of image vectors against class text vectors: score@k, per-class
 * top-1 accuracy, and per-image predictions (softmax over classes of logit_scale * cosine,
 * as `CLIPModel(...).logits_per_image.softmax(-1)` in the clip-rsicd evaluation script).
 */
import type { ZeroShotOutcomes } from './outcomes.js';
import type { ImagePrediction } from './predictions.js';
import { cosineScores, rankColumnsBestFirst, softmaxRow, zeroShotScoresAtK, type ScoresAtK } from './metrics.js';

/** CLIP's logit scale, exp(ln 100) clamped in training; used when a model does not record its own. */
export const DEFAULT_LOGIT_SCALE = 100;

export interface ClassAccuracy {
  className: string;
  images: number;
  /** Share of this class's images whose best class is this class; null for a class without images. */
  top1: number | null;
}

export interface ZeroShotInput {
  fileNames: readonly string[];
  /** Unit image vectors, one per file. */
  imageVectors: readonly Float32Array[];
  /** Class index of each image. */
  labels: readonly number[];
  classes: readonly string[];
  /** Unit class vectors, one per class. */
  classVectors: readonly Float32Array[];
  logitScale: number;
  ks: readonly number[];
  /** Predicted classes written per image. */
  predictionsPerImage: number;
}

export interface ZeroShotOutcome {
  scores: ScoresAtK;
  perClass: ClassAccuracy[];
  predictions: ImagePrediction[];
  /** Per image: label, rank of the true class, top-1 class (for intervals, comparisons, the confusion matrix). */
  outcomes: ZeroShotOutcomes;
}

export function classifyZeroShot(input: ZeroShotInput): ZeroShotOutcome {
  const scores = cosineScores(input.imageVectors, input.classVectors);
  const scoresAtK = zeroShotScoresAtK(scores, input.labels, input.ks);
  const perClassHits = new Array<number>(input.classes.length).fill(0);
  const perClassImages = new Array<number>(input.classes.length).fill(0);
  const ranks: number[] = [];
  const predicted: number[] = [];
  const predictions: ImagePrediction[] = input.fileNames.map((fileName, row) => {
    const order = rankColumnsBestFirst(scores, row);
    const probabilities = softmaxRow(scores, row, input.logitScale);
    const label = input.labels[row]!;
    perClassImages[label]!++;
    if (order[0] === label) perClassHits[label]!++;
    ranks.push(order.indexOf(label));
    predicted.push(order[0]!);
    return {
      fileName,
      label: input.classes[label]!,
      predictions: order.slice(0, input.predictionsPerImage).map((c) => ({ className: input.classes[c]!, probability: probabilities[c]! })),
    };
  });
  const perClass = input.classes.map((className, c) => ({
    className,
    images: perClassImages[c]!,
    top1: perClassImages[c]! === 0 ? null : perClassHits[c]! / perClassImages[c]!,
  }));
  return { scores: scoresAtK, perClass, predictions, outcomes: { fileNames: [...input.fileNames], labels: [...input.labels], ranks, predicted } };
}
