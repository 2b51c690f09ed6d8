/**
 * PNG and other images read through sharp: a 16-bit PNG's windows hold its 16-bit samples, one
 * per band (grey, grey + alpha, RGB, RGBA), at full resolution and reduced; a scene read window
 * by window is decoded once, with the same samples as windows decoded from the file, and a
 * truncated one still gives the windows above its damage; a file of a format sharp cannot read is
 * named by its format.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
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

/** Windows across the image, the last at its bottom-right corner. */
const windows = [
  { x: 0, y: 0, width: 64, height: 64 },
  { x: 120, y: 70, width: 64, height: 64 },
  { x: 10, y: 150, width: 100, height: 50 },
  { x: width - 64, y: height - 64, width: 64, height: 64 },
];

async function writeRgb8(file: string): Promise<void> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37 + Math.floor(i / 911) * 101) % 256;
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  await (file.endsWith('.jpg') ? image.jpeg({ quality: 85 }) : image.png()).toFile(file);
}

/** Each window as a source opened for it alone reads it: from the file. */
async function readFresh(file: string, window: (typeof windows)[number], bands: number[]) {
  const source = await openRaster(file);
  try {
    return (await source.readBands(window, bands)).bands.map((b) => Array.from(b));
  } finally {
    await source.close();
  }
}

describe('a scene read window by window', () => {
  for (const [name, write, channels] of [
    ['sixteen.png', (f: string) => writePng16(f, 3), 3],
    ['sixteen-grey.png', (f: string) => writePng16(f, 1), 1],
    ['eight.jpg', writeRgb8, 3],
    ['eight.png', writeRgb8, 3],
  ] as const) {
    it(`is decoded once: ${name}'s windows equal those read from the file, and go on after it is gone`, async () => {
      const file = path.join(dir, `windows-${name}`);
      await write(file);
      const bands = Array.from({ length: channels }, (_, i) => i + 1);
      const expected = await Promise.all(windows.map((w) => readFresh(file, w, bands)));
      const source = await openRaster(file);
      try {
        const first = await source.readBands(windows[0]!, bands);
        const second = await source.readBands(windows[1]!, bands);
        // the whole image is in memory now: the rest is read without the file
        unlinkSync(file);
        const rest = [await source.readBands(windows[2]!, bands), await source.readBands(windows[3]!, bands)];
        [first, second, ...rest].forEach((read, i) => expect(read.bands.map((b) => Array.from(b)), `window ${i}`).toEqual(expected[i]));
      } finally {
        await source.close();
      }
    });
  }

  it('gives a truncated JPEG\'s windows above the damage, and refuses the ones below with the file named', async () => {
    const whole = path.join(dir, 'whole.jpg');
    await writeRgb8(whole);
    const file = path.join(dir, 'truncated.jpg');
    const bytes = readFileSync(whole);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const bands = [1, 2, 3];
    const top = await readFresh(whole, windows[0]!, bands);
    const source = await openRaster(file);
    try {
      expect((await source.readBands(windows[0]!, bands)).bands.map((b) => Array.from(b))).toEqual(top);
      expect((await source.readBands(windows[0]!, bands)).bands.map((b) => Array.from(b))).toEqual(top);
      await expect(source.readBands(windows[3]!, bands)).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE', message: expect.stringContaining(file) });
    } finally {
      await source.close();
    }
  });
});

describe('a file of a format sharp cannot read', () => {
  it('is named by its format when opened as a raster (locate), under its own extension and as .tif', async () => {
    // a JPEG 2000 file's signature box, then bytes no decoder here takes
    const jp2 = Buffer.concat([Buffer.from([0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]), Buffer.alloc(200, 7)]);
    for (const name of ['scene.jp2', 'scene-jp2.tif']) {
      const file = path.join(dir, name);
      writeFileSync(file, jp2);
      await expect(openRaster(file)).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE', message: expect.stringContaining('image format rsclip cannot read (JPEG 2000)') });
    }
  });
});
