import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { preprocessImage } from '../../src/model/image.js';
import { openClip, openModelDirectory, type ClipEncoder } from '../../src/model/index.js';
import { PixelArrayPool } from '../../src/model/pixel-arrays.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

describe('PixelArrayPool', () => {
  it('keeps no more arrays than it handed out, nor than its capacity, each buffer once, whole arrays of its length only', () => {
    const pool = new PixelArrayPool(4, 3);
    pool.give([new Float32Array(4)]);
    expect(pool.size).toBe(0); // nothing handed out yet: a foreign array is not kept
    const taken = [pool.take(), pool.take(), pool.take(), pool.take()];
    expect(taken.every((a) => a.length === 4)).toBe(true);
    const wide = new Float32Array(8);
    pool.give([new Float32Array(5), wide.subarray(0, 4), taken[0]!, taken[0]!, new Float32Array(wide.buffer, 16, 4)]);
    expect(pool.size).toBe(1);
    pool.give(taken.slice(1));
    expect(pool.size).toBe(3); // the capacity
    expect(pool.take()).toBe(taken[2]);
    pool.give([taken[2]!, new Float32Array(4)]);
    expect(pool.size).toBe(3);
  });
});

describe('an encoder reusing the arrays the model thread gives back', () => {
  let encoder: ClipEncoder;
  let work: string;
  beforeAll(async () => {
    encoder = await openClip(await tinyModelDir(), { threads: 1, maxImageBatch: 4 });
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-pixel-arrays-'));
  });
  afterAll(async () => {
    await encoder.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('preprocesses into them the pixels a new array gets, and embeds them as a fresh encoder does', async () => {
    const files = Array.from({ length: 8 }, (_, i) => {
      const file = path.join(work, `img${i}.png`);
      writeFileSync(file, makePng(40 + i, 30 + 7 * i, 50 - 3 * i));
      return file;
    });
    const pools = new Set<PixelArrayPool>();
    const give = vi.spyOn(PixelArrayPool.prototype, 'give').mockImplementation(function (this: PixelArrayPool, arrays) {
      pools.add(this);
      give.mockRestore();
      return this.give(arrays);
    });
    const { preprocess } = openModelDirectory(await tinyModelDir());
    const vectors: Float32Array[] = [];
    for (const [round, batch] of [files.slice(0, 4), files.slice(4)].entries()) {
      const pixels = await Promise.all(batch.map(async (file) => (await encoder.preprocess(file)).pixels));
      // the second round's images went into the first round's arrays
      if (round === 1) expect([...pools][0]!.size).toBe(0);
      for (const [i, file] of batch.entries()) expect(pixels[i]).toEqual((await preprocessImage(file, preprocess)).pixels);
      vectors.push(...(await encoder.embedPixels(pixels, { handOver: true })));
      // the batch's arrays came back from the model thread and wait for the next round
      expect(pools.size).toBe(1);
      expect([...pools][0]!.size).toBe(4);
    }
    const fresh = await openClip(await tinyModelDir(), { threads: 1, maxImageBatch: 4 });
    try {
      expect(vectors).toEqual(await fresh.embedImages(files));
    } finally {
      await fresh.close();
    }
  });
});
