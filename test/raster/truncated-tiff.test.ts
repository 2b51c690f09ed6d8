/**
 * A TIFF cut short (a copy or download that stopped) whose directory survives, as an
 * uncompressed file's or a COG's does: its missing blocks would read as zeros (geotiff.js) or
 * black (libvips), and the scene be indexed as partly empty with no error. It is refused, by the
 * reader and so by the indexer, for scenes and small images alike, and by the image decoder (query
 * uploads).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeRgb8 } from '../../src/model/image.js';
import { openRaster } from '../../src/raster/index.js';
import { TiffTruncatedError } from '../../src/raster/tiff-complete.js';
import { openIndex } from '../../src/store/index.js';
import { writeGeoTiff, type GeoTiffFixture } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-truncated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scene(size: number, layout: { tile: number } | { rowsPerStrip: number }): GeoTiffFixture {
  return {
    width: size,
    height: size,
    bands: 3,
    dataType: 'uint8',
    compression: 'none',
    ...layout,
    geo: { epsg: 32633, origin: [400_000, 5_000_000], pixelSize: [1, 1] },
    pixel: (x, y, band) => 1 + ((x * 7 + y * 13 + band * 31) % 250),
  };
}

/** The fixture written whole and cut to `share` of its bytes (the writer puts the directory after the blocks: it is written again at the start of the cut). */
function cutShort(name: string, spec: GeoTiffFixture, share: number): { whole: string; cut: string } {
  const whole = path.join(dir, `${name}-whole.tif`);
  writeGeoTiff(whole, spec);
  const bytes = readFileSync(whole);
  // the first IFD's offset is at byte 4 (classic TIFF): keep the directory, drop the tail of the blocks before it
  const ifd = bytes.readUInt32LE(4);
  const keepBlocks = Math.floor(ifd * share);
  const cut = Buffer.concat([bytes.subarray(0, keepBlocks), bytes.subarray(ifd)]);
  // the directory now starts earlier: its offset, and the offsets inside it that point into it, move with it
  cut.writeUInt32LE(keepBlocks, 4);
  const moved = ifd - keepBlocks;
  const entries = cut.readUInt16LE(keepBlocks);
  for (let e = 0; e < entries; e++) {
    const at = keepBlocks + 2 + e * 12;
    const type = cut.readUInt16LE(at + 2);
    const count = cut.readUInt32LE(at + 4);
    const size = ({ 1: 1, 2: 1, 3: 2, 4: 4, 12: 8 } as Record<number, number>)[type] ?? 4;
    // values of more than 4 bytes lie after the directory: their offsets follow it
    if (size * count > 4) cut.writeUInt32LE(cut.readUInt32LE(at + 8) - moved, at + 8);
  }
  const file = path.join(dir, `${name}-cut.tif`);
  writeFileSync(file, cut);
  return { whole, cut: file };
}

describe('a TIFF cut short', () => {
  for (const [name, size, layout] of [
    ['tiled scene', 1024, { tile: 256 }],
    ['striped scene', 1024, { rowsPerStrip: 64 }],
    ['small striped image', 200, { rowsPerStrip: 16 }],
  ] as const) {
    it(`${name}: is refused by the reader and fails its file in the index, naming the truncation`, async () => {
      const { whole, cut } = cutShort(name.replaceAll(' ', '-'), scene(size, layout), 0.6);
      await (await openRaster(whole)).close();
      await expect(openRaster(cut)).rejects.toBeInstanceOf(TiffTruncatedError);
      await expect(openRaster(cut)).rejects.toThrow(/: the TIFF is truncated \(its blocks run to byte \d+, the file ends at \d+\)$/);

      const archive = path.join(dir, `archive-${name.replaceAll(' ', '-')}`);
      mkdirSync(archive);
      writeFileSync(path.join(archive, 'cut.tif'), readFileSync(cut));
      const index = path.join(dir, `index-${name.replaceAll(' ', '-')}`);
      const summary = await indexInto({ roots: [archive], index, model: new FakeEncoder() });
      expect(summary).toMatchObject({ errors: 1, added: 0, embedded: 0 });
      const store = await openIndex(index, { readonly: true });
      try {
        const [failed] = await store.listFiles('error');
        expect(failed!.error).toMatch(/the TIFF is truncated/);
      } finally {
        await store.close();
      }
    });
  }

  it('is refused by the image decoder as a query upload or a file, where libvips would read its missing blocks as black', async () => {
    const { whole, cut } = cutShort('query', scene(300, { rowsPerStrip: 8 }), 0.6);
    expect((await decodeRgb8(readFileSync(whole))).rgb.width).toBe(300);
    await expect(decodeRgb8(readFileSync(cut))).rejects.toThrow(/^cannot read the uploaded image: the TIFF is truncated \(its blocks run to byte \d+, the file ends at \d+\)$/);
    await expect(decodeRgb8(cut)).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE', message: expect.stringContaining(`cannot read image ${cut}: the TIFF is truncated`) });
  });
});
