import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/eval/random.js';
import { bestFirst, checkLength, checkVector, cosine, dotAt, normalizeRows, TopK, unitVector, vectorProblem } from '../src/vector-math.js';

describe('vector maths', () => {
  it('normalises copies and rows to length 1, leaving zero vectors zero', () => {
    const v = Float32Array.of(3, 4);
    expect(Array.from(unitVector(v))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(v)).toEqual([3, 4]);
    expect(Array.from(unitVector(Float32Array.of(0, 0)))).toEqual([0, 0]);
    const rows = normalizeRows(Float32Array.of(3, 4, 0, 0, 0, 2), 3, 2);
    expect(rows.map((r) => Array.from(r))).toEqual([[Math.fround(0.6), Math.fround(0.8)], [0, 0], [0, 1]]);
  });

  it('scores by cosine (0 for a zero vector) and reads matrix rows in place', () => {
    expect(cosine(Float32Array.of(1, 0), Float32Array.of(2, 2))).toBeCloseTo(Math.SQRT1_2, 6);
    expect(cosine(Float32Array.of(0, 0), Float32Array.of(1, 0))).toBe(0);
    expect(dotAt(Float32Array.of(1, 2), Float32Array.of(9, 9, 3, 4), 2)).toBe(11);
  });

  it('says whose vector has the wrong length', () => {
    expect(() => checkLength(new Float32Array(3), 4, 'BAD_QUERY')).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: 'Expected a vector of length 4 but received one of length 3' }));
    expect(() => checkLength(new Float32Array(5), 4, 'INDEX_INCOMPATIBLE')).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE' }));
    expect(() => checkLength(new Float32Array(4), 4, 'BAD_QUERY')).not.toThrow();
  });

  it('finds what makes a vector useless to a cosine: a value that is not finite, or no direction at all', () => {
    expect(vectorProblem(Float32Array.of(0, 1e-30, 0.001))).toBeUndefined();
    expect(vectorProblem(Float32Array.of(-65_504, 10))).toBeUndefined();
    // what half precision (the catalog's vectors, pgvector's halfvec index) cannot hold
    expect(vectorProblem(Float32Array.of(0, 100_000))).toBe('100000 at position 1, beyond the ±65504 of half precision');
    expect(vectorProblem(Float32Array.of(1e-20, -1e-20))).toMatch(/^every component smaller than 6.10e-5 in magnitude/);
    expect(vectorProblem(Float32Array.of(1, Number.NaN, 2))).toBe('NaN at position 1');
    expect(vectorProblem(Float32Array.of(0, 0, Number.NEGATIVE_INFINITY))).toBe('-Infinity at position 2');
    expect(vectorProblem(new Float32Array(4))).toBe('every component zero');
    expect(() => checkVector(Float32Array.of(0, Number.NaN), 2, 'INDEX_INCOMPATIBLE')).toThrow(
      expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', message: 'Expected a vector of finite numbers, not all zero, but received one with NaN at position 1', hint: expect.stringMatching(/model/) }),
    );
    expect(() => checkVector(new Float32Array(2), 2, 'BAD_QUERY')).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/every component zero/) }));
    expect(() => checkVector(new Float32Array(3), 2, 'BAD_QUERY')).toThrow(expect.objectContaining({ message: expect.stringMatching(/length 2/) }));
    expect(() => checkVector(Float32Array.of(0, -1), 2, 'BAD_QUERY')).not.toThrow();
  });

  it('keeps the k best scores, ties to the smaller id', () => {
    const top = new TopK(3);
    for (const [id, score] of [[5, 0.5], [1, 0.9], [4, 0.5], [2, 0.1], [3, 0.9], ...Array.from({ length: 100 }, (_, i) => [100 + i, 0.2] as const)]) top.offer(id, score);
    expect(top.bestFirst()).toEqual([{ id: 1, score: 0.9 }, { id: 3, score: 0.9 }, { id: 4, score: 0.5 }]);
    // a NaN score (a vector stored before vectors were checked) cannot be ranked: left out
    const withNaN = new TopK(2);
    for (const [id, score] of [[1, 0.5], [2, Number.NaN], [3, 0.4], [4, 0.1]] as const) withNaN.offer(id, score);
    expect(withNaN.bestFirst()).toEqual([{ id: 1, score: 0.5 }, { id: 3, score: 0.4 }]);
    const none = new TopK(0);
    none.offer(1, 1);
    expect(none.bestFirst()).toEqual([]);
  });

  it('keeps the same k as sorting everything offered, in any order of offers, with many ties', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 200; round++) {
      const k = [1, 2, 5, 20, 100][round % 5]!;
      const count = Math.floor(random() * 300);
      // scores from a few values, so that ties decide; ids distinct, offered in a random order
      const offers = Array.from({ length: count }, (_, i) => ({ id: (i * 7919) % 1009, score: random() < 0.02 ? Number.NaN : Math.floor(random() * 8) / 8 }));
      const top = new TopK(k);
      for (const { id, score } of offers) top.offer(id, score);
      const expected = bestFirst(offers.filter((o) => !Number.isNaN(o.score)), k);
      expect(top.bestFirst(), `round ${round}`).toEqual(expected);
    }
  });
});
