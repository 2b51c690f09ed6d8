/**
 * Small JPEGs held in memory are decoded by MozJPEG in WebAssembly (small-jpeg.ts) instead of
 * libvips: the pixels must be libvips's (decodeRgb8 of the same file by its path, which never
 * takes that route), and anything the decoder reports must leave the file to sharp, which decides
 * as before (a truncated file is refused, a CMYK one converted).
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeRgb8 } from '../../src/model/image.js';
import { decodeSmallJpeg, isSmallJpeg, SMALL_JPEG_MAX_PIXELS } from '../../src/model/small-jpeg.js';
import { parseImageHeader } from '../../src/raster/image-header.js';
import { makePng } from '../fixtures/images.js';
import { describeShared, sharedPath } from '../fixtures/shared.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-small-jpeg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A 96 x 64 picture with detail in every channel, scaled from the repo's own PNG fixture. */
const picture = () => sharp(makePng(5, 24, 16)).resize(96, 64, { kernel: 'lanczos3' });

/** decodeRgb8 of the file by its path (sharp) and of its bytes in memory (the small-JPEG route where it applies). */
async function bothWays(name: string, bytes: Buffer): Promise<{ byPath: Uint8Array; inMemory: Uint8Array }> {
  const file = path.join(work, name);
  writeFileSync(file, bytes);
  const byPath = (await decodeRgb8(file)).rgb.data;
  const inMemory = (await decodeRgb8(file, { alreadyRead: { head: bytes.subarray(0, 64), content: bytes } })).rgb.data;
  return { byPath, inMemory };
}

describe('small JPEGs decoded in WebAssembly', () => {
  const kinds: [string, () => Promise<Buffer>][] = [
    ['4:2:0', () => picture().jpeg({ quality: 85 }).toBuffer()],
    ['4:4:4', () => picture().jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer()],
    ['progressive', () => picture().jpeg({ progressive: true }).toBuffer()],
    ['one grey band', () => picture().toColourspace('b-w').jpeg().toBuffer()],
    ['with a Display P3 profile (not applied, as sharp is told)', () => picture().jpeg().withIccProfile('p3').toBuffer()],
    ['with EXIF orientation 6 (not applied)', () => picture().jpeg().withMetadata({ orientation: 6 }).toBuffer()],
  ];
  it.each(kinds)('gives libvips\'s pixels: %s', async (name, make) => {
    const bytes = await make();
    expect(isSmallJpeg(parseImageHeader(bytes))).toBe(true);
    // it is this decoder that answers, not sharp again
    expect(await decodeSmallJpeg(bytes)).toBeDefined();
    const { byPath, inMemory } = await bothWays(`${name.split(' ')[0]}.jpg`, bytes);
    expect(Buffer.from(inMemory).equals(Buffer.from(byPath))).toBe(true);
  });

  it('leaves what it reports to sharp: a truncated file is refused as before, a CMYK one converted as before', async () => {
    const whole = await picture().jpeg().toBuffer();
    const truncated = whole.subarray(0, Math.floor(whole.length * 0.6));
    expect(isSmallJpeg(parseImageHeader(truncated))).toBe(true);
    expect(await decodeSmallJpeg(truncated)).toBeUndefined();
    const file = path.join(work, 'truncated.jpg');
    writeFileSync(file, truncated);
    await expect(decodeRgb8(file, { alreadyRead: { head: truncated.subarray(0, 64), content: truncated } })).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });

    const cmyk = await picture().toColourspace('cmyk').jpeg().toBuffer();
    expect(isSmallJpeg(parseImageHeader(cmyk))).toBe(false);
    // asked anyway, it refuses (libjpeg cannot convert CMYK to RGB) and stays usable
    expect(await decodeSmallJpeg(cmyk)).toBeUndefined();
    expect(await decodeSmallJpeg(whole)).toBeDefined();
    const { byPath, inMemory } = await bothWays('cmyk.jpg', cmyk);
    expect(Buffer.from(inMemory).equals(Buffer.from(byPath))).toBe(true);
  });

  it('takes only 8-bit grey or three-band JPEGs up to a megapixel', async () => {
    const side = Math.ceil(Math.sqrt(SMALL_JPEG_MAX_PIXELS)) + 1;
    const large = await sharp({ create: { width: side, height: side, channels: 3, background: '#406080' } }).jpeg().toBuffer();
    expect(isSmallJpeg(parseImageHeader(large))).toBe(false);
    expect(isSmallJpeg(parseImageHeader(makePng(1)))).toBe(false);
  });
});

describeShared('the RSICD test images decoded in WebAssembly', () => {
  it('gives libvips\'s pixels for every one of the 1,093', { timeout: 120_000 }, async () => {
    const dir = sharedPath('datasets/rsicd-test/images');
    const names = readdirSync(dir);
    expect(names).toHaveLength(1093);
    let differing = 0;
    for (const name of names) {
      const file = path.join(dir, name);
      const bytes = readFileSync(file);
      const byPath = (await decodeRgb8(file)).rgb.data;
      // the WebAssembly decoder answers for it, and decodeRgb8 in memory (which takes its answer) gives libvips's bytes
      const small = await decodeSmallJpeg(bytes);
      const inMemory = (await decodeRgb8(file, { alreadyRead: { head: bytes.subarray(0, 64), content: bytes } })).rgb.data;
      if (!small || !Buffer.from(inMemory).equals(Buffer.from(byPath))) differing++;
    }
    expect(differing).toBe(0);
  });
});
