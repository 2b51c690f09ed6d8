/**
 * The int8 variant stays close to fp32 on real images and captions: rsclip only ships an int8
 * export whose image embeddings keep cosine >= 0.999 with fp32 ones (the full-size random
 * ViT-B/32 is checked the same way by bench/encoder.ts, too slow to generate in the suite), on
 * every CPU: 8-bit weights saturated on x86 CPUs without VNNI (quantize.ts), where the worst
 * cosines here fell to 0.9977 (images) and 0.877 (captions).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { cosine } from '../../src/vector-math.js';
import { DATASETS_DIR, describeShared } from '../fixtures/shared.js';
import { tinyModelDir } from '../fixtures/model.js';

/** The worst cosine between the fp32 and int8 embeddings of the tiny model. */
async function worstCosine(embed: (encoder: ClipEncoder) => Promise<Float32Array[]>): Promise<number> {
  const dir = await tinyModelDir();
  const [fp32, int8] = await Promise.all([openClip(dir, { variant: 'fp32', threads: 1 }), openClip(dir, { variant: 'int8', threads: 1 })]);
  try {
    const [a, b] = await Promise.all([embed(fp32), embed(int8)]);
    return Math.min(...a.map((v, i) => cosine(v, b[i]!)));
  } finally {
    await Promise.all([fp32.close(), int8.close()]);
  }
}

describeShared('int8 against fp32 on real images', () => {
  it('image embeddings of 32 RSICD test images keep cosine >= 0.999', async () => {
    const images = path.join(DATASETS_DIR, 'rsicd-test/images');
    const names = readdirSync(images).filter((n) => n.endsWith('.jpg')).sort();
    const files = Array.from({ length: 32 }, (_, i) => path.join(images, names[Math.floor((i * names.length) / 32)]!));
    expect(await worstCosine((encoder) => encoder.embedImages(files))).toBeGreaterThanOrEqual(0.999);
  });

  // the tiny random text tower (width 32) is noisier than its vision tower: 0.9968 at worst with
  // 7-bit weights; 8-bit ones, saturating, gave 0.877 on a CPU without VNNI
  it('text embeddings of 32 RSICD captions keep cosine >= 0.99', async () => {
    const lines = readFileSync(path.join(DATASETS_DIR, 'rsicd-test/captions.jsonl'), 'utf8').trim().split('\n');
    const captions = Array.from({ length: 32 }, (_, i) => (JSON.parse(lines[Math.floor((i * lines.length) / 32)]!) as { captions: string[] }).captions[0]!);
    expect(await worstCosine((encoder) => encoder.embedTexts(captions))).toBeGreaterThanOrEqual(0.99);
  });
});
