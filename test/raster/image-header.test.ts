/**
 * The PNG and JPEG header parser against its oracle, sharp's metadata() with the options the
 * raster folder opens files with: wherever the parser answers, its answer equals sharp's; it
 * answers for the common images (8-bit grey and RGB PNG and JPEG); a header cut short, garbage,
 * or a header it cannot vouch for gives undefined (libvips is asked instead).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { HEAD_BYTES as HEAD, hashFile } from '../../src/indexer/content-hash.js';
import { parseImageHeader, type ImageHeader } from '../../src/raster/image-header.js';
import { openWithLibvips } from '../../src/raster/libvips.js';
import { openRaster } from '../../src/raster/index.js';
import { PNG_SIGNATURE, pngChunk } from '../fixtures/images.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-image-header-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PNG of any colour type and bit depth sharp cannot write (low-depth grey, tRNS on grey and RGB): a gradient, stored unfiltered. */
function handMadePng(width: number, height: number, bitDepth: number, colourType: number, chunks: Buffer[] = [], interlace = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colourType, 0, 0, interlace], 8);
  const samples = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colourType]!;
  const rowBytes = Math.ceil((width * samples * bitDepth) / 8);
  const raw = Buffer.alloc((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) for (let i = 1; i <= rowBytes; i++) raw[y * (rowBytes + 1) + i] = colourType === 3 ? 0 : (y * 31 + i * 7) & 0xff;
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), ...chunks, pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Segments spliced in after SOI (APPn or COM), as a large EXIF, ICC or comment block would sit. */
function withSegments(jpeg: Buffer, marker: number, count: number, size = 65533): Buffer {
  const segments = Array.from({ length: count }, (_, i) => {
    const s = Buffer.alloc(size + 2, 0x20 + i);
    s[0] = 0xff;
    s[1] = marker;
    s.writeUInt16BE(size, 2);
    return s;
  });
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** A gradient: 3 bands (or 4 with a varying alpha), no alpha unless asked. */
function gradient(width: number, height: number, channels: 3 | 4) {
  const raw = Buffer.alloc(width * height * channels);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + Math.floor(i / (width * channels)) * 11) & 0xff;
  return sharp(raw, { raw: { width, height, channels } });
}
const rgb = (width = 37, height = 23) => gradient(width, height, 3);
const rgba = (width = 37, height = 23) => gradient(width, height, 4);
const colourPalette = pngChunk('PLTE', Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255]));
const greyPalette = pngChunk('PLTE', Buffer.from([0, 0, 0, 128, 128, 128, 255, 255, 255]));

/** name -> file bytes; `common` ones must be answered by the parser. */
async function variants(): Promise<{ name: string; bytes: Buffer; common?: true }[]> {
  const jpeg = await rgb().jpeg().toBuffer();
  return [
    { name: 'png rgb 8', bytes: await rgb().png().toBuffer(), common: true },
    { name: 'png grey 8', bytes: await rgb().toColourspace('b-w').png().toBuffer(), common: true },
    { name: 'png grey+alpha 8', bytes: await rgba().toColourspace('b-w').png().toBuffer() },
    { name: 'png rgba 8', bytes: await rgba().png().toBuffer() },
    { name: 'png rgb 16', bytes: await rgb().toColourspace('rgb16').png().toBuffer() },
    { name: 'png grey 16', bytes: await rgb().toColourspace('grey16').png().toBuffer() },
    { name: 'png rgba 16', bytes: await rgba().toColourspace('rgb16').png().toBuffer() },
    { name: 'png rgb 8 stored, its image data past 64 KiB', bytes: await rgb(400, 300).png({ compressionLevel: 0 }).toBuffer(), common: true },
    { name: 'png interlaced', bytes: await rgb().png({ progressive: true }).toBuffer(), common: true },
    { name: 'png palette', bytes: await rgb().png({ palette: true }).toBuffer() },
    { name: 'png palette 1-bit', bytes: await rgb().png({ palette: true, colours: 2 }).toBuffer() },
    { name: 'png palette with transparency', bytes: await rgba().png({ palette: true }).toBuffer() },
    { name: 'png large text chunk', bytes: await rgb().png().withMetadata({ exif: { IFD0: { ImageDescription: 'x'.repeat(20_000) } } }).toBuffer() },
    ...[1, 2, 4, 8, 16].map((d) => ({ name: `png grey ${d}-bit (hand-made)`, bytes: handMadePng(13, 7, d, 0) })),
    ...[1, 2, 4, 8].flatMap((d) => [
      { name: `png palette ${d}-bit (hand-made)`, bytes: handMadePng(13, 7, d, 3, [colourPalette]) },
      { name: `png grey palette ${d}-bit (hand-made)`, bytes: handMadePng(13, 7, d, 3, [greyPalette]) },
      { name: `png palette ${d}-bit + tRNS (hand-made)`, bytes: handMadePng(13, 7, d, 3, [colourPalette, pngChunk('tRNS', Buffer.from([0, 128]))]) },
    ]),
    { name: 'png grey 8 + tRNS (hand-made)', bytes: handMadePng(13, 7, 8, 0, [pngChunk('tRNS', Buffer.from([0, 9]))]) },
    { name: 'png grey 16 + tRNS (hand-made)', bytes: handMadePng(13, 7, 16, 0, [pngChunk('tRNS', Buffer.from([1, 9]))]) },
    { name: 'png rgb 8 + tRNS (hand-made)', bytes: handMadePng(13, 7, 8, 2, [pngChunk('tRNS', Buffer.from([0, 9, 0, 9, 0, 9]))]) },
    { name: 'png rgb 8 + suggested palette (hand-made)', bytes: handMadePng(13, 7, 8, 2, [colourPalette]) },
    { name: 'png grey+alpha 16 (hand-made)', bytes: handMadePng(13, 7, 16, 4) },
    { name: 'png grey 4-bit interlaced (hand-made)', bytes: handMadePng(13, 7, 4, 0, [], 1) },
    { name: 'png palette without PLTE (hand-made)', bytes: handMadePng(13, 7, 8, 3) },
    { name: 'png palette with tRNS longer than PLTE (hand-made)', bytes: handMadePng(13, 7, 8, 3, [colourPalette, pngChunk('tRNS', Buffer.alloc(5))]) },
    { name: 'png grey with a palette (hand-made)', bytes: handMadePng(13, 7, 8, 0, [greyPalette]) },
    { name: 'jpeg baseline 4:2:0', bytes: jpeg, common: true },
    { name: 'jpeg baseline 4:4:4', bytes: await rgb().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(), common: true },
    { name: 'jpeg progressive', bytes: await rgb().jpeg({ progressive: true }).toBuffer(), common: true },
    { name: 'jpeg grey', bytes: await rgb().toColourspace('b-w').jpeg().toBuffer(), common: true },
    { name: 'jpeg cmyk', bytes: await rgb().toColourspace('cmyk').jpeg().toBuffer() },
    { name: 'jpeg mozjpeg', bytes: await rgb().jpeg({ mozjpeg: true }).toBuffer() },
    { name: 'jpeg with restart intervals and optimised tables', bytes: await rgb(300, 200).jpeg({ optimiseCoding: true, quality: 95 }).toBuffer() },
    { name: 'jpeg large exif', bytes: await rgb().jpeg().withMetadata({ exif: { IFD0: { ImageDescription: 'y'.repeat(40_000) } } }).toBuffer(), common: true },
    { name: 'jpeg rotated by its exif orientation (stored size)', bytes: await rgb().jpeg().withMetadata({ orientation: 6 }).toBuffer(), common: true },
    { name: 'jpeg icc profile', bytes: await rgb().jpeg().withIccProfile('p3').toBuffer() },
    { name: 'jpeg sof beyond 64 KiB', bytes: withSegments(jpeg, 0xe2, 2) },
    { name: 'jpeg comment segments', bytes: withSegments(jpeg, 0xfe, 3, 100) },
  ];
}

async function sharpMetadata(name: string, bytes: Buffer): Promise<ImageHeader | Error> {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.img`);
  writeFileSync(file, bytes);
  try {
    const { format, width, height, channels, depth } = await openWithLibvips(file).metadata();
    return { format, width, height, channels, depth } as ImageHeader;
  } catch (error) {
    return error as Error;
  }
}

describe('parseImageHeader', () => {
  it('gives what sharp metadata() gives wherever it answers, and answers for the common images', async () => {
    const answered: string[] = [];
    for (const { name, bytes, common } of await variants()) {
      const header = parseImageHeader(bytes.subarray(0, HEAD));
      if (common) expect(header, name).toBeDefined();
      if (!header) continue;
      answered.push(name);
      expect({ name, ...header }).toEqual({ name, ...(await sharpMetadata(name, bytes)) });
    }
    // palettes (3 bands, 4 with tRNS, grey palettes too), low-depth grey, 16-bit and tRNS-alpha are answered, not only the common ones
    expect(answered).toEqual(expect.arrayContaining(['png palette with transparency', 'png grey palette 2-bit (hand-made)', 'png grey 1-bit (hand-made)', 'png rgb 16', 'png grey 16 + tRNS (hand-made)', 'png rgb 8 + tRNS (hand-made)', 'jpeg cmyk']));
  });

  it('leaves to libvips what libpng warns about or rejects, and a JPEG header past the bytes given', async () => {
    const all = await variants();
    const named = (name: string) => all.find((v) => v.name === name)!.bytes;
    for (const name of ['png palette without PLTE (hand-made)', 'png palette with tRNS longer than PLTE (hand-made)', 'png grey with a palette (hand-made)']) {
      expect(parseImageHeader(named(name)), name).toBeUndefined();
    }
    const farSof = named('jpeg sof beyond 64 KiB');
    expect(parseImageHeader(farSof.subarray(0, HEAD))).toBeUndefined();
    expect(parseImageHeader(farSof)).toEqual(await sharpMetadata('far sof', farSof));
  });

  it('gives undefined for every header cut short, and the full answer once the header is whole', async () => {
    for (const { name, bytes } of await variants()) {
      const full = parseImageHeader(bytes.subarray(0, HEAD));
      if (!full) continue;
      let first = -1;
      // every cut in the first 4 KiB, then one in 997 bytes (a PNG text chunk or JPEG APP segment of tens of KiB)
      const cuts = [...Array.from({ length: 4097 }, (_, n) => n), ...Array.from({ length: 64 }, (_, i) => 4097 + i * 997), bytes.length].filter((n) => n <= Math.min(bytes.length, HEAD));
      for (const n of cuts) {
        const header = parseImageHeader(bytes.subarray(0, n));
        if (first < 0 && header) first = n;
        if (first < 0) expect(header).toBeUndefined();
        else expect(header, `${name} cut at ${n}`).toEqual(full);
      }
      expect(first, name).toBeGreaterThan(20);
    }
  });

  it('gives undefined for garbage, other formats and corrupt headers', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const garbage = Array.from({ length: 200 }, (_, i) => Buffer.from(Array.from({ length: 1 + i * 13 }, () => Math.floor(random() * 256))));
    for (const bytes of garbage) expect(parseImageHeader(bytes)).toBeUndefined();
    for (const format of ['webp', 'tiff', 'gif'] as const) expect(parseImageHeader(await rgb().toFormat(format).toBuffer()), format).toBeUndefined();
    const png = await rgb().png().toBuffer();
    const badCrc = Buffer.from(png);
    badCrc[29] = badCrc[29]! ^ 1; // IHDR's CRC
    expect(parseImageHeader(badCrc)).toBeUndefined();
    const jpeg = await rgb().jpeg().toBuffer();
    // after SOI, a PNG's bytes where the first segment's marker should be; then a 12-bit frame, then an arithmetic-coded one
    expect(parseImageHeader(Buffer.concat([jpeg.subarray(0, 2), png]))).toBeUndefined();
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    const twelveBit = Buffer.from(jpeg);
    twelveBit[sof + 4] = 12;
    expect(parseImageHeader(twelveBit)).toBeUndefined();
    const arithmetic = Buffer.from(jpeg);
    arithmetic[sof + 1] = 0xc9;
    expect(parseImageHeader(arithmetic)).toBeUndefined();
  });

  it('agrees with sharp on headers with a byte changed, or stays silent', async () => {
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const bases = [await rgb().png().toBuffer(), await rgb().png({ palette: true }).toBuffer(), await rgb().jpeg().toBuffer(), await rgb().jpeg({ progressive: true }).toBuffer()];
    let answered = 0;
    for (let trial = 0; trial < 1000; trial++) {
      const bytes = Buffer.from(bases[trial % bases.length]!);
      const at = Math.floor(random() * Math.min(bytes.length, 700));
      bytes[at] = Math.floor(random() * 256);
      const header = parseImageHeader(bytes);
      if (!header) continue;
      answered++;
      expect({ trial, at, ...header }).toEqual({ trial, at, ...(await sharpMetadata(`mutant-${trial}`, bytes)) });
    }
    expect(answered).toBeGreaterThan(200);
  });
});

describe('openRaster with the bytes already read', () => {
  it('takes the header from them, the same as libvips gives', async () => {
    for (const [name, bytes] of [['a.png', await rgb(41, 17).png().toBuffer()], ['b.jpg', await rgb(41, 17).toColourspace('b-w').jpeg().toBuffer()], ['c.png', await rgba(9, 5).toColourspace('rgb16').png().toBuffer()]] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, bytes);
      const { head } = await hashFile(file, { keepHead: true });
      expect(head).toEqual(bytes.subarray(0, HEAD));
      const described = async (options: { head?: Uint8Array }) => {
        const s = await openRaster(file, options);
        return { format: s.format, width: s.width, height: s.height, bandCount: s.bandCount, dataType: s.dataType, colors: s.colors, georeference: s.georeference };
      };
      expect(await described({ head })).toEqual(await described({}));
    }
  });

  it('uses the parsed header instead of opening the file with libvips', async () => {
    const file = path.join(dir, 'header-of-another.png');
    writeFileSync(file, await rgb(41, 17).png().toBuffer());
    // the bytes of another image stand for this file's: the source takes their header
    const source = await openRaster(file, { head: await rgb(8, 6).toColourspace('b-w').png().toBuffer() });
    expect([source.width, source.height, source.bandCount]).toEqual([8, 6, 1]);
  });

  it('falls back to libvips, with its message, for bytes it cannot parse', async () => {
    const file = path.join(dir, 'cut.jpg');
    const jpeg = await rgb().jpeg().toBuffer();
    writeFileSync(file, jpeg.subarray(0, 40));
    const error = await openRaster(file, { head: jpeg.subarray(0, 40) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RsclipError);
    expect(error).toEqual(await openRaster(file).catch((e: unknown) => e));
    expect((error as RsclipError).message).toMatch(/^cannot read image .*cut\.jpg: /);
  });
});
