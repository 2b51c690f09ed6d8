import { describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import {
  cosineScores,
  crossModalRecall,
  imageToTextRanks,
  rankColumnsBestFirst,
  recallAtK,
  softmaxRow,
  textToImageRanks,
  zeroShotScoresAtK,
  type ScoreMatrix,
} from '../../src/eval/metrics.js';

function matrix(rows: number[][]): ScoreMatrix {
  return { rows: rows.length, cols: rows[0]?.length ?? 0, data: Float32Array.from(rows.flat()) };
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RsclipError);
    expect((error as RsclipError).code).toBe(code);
    return;
  }
  throw new Error(`expected an RsclipError ${code}`);
}

describe('zeroShotScoresAtK', () => {
  it('counts an image when its class is among the k best, ties ordered by class index', () => {
    const scores = matrix([
      [0.9, 0.1, 0.5], // label 0: rank 0
      [0.5, 0.5, 0.2], // label 1: tied with class 0, which has the lower index -> rank 1
      [0.3, 0.3, 0.3], // label 2: all tied -> rank 2
      [0.5, 0.5, 0.2], // label 0: tied with class 1, wins by lower index -> rank 0
    ]);
    const scoresAtK = zeroShotScoresAtK(scores, [0, 1, 2, 0], [1, 2, 3]);
    expect(scoresAtK[1]).toBeCloseTo(2 / 4);
    expect(scoresAtK[2]).toBeCloseTo(3 / 4);
    expect(scoresAtK[3]).toBe(1);
  });

  it('gives 1.0 when k is larger than the number of classes', () => {
    const scores = matrix([
      [0.1, 0.9],
      [0.9, 0.1],
    ]);
    expect(zeroShotScoresAtK(scores, [0, 1], [1, 5, 10])).toEqual({ 1: 0, 5: 1, 10: 1 });
  });

  it('ranks NaN scores last', () => {
    expect(rankColumnsBestFirst(matrix([[Number.NaN, 0.2, 0.7]]), 0)).toEqual([2, 1, 0]);
  });

  it('refuses empty inputs, bad labels and bad k with clear errors', () => {
    expectCode(() => zeroShotScoresAtK({ rows: 0, cols: 3, data: new Float32Array(0) }, [], [1]), 'DATASET_INVALID');
    expectCode(() => zeroShotScoresAtK({ rows: 2, cols: 0, data: new Float32Array(0) }, [0, 0], [1]), 'DATASET_INVALID');
    expectCode(() => zeroShotScoresAtK(matrix([[1, 0]]), [2], [1]), 'BAD_INPUT');
    expectCode(() => zeroShotScoresAtK(matrix([[1, 0]]), [0, 1], [1]), 'BAD_INPUT');
    expectCode(() => zeroShotScoresAtK(matrix([[1, 0]]), [0], [0]), 'BAD_INPUT');
    expectCode(() => zeroShotScoresAtK(matrix([[1, 0]]), [0], []), 'BAD_INPUT');
  });
});

describe('cross-modal recall', () => {
  // captions x images; image 0 has the same caption twice (RSICD repeats captions), image 1 one caption, image 2 none
  const textToImage = matrix([
    [0.9, 0.2, 0.1], // caption 0 -> image 0: rank 0
    [0.9, 0.2, 0.1], // caption 1 (repeat of caption 0) -> image 0: rank 0
    [0.8, 0.1, 0.7], // caption 2 -> image 1: rank 2
  ]);
  const captionImage = [0, 0, 1];

  it('keeps every caption, repeats included, as its own text->image query', () => {
    expect(textToImageRanks(textToImage, captionImage)).toEqual([0, 0, 2]);
  });

  it('counts an image->text hit at the best-ranked own caption and leaves out images without captions', () => {
    // image 0 column: [0.9, 0.9, 0.8] -> own captions 0 and 1 rank 0 and 1 -> best 0
    // image 1 column: [0.2, 0.2, 0.1] -> own caption 2 ranks 2
    expect(imageToTextRanks(textToImage, captionImage)).toEqual({ ranks: [0, 2], imagesWithoutCaptions: 1 });
  });

  it('computes R@k both ways and their mean', () => {
    const r = crossModalRecall(textToImage, captionImage, [1, 2, 3]);
    expect(r.textToImage[1]).toBeCloseTo(2 / 3);
    expect(r.textToImage[2]).toBeCloseTo(2 / 3);
    expect(r.textToImage[3]).toBe(1);
    expect(r.imageToText).toEqual({ 1: 0.5, 2: 0.5, 3: 1 });
    expect(r.meanRecall).toBeCloseTo((2 / 3 + 2 / 3 + 1 + 0.5 + 0.5 + 1) / 6);
    expect(r).toMatchObject({ textQueries: 3, imageQueries: 2, imagesWithoutCaptions: 1 });
  });

  it('breaks a text->image tie by image index', () => {
    // caption 0's own image is 1, tied with image 0 (lower index) -> rank 1
    expect(textToImageRanks(matrix([[0.5, 0.5, 0.1]]), [1])).toEqual([1]);
    expect(textToImageRanks(matrix([[0.5, 0.5, 0.1]]), [0])).toEqual([0]);
  });

  it('treats a miss (rank Infinity) as outside every k', () => {
    expect(recallAtK([0, Infinity, 4], [1, 5, 10])).toEqual({ 1: 1 / 3, 5: 2 / 3, 10: 2 / 3 });
  });

  it('refuses empty inputs with clear errors', () => {
    expectCode(() => crossModalRecall({ rows: 0, cols: 2, data: new Float32Array(0) }, [], [1]), 'DATASET_INVALID');
    expectCode(() => crossModalRecall({ rows: 2, cols: 0, data: new Float32Array(0) }, [0, 0], [1]), 'DATASET_INVALID');
    expectCode(() => crossModalRecall(matrix([[1, 0]]), [5], [1]), 'BAD_INPUT');
    expectCode(() => recallAtK([], [1]), 'DATASET_INVALID');
  });
});

describe('score helpers', () => {
  it('cosineScores is the dot product of unit rows', () => {
    const s = cosineScores([Float32Array.of(1, 0)], [Float32Array.of(0.6, 0.8), Float32Array.of(0, 1)]);
    expect(Array.from(s.data)).toEqual([Math.fround(0.6), 0]);
  });

  it('softmaxRow applies the logit scale before the softmax', () => {
    const p = softmaxRow(matrix([[0.01, 0]]), 0, 100);
    expect(p[0]).toBeCloseTo(Math.E / (Math.E + 1), 5);
    expect(p[0]! + p[1]!).toBeCloseTo(1, 12);
  });
});
