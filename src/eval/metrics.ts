/**
 * Pure ranking metrics over score matrices: zero-shot top-k and cross-modal recall@k.
 *
 * Ties: every ranking here orders equal scores by column index, lower first (a stable
 * sort of the columns by descending score, numpy's `argsort(-scores, kind='stable')`).
 * The clip-rsicd evaluation script (arampacha/CLIP-rsicd, run_clip_eval.py) ranks classes
 * with `np.argsort(-probs)` over classes in sorted order, which for real-valued model
 * outputs agrees with this rule; with exact ties this rule is deterministic where
 * numpy's default quicksort is not. Scores that are NaN rank last.
 */
import { RsclipError } from '../errors.js';

/** A dense row-major [rows, cols] matrix of scores (higher = more similar). */
export interface ScoreMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** recall/score at each k, keyed by k. */
export type ScoresAtK = Record<number, number>;

export interface CrossModalRecall {
  textToImage: ScoresAtK;
  imageToText: ScoresAtK;
  /** Mean of all text->image and image->text recalls. */
  meanRecall: number;
  /** Caption queries (each caption, repeated ones included). */
  textQueries: number;
  /** Image queries: images with at least one caption. */
  imageQueries: number;
  /** Images left out of image->text because they have no caption. */
  imagesWithoutCaptions: number;
}

function assertKs(ks: readonly number[]): void {
  if (ks.length === 0) throw new RsclipError('BAD_INPUT', 'no k given: expected at least one positive integer k');
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new RsclipError('BAD_INPUT', `Expected positive integer for k but received ${String(k)}`);
  }
}

function assertMatrix(matrix: ScoreMatrix, what: string): void {
  if (matrix.rows * matrix.cols !== matrix.data.length) {
    throw new RsclipError('BAD_INPUT', `${what}: expected ${matrix.rows}x${matrix.cols} = ${matrix.rows * matrix.cols} scores, got ${matrix.data.length}`);
  }
}

/** The score matrix of unit row vectors `a` against unit row vectors `b` (cosine similarity). */
export function cosineScores(a: readonly Float32Array[], b: readonly Float32Array[]): ScoreMatrix {
  const data = new Float32Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) {
    const u = a[i]!;
    for (let j = 0; j < b.length; j++) {
      const v = b[j]!;
      if (v.length !== u.length) throw new RsclipError('BAD_INPUT', `vector length mismatch: expected ${u.length}, got ${v.length}`);
      let dot = 0;
      for (let d = 0; d < u.length; d++) dot += u[d]! * v[d]!;
      data[i * b.length + j] = dot;
    }
  }
  return { rows: a.length, cols: b.length, data };
}

/** `a` ranks before `b` (score descending, NaN last, then index ascending). */
function ranksBefore(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
  const nanA = Number.isNaN(scoreA);
  const nanB = Number.isNaN(scoreB);
  if (nanA !== nanB) return nanB;
  if (!nanA && scoreA !== scoreB) return scoreA > scoreB;
  return indexA < indexB;
}

/** 0-based rank of column `col` within `row` under the tie rule above. */
export function rankOf(matrix: ScoreMatrix, row: number, col: number): number {
  const base = row * matrix.cols;
  const own = matrix.data[base + col]!;
  let rank = 0;
  for (let j = 0; j < matrix.cols; j++) {
    if (j !== col && ranksBefore(matrix.data[base + j]!, j, own, col)) rank++;
  }
  return rank;
}

/** Column indices of `row`, best first, under the tie rule above. */
export function rankColumnsBestFirst(matrix: ScoreMatrix, row: number): number[] {
  const base = row * matrix.cols;
  const order = Array.from({ length: matrix.cols }, (_, j) => j);
  order.sort((a, b) => (ranksBefore(matrix.data[base + a]!, a, matrix.data[base + b]!, b) ? -1 : 1));
  return order;
}

/** Share of queries whose best rank is below k, for each k. */
function shareWithinK(bestRanks: readonly number[], ks: readonly number[]): ScoresAtK {
  const out: ScoresAtK = {};
  for (const k of ks) out[k] = bestRanks.filter((r) => r < k).length / bestRanks.length;
  return out;
}

/**
 * Zero-shot classification score@k: the share of images (rows) whose true class (column
 * `labels[row]`) is among the k best-scoring classes. k >= the class count gives 1.0.
 */
export function zeroShotScoresAtK(scores: ScoreMatrix, labels: readonly number[], ks: readonly number[]): ScoresAtK {
  assertKs(ks);
  assertMatrix(scores, 'zero-shot scores');
  if (scores.rows === 0) throw new RsclipError('DATASET_INVALID', 'zero-shot evaluation has no images: expected at least one labelled image');
  if (scores.cols === 0) throw new RsclipError('DATASET_INVALID', 'zero-shot evaluation has no classes: expected at least one class');
  if (labels.length !== scores.rows) {
    throw new RsclipError('BAD_INPUT', `expected one label per image (${scores.rows}), got ${labels.length}`);
  }
  const ranks = labels.map((label, row) => {
    if (!Number.isInteger(label) || label < 0 || label >= scores.cols) {
      throw new RsclipError('BAD_INPUT', `label of image ${row} is ${label}: expected a class index in [0, ${scores.cols - 1}]`);
    }
    return rankOf(scores, row, label);
  });
  return shareWithinK(ranks, ks);
}

function validateCaptionImages(textToImage: ScoreMatrix, captionImage: readonly number[]): void {
  assertMatrix(textToImage, 'text-image scores');
  if (textToImage.rows === 0) throw new RsclipError('DATASET_INVALID', 'retrieval evaluation has no captions: expected at least one caption');
  if (textToImage.cols === 0) throw new RsclipError('DATASET_INVALID', 'retrieval evaluation has no images: expected at least one image');
  if (captionImage.length !== textToImage.rows) {
    throw new RsclipError('BAD_INPUT', `expected one image index per caption (${textToImage.rows}), got ${captionImage.length}`);
  }
  captionImage.forEach((image, caption) => {
    if (!Number.isInteger(image) || image < 0 || image >= textToImage.cols) {
      throw new RsclipError('BAD_INPUT', `caption ${caption} names image ${image}: expected an image index in [0, ${textToImage.cols - 1}]`);
    }
  });
}

/**
 * Text->image ranks: each caption (row of [captions, images]) is one query, a caption
 * repeated in an image's list included (the standard RSICD protocol keeps every caption);
 * the hit is its own image `captionImage[caption]`.
 */
export function textToImageRanks(textToImage: ScoreMatrix, captionImage: readonly number[]): number[] {
  validateCaptionImages(textToImage, captionImage);
  return captionImage.map((image, caption) => rankOf(textToImage, caption, image));
}

/**
 * Image->text rank of each image: each image with at least one caption queries all
 * captions; a hit is any of its own captions, so its rank is that of its best-ranked own
 * caption. `undefined` for an image without a caption (it is no query).
 */
export function imageToTextRankPerImage(textToImage: ScoreMatrix, captionImage: readonly number[]): (number | undefined)[] {
  validateCaptionImages(textToImage, captionImage);
  const captionsOf: number[][] = Array.from({ length: textToImage.cols }, () => []);
  captionImage.forEach((image, caption) => captionsOf[image]!.push(caption));
  const transposed = transpose(textToImage);
  return captionsOf.map((own, image) => (own.length === 0 ? undefined : Math.min(...own.map((caption) => rankOf(transposed, image, caption)))));
}

/** Image->text ranks of the images that have captions (see `imageToTextRankPerImage`); the others are counted. */
export function imageToTextRanks(
  textToImage: ScoreMatrix,
  captionImage: readonly number[],
): { ranks: number[]; imagesWithoutCaptions: number } {
  const perImage = imageToTextRankPerImage(textToImage, captionImage);
  const ranks = perImage.filter((r): r is number => r !== undefined);
  if (ranks.length === 0) throw new RsclipError('DATASET_INVALID', 'no image has a caption: image->text retrieval has no queries');
  return { ranks, imagesWithoutCaptions: perImage.length - ranks.length };
}

/** Share of queries whose (0-based) rank is below k, for each k; a miss is rank Infinity. */
export function recallAtK(ranks: readonly number[], ks: readonly number[]): ScoresAtK {
  assertKs(ks);
  if (ranks.length === 0) throw new RsclipError('DATASET_INVALID', 'no queries: expected at least one query to compute recall');
  return shareWithinK(ranks, ks);
}

/** Recall@k both ways and their mean, from per-query ranks. */
export function crossModalRecallFromRanks(
  textRanks: readonly number[],
  image: { ranks: readonly number[]; imagesWithoutCaptions: number },
  ks: readonly number[],
): CrossModalRecall {
  const textToImage = recallAtK(textRanks, ks);
  const imageToText = recallAtK(image.ranks, ks);
  const all = [...Object.values(textToImage), ...Object.values(imageToText)];
  return {
    textToImage,
    imageToText,
    meanRecall: all.reduce((a, b) => a + b, 0) / all.length,
    textQueries: textRanks.length,
    imageQueries: image.ranks.length,
    imagesWithoutCaptions: image.imagesWithoutCaptions,
  };
}

/** Cross-modal retrieval recall@k over a full [captions, images] score matrix (exact ranking). */
export function crossModalRecall(textToImage: ScoreMatrix, captionImage: readonly number[], ks: readonly number[]): CrossModalRecall {
  assertKs(ks);
  return crossModalRecallFromRanks(textToImageRanks(textToImage, captionImage), imageToTextRanks(textToImage, captionImage), ks);
}

export function transpose(matrix: ScoreMatrix): ScoreMatrix {
  const data = new Float32Array(matrix.data.length);
  for (let r = 0; r < matrix.rows; r++) {
    for (let c = 0; c < matrix.cols; c++) data[c * matrix.rows + r] = matrix.data[r * matrix.cols + c]!;
  }
  return { rows: matrix.cols, cols: matrix.rows, data };
}

/** softmax(scale * scores) of one row, as CLIP's `logits_per_image.softmax(-1)`. */
export function softmaxRow(matrix: ScoreMatrix, row: number, scale: number): Float64Array {
  const out = new Float64Array(matrix.cols);
  let max = -Infinity;
  for (let j = 0; j < matrix.cols; j++) max = Math.max(max, scale * matrix.data[row * matrix.cols + j]!);
  let sum = 0;
  for (let j = 0; j < matrix.cols; j++) {
    out[j] = Math.exp(scale * matrix.data[row * matrix.cols + j]! - max);
    sum += out[j]!;
  }
  for (let j = 0; j < matrix.cols; j++) out[j]! /= sum;
  return out;
}
