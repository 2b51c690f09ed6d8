/** embedTexts given a lone string (not an array of them) says so, not "no texts to embed". */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { tinyModelDir } from '../fixtures/model.js';

let encoder: ClipEncoder;
beforeAll(async () => {
  encoder = await openClip(await tinyModelDir(), { threads: 1 });
});
afterAll(() => encoder.close());

describe('embedTexts', () => {
  it('refuses what is not an array of strings, naming what it must be', async () => {
    await expect(encoder.embedTexts('a river' as unknown as string[])).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: 'Expected an array of strings for texts but received "a river" of type string',
      hint: 'embed one text as an array of one: embedTexts(["a river"])',
    });
    await expect(encoder.embedTexts(undefined as unknown as string[])).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'Expected an array of strings for texts but received undefined of type undefined' });
    await expect(encoder.embedTexts([])).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'no texts to embed: expected at least one text' });
    expect(await encoder.embedTexts(['a river'])).toHaveLength(1);
  });
});
