/**
 * CMYK TIFFs (Photometric Separated): 8-bit CMYK is read as RGB, as GDAL reads it (libtiff's
 * (255 - ink) x (255 - K) / 255), also where a file is embedded whole (never handed to libvips,
 * whose CMYK conversion goes through a profile); 16-bit CMYK and inks that are not CMYK are refused
 * with the reason, by the indexer too (it fell back to libvips, silently).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRaster } from '../../src/raster/index.js';
import { decodedAsIs } from '../../src/raster/whole-image.js';
import { openIndex } from '../../src/store/index.js';
import { describeGdal } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-cmyk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const [width, height] = [70, 50];
const ink = (x: number, y: number, b: number) => (x * (7 + b) + y * (11 - 2 * b) + ((x * y) % 37) * 5) % 256;

/** Rewrites the first directory's short `tag` (a value held in its entry) as `newTag` = `value`, in a classic little-endian TIFF. */
function patchShortTag(file: string, tag: number, newTag: number, value: number): void {
  const bytes = readFileSync(file);
  const ifd = bytes.readUInt32LE(4);
  const count = bytes.readUInt16LE(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + 12 * i;
    if (bytes.readUInt16LE(entry) !== tag) continue;
    bytes.writeUInt16LE(newTag, entry);
    bytes.writeUInt16LE(value, entry + 8);
    writeFileSync(file, bytes);
    return;
  }
  throw new Error(`no tag ${tag} in ${file}`);
}

/** A 4- or 5-band TIFF of `ink` samples, its Photometric made Separated (5); `inkSet` replaces its ExtraSamples entry (332 sorts before 338). */
function separatedTiff(name: string, bands: number, dataType: 'uint8' | 'uint16', inkSet?: number): string {
  const file = path.join(dir, name);
  writeGeoTiff(file, { width, height, bands, dataType, pixel: (x, y, b) => ink(x, y, b) * (dataType === 'uint16' ? 257 : 1), extraSamples: Array<number>(bands - 3).fill(0) });
  patchShortTag(file, 262, 262, 5);
  if (inkSet !== undefined) patchShortTag(file, 338, 332, inkSet);
  return file;
}

describe('a CMYK TIFF', () => {
  it('is read as red, green and blue from its inks, as libtiff converts them for GDAL', async () => {
    for (const bands of [4, 5]) {
      const source = await openRaster(separatedTiff(`cmyk${bands}.tif`, bands, 'uint8'), { worldFile: null });
      expect([source.bandCount, source.dataType, source.colors]).toEqual([3, 'uint8', ['red', 'green', 'blue']]);
      const { bands: rgb } = await source.readBands({ x: 3, y: 5, width: 60, height: 40 }, [1, 2, 3]);
      for (const [x, y] of [[3, 5], [40, 20], [62, 44]] as const) {
        const i = (y - 5) * 60 + (x - 3);
        const expected = [0, 1, 2].map((b) => Math.floor(((255 - ink(x, y, b)) * (255 - ink(x, y, 3))) / 255));
        expect(rgb.map((band) => band[i]), `${bands} bands, pixel ${x},${y}`).toEqual(expected);
      }
      await source.close();
    }
  });

  it('is refused with the reason where its inks are not 8-bit CMYK', async () => {
    await expect(openRaster(separatedTiff('inks.tif', 4, 'uint8', 2), { worldFile: null })).rejects.toThrow(/cannot render as RGB: its 4 inks are not CMYK \(InkSet 2\)/);
    await expect(openRaster(separatedTiff('cmyk16.tif', 4, 'uint16'), { worldFile: null })).rejects.toThrow(/cannot render as RGB: it is CMYK with uint16 samples/);
  });

  it('embedded whole, is rendered by the scene reader, not by the model\'s decoder', async () => {
    const source = await openRaster(separatedTiff('whole.tif', 4, 'uint8'), { worldFile: null });
    expect(decodedAsIs(source)).toBe(false);
    await source.close();
  });

  it('of 16-bit samples fails its file in the indexer with the reason', async () => {
    const archive = path.join(dir, 'archive');
    mkdirSync(archive);
    renameSync(separatedTiff('cmyk16-archive.tif', 4, 'uint16'), path.join(archive, 'cmyk16.tif'));
    const index = path.join(dir, 'index');
    expect(await indexInto({ roots: [archive], index, model: new FakeEncoder() })).toMatchObject({ added: 0, errors: 1 });
    const store = await openIndex(index, { readonly: true });
    try {
      expect(await store.listFiles('error')).toEqual([expect.objectContaining({ path: 'cmyk16.tif', error: expect.stringMatching(/cannot render as RGB: it is CMYK with uint16 samples/) })]);
    } finally {
      await store.close();
    }
  });

  describeGdal('against GDAL', () => {
    it('gives gdal_translate\'s RGB, pixel-interleaved, band-separate, tiled and JPEG-compressed', async () => {
      const rgb = path.join(dir, 'source.tif');
      writeGeoTiff(rgb, { width: 300, height: 200, bands: 4, dataType: 'uint8', pixel: ink, extraSamples: [0] });
      for (const options of [[], ['-co', 'INTERLEAVE=BAND'], ['-co', 'TILED=YES', '-co', 'BLOCKXSIZE=128', '-co', 'BLOCKYSIZE=128'], ['-co', 'COMPRESS=JPEG']]) {
        const file = path.join(dir, `gdal${options.join('')}.tif`);
        execFileSync('gdal_translate', ['-q', '-co', 'PHOTOMETRIC=CMYK', ...options, rgb, file], { stdio: 'ignore' });
        const out = `${file}.raw`;
        execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', '-b', '1', '-b', '2', '-b', '3', file, out], { stdio: 'ignore' });
        const gdal = readFileSync(out);
        const source = await openRaster(file, { worldFile: null });
        const ours = Buffer.concat((await source.readBands({ x: 0, y: 0, width: 300, height: 200 }, [1, 2, 3])).bands.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
        await source.close();
        let [max, sum] = [0, 0];
        for (let i = 0; i < ours.length; i++) {
          const d = Math.abs(ours[i]! - gdal[i]!);
          max = Math.max(max, d);
          sum += d;
        }
        const label = options.join(' ') || 'plain';
        if (!options.includes('COMPRESS=JPEG')) expect({ max, sum }, label).toEqual({ max: 0, sum: 0 });
        else {
          // geotiff.js's JPEG decoder, not libjpeg: a level or two apart here and there
          expect(max, label).toBeLessThanOrEqual(4);
          expect(sum / ours.length, label).toBeLessThan(0.5);
        }
      }
    });
  });
});
