import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../src/micro-batcher.js';

describe('MicroBatcher', () => {
  it('runs up to `concurrency` calls at once, each a batch of what waited, and answers every request', async () => {
    const calls: number[][] = [];
    let running = 0;
    let mostAtOnce = 0;
    const batcher = new MicroBatcher<number, number>(
      async (requests) => {
        calls.push([...requests]);
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running--;
        return requests.map((r) => r * 10);
      },
      { maxBatch: 2, concurrency: 2 },
    );
    const results = await Promise.all([1, 2, 3, 4, 5].map((r) => batcher.add(r)));
    expect(results).toEqual([10, 20, 30, 40, 50]);
    // the five asked at once: two calls of two side by side, then the last one
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
    expect(mostAtOnce).toBe(2);
  });
});
