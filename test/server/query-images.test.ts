/** The server's pool of query-image decoding threads: made at the first upload, and closed for good. */
import { describe, expect, it } from 'vitest';
import { openModelDirectory } from '../../src/model/model-dir.js';
import { QueryImageDecoder } from '../../src/server/query-images.js';
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
});
