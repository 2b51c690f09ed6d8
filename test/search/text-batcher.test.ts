import { afterEach, describe, expect, it, vi } from 'vitest';
import { TextEmbeddingBatcher } from '../../src/search/index.js';

/** An encoder stand-in: each text embeds to [length], each call is recorded and takes a tick. */
function recorder(fail?: (texts: string[]) => boolean) {
  const calls: string[][] = [];
  const embed = async (texts: string[]): Promise<Float32Array[]> => {
    calls.push([...texts]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (fail?.(texts)) throw new Error(`encoder failed on ${texts.join(',')}`);
    return texts.map((t) => Float32Array.of(t.length));
  };
  return { calls, embed };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TextEmbeddingBatcher', () => {
  it('sends texts asked for together in one call and gives each caller its own vector', async () => {
    const { calls, embed } = recorder();
    const batcher = new TextEmbeddingBatcher(embed, { windowMs: 5 });
    const vectors = await Promise.all(['a', 'bb', 'ccc'].map((t) => batcher.embed(t)));
    expect(vectors.map((vector) => vector[0])).toEqual([1, 2, 3]);
    expect(calls).toEqual([['a', 'bb', 'ccc']]);
    expect(batcher.counts).toEqual({ calls: 1, texts: 3 });
  });

  it('by default sends a lone text at the end of the turn, without a timer, and texts of one turn together', async () => {
    // no timer fires: a flush waiting on one would never come
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const calls: string[][] = [];
    const batcher = new TextEmbeddingBatcher(async (texts) => {
      calls.push([...texts]);
      return texts.map((t) => Float32Array.of(t.length));
    });
    expect((await batcher.embed('lone'))[0]).toBe(4);
    await Promise.all(['a', 'bb'].map((t) => batcher.embed(t)));
    expect(calls).toEqual([['lone'], ['a', 'bb']]);
  });

  it('runs one call at a time, sends what arrived meanwhile next, and splits at maxBatch', async () => {
    const { calls, embed } = recorder();
    const batcher = new TextEmbeddingBatcher(embed, { windowMs: 1, maxBatch: 2 });
    const first = batcher.embed('one');
    await new Promise((resolve) => setTimeout(resolve, 2)); // the first call is running
    const rest = ['two', 'three', 'four', 'five', 'six'].map((t) => batcher.embed(t));
    await Promise.all([first, ...rest]);
    expect(calls).toEqual([['one'], ['two', 'three'], ['four', 'five'], ['six']]);
  });

  it('rejects every text of a failed call, and keeps working', async () => {
    const { embed } = recorder((texts) => texts.includes('bad'));
    const batcher = new TextEmbeddingBatcher(embed, { windowMs: 5 });
    const results = await Promise.allSettled(['ok', 'bad'].map((t) => batcher.embed(t)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('encoder failed on ok,bad'));
    expect((await batcher.embed('fine'))[0]).toBe(4);
  });
});
