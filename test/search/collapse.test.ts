import { describe, expect, it } from 'vitest';
import { collapseNearDuplicates } from '../../src/search/index.js';
import { collapseNearDuplicatesInTurns } from '../../src/search/collapse.js';

const v = (...xs: number[]) => Float32Array.from(xs);
const vectors = new Map<number, Float32Array>([
  [1, v(1, 0, 0)],
  [2, v(0.999, 0.04, 0)], // a near-duplicate of 1
  [3, v(0, 1, 0)],
  [4, v(0.7, 0.7, 0)], // between 1 and 3, a duplicate of neither at 0.95
  [5, v(0, 0.999, 0.04)], // a near-duplicate of 3
]);
const hits = [1, 2, 3, 4, 5, 6].map((id, i) => ({ id, score: 1 - i / 10 }));

describe('collapseNearDuplicates', () => {
  it('folds each hit into the first better-ranked group it resembles, keeping the order', () => {
    const groups = collapseNearDuplicates(hits, (id) => vectors.get(id), 0.95);
    expect(groups.map((g) => g.hit.id)).toEqual([1, 3, 4, 6]);
    expect(groups[0]!.duplicates).toEqual([{ id: 2, score: 0.9, similarity: expect.closeTo(0.9992, 3) }]);
    expect(groups[1]!.duplicates.map((d) => d.id)).toEqual([5]);
    expect(groups[2]!.duplicates).toEqual([]);
  });

  it('keeps a hit without a vector alone, and folds nothing at threshold 1 unless identical', () => {
    expect(collapseNearDuplicates(hits, () => undefined, 0.5).map((g) => g.duplicates.length)).toEqual([0, 0, 0, 0, 0, 0]);
    const twins = new Map([...vectors, [6, v(1, 0, 0)]]);
    const groups = collapseNearDuplicates(hits, (id) => twins.get(id), 1);
    expect(groups.map((g) => g.hit.id)).toEqual([1, 2, 3, 4, 5]);
    expect(groups[0]!.duplicates.map((d) => d.id)).toEqual([6]);
  });
});

describe('collapseNearDuplicatesInTurns', () => {
  const hits = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, score: 1 - i / 1000 }));
  const vectorOf = (id: number) => Float32Array.from([Math.cos(id / 50), Math.sin(id / 50)]);

  it('forms the first maxGroups groups of the unbounded walk, and says that it left hits out', async () => {
    const all = await collapseNearDuplicatesInTurns(hits, vectorOf, 0.999);
    expect(all.truncated).toBe(false);
    const some = await collapseNearDuplicatesInTurns(hits, vectorOf, 0.999, { maxGroups: 10 });
    expect(some.truncated).toBe(true);
    expect(some.groups).toEqual(all.groups.slice(0, 10));
  });

  it('gives the event loop turns while it works', async () => {
    let turns = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    await collapseNearDuplicatesInTurns(hits, vectorOf, 2, { sliceMs: 0 });
    done = true;
    // a turn for every 64 hits: other requests are answered meanwhile
    expect(turns).toBeGreaterThanOrEqual(10);
  });
});
