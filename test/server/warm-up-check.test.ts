/**
 * A model that runs but gives vectors no search can use (NaN: damaged weights) leaves the server
 * not ready: /readyz stays 503 and the log says why, instead of 200 while every text search
 * answers 500.
 */
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openClip } from '../../src/model/index.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

let served: ServedIndex;
beforeAll(async () => {
  served = await buildServedIndex('warm-up-check', 2);
}, 120_000);
afterAll(() => served.remove());

/** A logger whose lines are kept. */
function capturedLogger() {
  let text = '';
  const output = new PassThrough().on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { logger: pino({ level: 'info' }, output), lines: () => text };
}

it('stays not ready (503) when the text tower gives NaN vectors, and says why; ready with the same model whole', async () => {
  for (const damaged of [true, false]) {
    const encoder = await openClip(served.modelDir, { threads: 1 });
    if (damaged) {
      const embedTexts = encoder.embedTexts.bind(encoder);
      encoder.embedTexts = async (texts) => (await embedTexts(texts)).map((v) => v.fill(Number.NaN));
    }
    const { logger, lines } = capturedLogger();
    const server = await served.start({ encoder, logger, warmUpImages: false });
    try {
      await server.ready;
      const readyz = await fetch(`${server.url}readyz`);
      if (damaged) {
        expect(readyz.status).toBe(503);
        expect(((await readyz.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'NOT_READY', message: expect.stringMatching(/^the model failed its warm-up \(the server log says why\)/) });
        expect(lines()).toMatch(/model warm-up failed; \/readyz stays 503/);
        expect(lines()).toMatch(/the model gave the warm-up text \\"an aerial photo\\" a vector with NaN/);
      } else {
        expect(readyz.status).toBe(200);
      }
    } finally {
      await server.close();
    }
  }
});

it('says so in the log when the image tower gives NaN vectors at its warm-up, and stays ready for text', async () => {
  const encoder = await openClip(served.modelDir, { threads: 1 });
  // the server decodes uploads in its own threads and hands the image tower their pixels
  const embedPixels = encoder.embedPixels.bind(encoder);
  encoder.embedPixels = async (pixels, options) => (await embedPixels(pixels, options)).map((v) => v.fill(Number.NaN));
  const { logger, lines } = capturedLogger();
  const server = await served.start({ encoder, logger });
  try {
    await server.ready;
    await expect.poll(lines, { timeout: 30_000, interval: 100 }).toMatch(/image tower warm-up failed; image queries will report why/);
    expect(lines()).toMatch(/the model gave a blank warm-up image a vector with NaN/);
    expect(lines()).not.toMatch(/image tower warmed up/);
    expect((await fetch(`${server.url}readyz`)).status).toBe(200);
  } finally {
    await server.close();
  }
});
