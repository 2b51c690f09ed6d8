import { describe, expect, it } from 'vitest';
import { recallAgainstOracle, sampleSeeded } from '../../src/eval/ann.js';

describe('ANN recall helpers', () => {
  it('samples distinct items, reproducibly for a seed', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const a = sampleSeeded(items, 10, 7);
    expect(new Set(a).size).toBe(10);
    expect(sampleSeeded(items, 10, 7)).toEqual(a);
    expect(sampleSeeded(items, 10, 8)).not.toEqual(a);
    expect(sampleSeeded(items, 500, 1).sort((x, y) => x - y)).toEqual(items);
  });

  it('counts a result tied with the k-th true neighbour as a hit', () => {
    const truth = new Set([1, 2]);
    // k = 2; id 3 scores the same as the oracle's 2nd (a byte-identical twin of id 2)
    expect(recallAgainstOracle([{ id: 1, score: 0.9 }, { id: 3, score: 0.8 }], truth, 0.8, 2)).toBe(1);
    expect(recallAgainstOracle([{ id: 1, score: 0.9 }, { id: 4, score: 0.7 }], truth, 0.8, 2)).toBe(0.5);
    expect(recallAgainstOracle([], truth, 0.8, 2)).toBe(0);
  });
});
