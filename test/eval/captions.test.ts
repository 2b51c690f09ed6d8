/** Caption files: the Karpathy-style JSON of the retrieval papers and our JSONL, told apart by content. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCaptionFile } from '../../src/eval/captions.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-eval-captions-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  const file = path.join(work, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const sentence = (raw: string) => ({ tokens: raw.split(' '), raw, imgid: 0, sentid: 0 });

const karpathy = {
  dataset: 'rsicd',
  images: [
    { filename: 'airport_1.jpg', imgid: 0, split: 'train', sentences: [sentence('a train caption')] },
    { filename: 'beach_2.jpg', imgid: 1, split: 'test', sentences: [sentence('many waves .'), sentence('a beach .'), sentence('a beach .')] },
    { filename: 'bridge_3.jpg', imgid: 2, split: 'val', sentences: [sentence('a val caption')] },
    { filename: '00623.jpg', imgid: 3, split: 'test', sentences: [{ tokens: ['green', 'playground'] }] },
  ],
};

describe('readCaptionFile', () => {
  it('reads the test split of a Karpathy-style file by default, keeping repeats and order', async () => {
    const file = write('dataset_rsicd.json', karpathy);
    const read = await readCaptionFile(file);
    expect(read.format).toBe('karpathy');
    expect(read.split).toBe('test');
    expect([...read.captions.entries()]).toEqual([
      ['beach_2.jpg', ['many waves .', 'a beach .', 'a beach .']],
      ['00623.jpg', ['green playground']], // no "raw": the tokens joined
    ]);
    const val = await readCaptionFile(file, { split: 'val' });
    expect([...val.captions.keys()]).toEqual(['bridge_3.jpg']);
  });

  it('reads a file that starts with a byte order mark (as some editors save JSON)', async () => {
    const karpathyFile = write('dataset_bom.json', `\uFEFF${JSON.stringify(karpathy)}`);
    expect(await readCaptionFile(karpathyFile)).toMatchObject({ format: 'karpathy', split: 'test' });
    const jsonl = write('bom.jsonl', `\uFEFF${JSON.stringify({ filename: 'a.jpg', captions: ['a river'] })}\n`);
    expect([...(await readCaptionFile(jsonl)).captions.keys()]).toEqual(['a.jpg']);
  });

  it('joins filepath and filename (COCO-style entries)', async () => {
    const file = write('dataset_coco.json', { images: [{ filepath: 'val2014', filename: 'x.jpg', split: 'test', sentences: [sentence('a cat')] }] });
    expect([...(await readCaptionFile(file)).captions.keys()]).toEqual(['val2014/x.jpg']);
  });

  it('reads JSONL, including a one-line file, and refuses a split for it', async () => {
    const file = write('captions.jsonl', '{"filename": "a.jpg", "captions": ["one", "two"]}\n');
    const read = await readCaptionFile(file);
    expect(read).toMatchObject({ format: 'jsonl', split: null });
    expect(read.captions.get('a.jpg')).toEqual(['one', 'two']);
    await expect(readCaptionFile(file, { split: 'test' })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/no splits/) });
  });

  it('names the splits when the one asked for is absent, and the entry when one is malformed', async () => {
    const file = write('no-test.json', { images: [karpathy.images[0], karpathy.images[2]] });
    await expect(readCaptionFile(file)).rejects.toMatchObject({ code: 'DATASET_INVALID', hint: expect.stringMatching(/train, val/) });
    const noSentences = write('bad.json', { images: [{ filename: 'a.jpg', split: 'test' }] });
    await expect(readCaptionFile(noSentences)).rejects.toMatchObject({ code: 'DATASET_INVALID', message: expect.stringMatching(/images\[0\] \(a\.jpg\) has no "sentences"/) });
    const twice = write('twice.json', { images: [karpathy.images[1], karpathy.images[1]] });
    await expect(readCaptionFile(twice)).rejects.toMatchObject({ message: expect.stringMatching(/listed twice/) });
    await expect(readCaptionFile(path.join(work, 'missing.json'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
