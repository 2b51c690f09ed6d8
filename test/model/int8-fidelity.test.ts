/**
 * The int8 variant stays close to fp32 on real images: rsclip only ships an int8 export whose
 * image embeddings keep cosine >= 0.999 with fp32 ones on aerial photos (the full-size random
 * ViT-B/32 is checked the same way by bench/encoder.ts, too slow to generate in the suite).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openClip } from '../../src/model/index.js';
import { cosine } from '../../src/vector-math.js';
import { DATASETS_DIR, describeShared } from '../fixtures/shared.js';
import { tinyModelDir } from '../fixtures/model.js';

describeShared('int8 against fp32 on real images', () => {
  it('image embeddings of 32 RSICD test images keep cosine >= 0.999', async () => {
    const dir = await tinyModelDir();
    const images = path.join(DATASETS_DIR, 'rsicd-test/images');
    const names = readdirSync(images).filter((n) => n.endsWith('.jpg')).sort();
    const files = Array.from({ length: 32 }, (_, i) => path.join(images, names[Math.floor((i * names.length) / 32)]!));
    const [fp32, int8] = await Promise.all([openClip(dir, { variant: 'fp32', threads: 1 }), openClip(dir, { variant: 'int8', threads: 1 })]);
    try {
      const [a, b] = await Promise.all([fp32.embedImages(files), int8.embedImages(files)]);
      const worst = Math.min(...a.map((v, i) => cosine(v, b[i]!)));
      expect(worst).toBeGreaterThanOrEqual(0.999);
    } finally {
      await Promise.all([fp32.close(), int8.close()]);
    }
  });
});
