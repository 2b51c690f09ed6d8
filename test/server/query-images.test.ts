/** The server's pool of query-image decoding threads (made at the first upload, and closed for good), and the vision-tower runs they feed. */
import { describe, expect, it } from 'vitest';
import type { ClipEncoder } from '../../src/model/encoder-types.js';
import { openModelDirectory } from '../../src/model/model-dir.js';
import { QueryImageDecoder, withQueryImageDecoder } from '../../src/server/query-images.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

describe('QueryImageDecoder', () => {
  it('decodes uploads in its threads, and refuses them once closed instead of starting new ones', async () => {
    const { preprocess } = openModelDirectory(await tinyModelDir());
    const decoder = new QueryImageDecoder(preprocess, { maxPixels: 10_000_000, threads: 1, maxQueued: 4, keptThreads: 1 });
    const image = await decoder.preprocess(makePng(3, 40, 30));
    expect([image.width, image.height, image.pixels.length]).toEqual([40, 30, 3 * preprocess.cropHeight * preprocess.cropWidth]);
    await decoder.close();
    await expect(decoder.preprocess(makePng(4))).rejects.toThrow('the query image decoder is closed');
    // a decoder closed before its first upload has no threads to end
    await new QueryImageDecoder(preprocess, { maxPixels: 10_000_000, threads: 1, maxQueued: 4 }).close();
  });

  it('lets requests take turns at its threads, and answers 503 past the images it lets wait', async () => {
    const { preprocess } = openModelDirectory(await tinyModelDir());
    const decoder = new QueryImageDecoder(preprocess, { maxPixels: 10_000_000, threads: 1, maxQueued: 6 });
    try {
      const done: string[] = [];
      const [many, one] = [{}, {}];
      const decoded = [
        ...[1, 2, 3, 4, 5, 6].map((seed) => decoder.preprocess(makePng(seed, 64, 64), many).then(() => done.push(`many ${seed}`))),
        decoder.preprocess(makePng(7, 64, 64), one).then(() => done.push('one')),
      ];
      await expect(decoder.preprocess(makePng(8), {})).rejects.toMatchObject({ status: 503, code: 'SERVER_BUSY' });
      await Promise.all(decoded);
      // the lone image waits for the one decode under way, not for the five queued before it
      expect(done).toEqual(['many 1', 'one', 'many 2', 'many 3', 'many 4', 'many 5', 'many 6']);
    } finally {
      await decoder.close();
    }
  });
});

describe('withQueryImageDecoder', () => {
  it('sends the images decoded while the vision tower runs to its next run together, each caller getting its own vector', async () => {
    const { preprocess } = openModelDirectory(await tinyModelDir());
    const uploads = [1, 2, 3, 4, 5, 6].map((seed) => makePng(seed, 48, 40));
    let decoded = 0;
    const decoder = new (class extends QueryImageDecoder {
      override async preprocess(bytes: Buffer) {
        const image = await super.preprocess(bytes);
        decoded++;
        return image;
      }
    })(preprocess, { maxPixels: 10_000_000, threads: 2, maxQueued: 8 });
    // a stand-in tower: its first run lasts until every upload is decoded; a vector is its image's first pixel
    const runs: number[] = [];
    const tower = {
      async embedPixels(pixels: Float32Array[]) {
        runs.push(pixels.length);
        while (runs.length === 1 && decoded < uploads.length) await new Promise((resolve) => setTimeout(resolve, 2));
        return pixels.map((p) => Float32Array.of(p[0]!));
      },
      close: async () => {},
    } as unknown as ClipEncoder;
    const encoder = withQueryImageDecoder(tower, decoder);
    try {
      const vectors = await Promise.all(uploads.map((upload) => encoder.embedImages([upload])));
      const alone = await Promise.all(uploads.map(async (upload) => (await decoder.preprocess(upload)).pixels[0]));
      expect(new Set(alone).size).toBe(uploads.length);
      expect(vectors.map(([v]) => v![0])).toEqual(alone);
      // one run (or two decoded in the same turn) goes first; all decoded meanwhile go in the next
      expect(runs.reduce((sum, n) => sum + n, 0)).toBe(uploads.length);
      expect(runs.length).toBeLessThanOrEqual(2);
    } finally {
      await encoder.close();
    }
  });
});
