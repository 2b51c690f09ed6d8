/**
 * PNG and other images read through sharp: a 16-bit PNG's windows hold its 16-bit samples, one
 * per band (grey, grey + alpha, RGB, RGBA), at full resolution and reduced.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { openRaster } from '../../src/raster/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-sharp-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const width = 300;
const height = 200;
/**
 * A sample of pixel (x, y), band b: values far above 255, distinct from their neighbours'; an alpha
 * band (the second of two, the fourth of four) opaque, as libvips' resize premultiplies by it.
 */
const sample = (x: number, y: number, b: number, channels: number) => (channels % 2 === 0 && b === channels - 1 ? 65535 : 1000 + ((x * 131 + y * 71 + b * 9973) % 60000));

async function writePng16(file: string, channels: 1 | 2 | 3 | 4): Promise<void> {
  const samples = new Uint16Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let b = 0; b < channels; b++) samples[(y * width + x) * channels + b] = sample(x, y, b, channels);
  await sharp(samples, { raw: { width, height, channels, premultiplied: false } })
    .toColourspace(channels >= 3 ? 'rgb16' : 'grey16')
    .png()
    .toFile(file);
}

describe('a 16-bit PNG', () => {
  for (const channels of [1, 2, 3, 4] as const) {
    it(`with ${channels} channel(s) gives its 16-bit samples, one per band`, async () => {
      const file = path.join(dir, `sixteen-${channels}.png`);
      await writePng16(file, channels);
      const source = await openRaster(file);
      expect([source.dataType, source.bandCount]).toEqual(['uint16', channels]);
      const bands = Array.from({ length: channels }, (_, i) => i + 1);
      const w = { x: 37, y: 21, width: 150, height: 90 };
      const full = await source.readBands(w, bands);
      const reduced = await source.readBands(w, bands, { outWidth: 75, outHeight: 45 });
      await source.close();
      bands.forEach((_, b) => {
        expect(full.bands[b]!.length).toBe(w.width * w.height);
        expect(reduced.bands[b]!.length).toBe(75 * 45);
        const expected = Array.from({ length: w.width * w.height }, (_, i) => sample(w.x + (i % w.width), w.y + Math.floor(i / w.width), b, channels));
        expect(Array.from(full.bands[b]!), `band ${b + 1}`).toEqual(expected);
        // nearest neighbour: every reduced sample is one of the window's
        const inWindow = new Set(expected);
        expect(Array.from(reduced.bands[b]!).every((v) => inWindow.has(v)), `band ${b + 1} reduced`).toBe(true);
      });
    });
  }
});
