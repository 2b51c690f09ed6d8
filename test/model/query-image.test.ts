/**
 * Query images (preprocessQueryImage, and embedImages, which uses it): 8-bit images keep the model's
 * own decoding bit for bit; vector formats and paths that are not regular files are refused on
 * every query path, at once; an image past the pixel limit is told to be smaller, naming no option
 * `search` lacks.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { preprocessImage, preprocessQueryImage } from '../../src/model/image.js';
import { parsePreprocessConfig } from '../../src/model/model-dir.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { hasGdal } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { makePng, makePngBomb } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

const cfg = parsePreprocessConfig({});
let tmp: string;
let encoder: ClipEncoder;
let socket: Server;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'rsclip-query-image-'));
  encoder = await openClip(await tinyModelDir(), { threads: 1 });
});
afterAll(async () => {
  await encoder?.close();
  socket?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('preprocessQueryImage', () => {
  it('gives 8-bit JPEG, PNG (RGB, grey, RGBA) and RGB TIFF images the pixels of the model decoder, from a path and from bytes', async () => {
    const png = makePng(3, 300, 200);
    const files: Record<string, Buffer> = {
      'rgb.png': png,
      'photo.jpg': await sharp(png).jpeg({ quality: 90 }).toBuffer(),
      'grey.png': await sharp(png).greyscale().png().toBuffer(),
      'alpha.png': await sharp(png).ensureAlpha(0.5).png().toBuffer(),
      'photo.webp': await sharp(png).webp().toBuffer(),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(tmp, name), bytes);
    writeGeoTiff(path.join(tmp, 'rgb.tif'), { width: 250, height: 230, bands: 3, dataType: 'uint8', pixel: (x, y, b) => (x * (b + 1) + y * 3) % 256 });
    for (const name of [...Object.keys(files), 'rgb.tif']) {
      const file = path.join(tmp, name);
      const decoded = await preprocessImage(file, cfg);
      for (const source of [file, readFileSync(file)]) {
        const query = await preprocessQueryImage(source, cfg);
        expect([name, query.width, query.height, query.format]).toEqual([name, decoded.width, decoded.height, decoded.format]);
        expect(Buffer.from(query.pixels.buffer).equals(Buffer.from(decoded.pixels.buffer)), name).toBe(true);
      }
    }
  });

  it.skipIf(!hasGdal)('reads a Float64 TIFF, whose header libvips refuses, from a path and from bytes', async () => {
    const source = path.join(tmp, 'source.tif');
    writeGeoTiff(source, { width: 64, height: 48, bands: 3, dataType: 'uint16', pixel: (x, y, b) => x * 40 + y * 7 + b * 300 });
    const file = path.join(tmp, 'double.tif');
    // the fixture writer has no 64-bit samples
    execFileSync('gdal_translate', ['-q', '-ot', 'Float64', '-scale', '0', '4000', '0', '1', source, file]);
    for (const image of [file, readFileSync(file)]) {
      const query = await preprocessQueryImage(image, cfg);
      expect([query.width, query.height, query.format]).toEqual([64, 48, 'tiff']);
    }
  });
});

describe('query images on every path', () => {
  it('refuses an SVG given as a path as the upload is refused, without rendering it', async () => {
    const svg = path.join(tmp, 'image.svg');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="2000"><rect width="10" height="10"/></svg>');
    await expectRsclipError(encoder.embedImages([svg]), 'IMAGE_UNREADABLE', /SVG, a vector format, which is not accepted as a query image/);
    await expectRsclipError(encoder.embedImages([readFileSync(svg)]), 'IMAGE_UNREADABLE', /SVG, a vector format/);
    // named otherwise, it is found by its content
    const disguised = path.join(tmp, 'image.png');
    writeFileSync(disguised, readFileSync(svg));
    await expectRsclipError(encoder.embedImages([disguised]), 'IMAGE_UNREADABLE', /vector format/);
  });

  it('refuses a named pipe, a socket and a directory at once: not a regular file', async () => {
    const fifo = path.join(tmp, 'fifo.jpg');
    execFileSync('mkfifo', [fifo]);
    const sock = path.join(tmp, 'sock.jpg');
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(sock, resolve));
    const dir = path.join(tmp, 'folder.jpg');
    mkdirSync(dir);
    for (const [file, kind] of [[fifo, 'a named pipe'], [sock, 'a socket'], [dir, 'a directory']] as const) {
      await expectRsclipError(encoder.embedImages([file]), 'IMAGE_UNREADABLE', new RegExp(`cannot read image .*: not a regular file \\(${kind}\\)`));
    }
  }, 10_000);

  it('tells a query image past the pixel limit to be smaller, naming no option the query lacks', async () => {
    const bomb = path.join(tmp, 'bomb.png');
    writeFileSync(bomb, makePngBomb());
    for (const image of [bomb, readFileSync(bomb)]) {
      const error = await encoder.embedImages([image]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringContaining('30000x30000 = 900000000 pixels, more than the limit of 178956970') });
      expect((error as { hint: string }).hint).toMatch(/smaller query image/);
      expect((error as { hint: string }).hint).not.toMatch(/--max-input-pixels/);
    }
  });
});
