/**
 * Sparse TIFFs (blocks left out, byte count 0, as GDAL's SPARSE_OK writes empty blocks): a window
 * whose blocks are all absent is a constant fill, known from the block table without reading
 * pixels, so a mostly empty mosaic indexes in the time its data takes. The decisions are the ones
 * reading every window gives, and the index equals that of the same scene written in full.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planWindows } from '../../src/geo/index.js';
import { renderWindow } from '../../src/indexer/scene-windows.js';
import { Scene, isMostlyNodata, openRaster } from '../../src/raster/index.js';
import { openIndex } from '../../src/store/index.js';
import { writeGeoTiff, type GeoTiffFixture } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { makePng } from '../fixtures/images.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-sparse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 2048;
const BLOCK = 256;
/** The tiles that hold data (column:row), and the strips; every other block is left out. */
const STORED_TILES = new Set(['1:1', '2:1', '5:6']);
const STORED_STRIPS = new Set([1, 6]);
const stored = (strips: boolean, column: number, row: number): boolean => (strips ? STORED_STRIPS.has(row) : STORED_TILES.has(`${column}:${row}`));

function scene(layout: 'tiled' | 'planar' | 'strips', sparse: boolean): GeoTiffFixture {
  const strips = layout === 'strips';
  return {
    width: SIZE,
    height: SIZE,
    bands: 3,
    dataType: 'uint8',
    compression: 'deflate',
    ...(strips ? { rowsPerStrip: BLOCK } : { tile: BLOCK }),
    planar: layout === 'planar',
    geo: { epsg: 32633, origin: [400_000, 5_000_000], pixelSize: [1, 1] },
    // data (varied, never 0) in the stored blocks; 0 elsewhere, as an absent block reads
    pixel: (x, y, band) => (stored(strips, Math.floor(x / BLOCK), Math.floor(y / BLOCK)) ? 1 + ((x * 7 + y * 13 + band * 31) % 250) : 0),
    ...(sparse ? { absent: (_level: number, column: number, row: number) => !stored(strips, column, row) } : {}),
  };
}

describe('a sparse TIFF', () => {
  for (const layout of ['tiled', 'planar', 'strips'] as const) {
    it(`${layout}: a window of absent blocks only is skipped unread, with the decision reading it gives; a window touching a stored block is read`, async () => {
      const file = path.join(dir, `${layout}.tif`);
      writeGeoTiff(file, scene(layout, true));
      const source = await openRaster(file);
      const opened = await Scene.open(file);
      try {
        const reads: number[] = [];
        const readBands = opened.source.readBands.bind(opened.source);
        opened.source.readBands = (window, bands, options) => {
          reads.push(window.x);
          return readBands(window, bands, options);
        };
        const windows = planWindows(SIZE, SIZE, { inputSize: 224 });
        let absent = 0;
        for (const window of windows) {
          const before = reads.length;
          const rendered = await renderWindow(opened, window, undefined);
          const read = await opened.readWindow(window);
          // the same decision as reading the window
          expect(rendered === undefined).toBe(isMostlyNodata(read));
          if (await source.blocksAbsent(window)) {
            absent++;
            expect(reads.length - before).toBe(1); // only the readWindow above, not renderWindow
            expect(read.constant).toBe(true);
          } else expect(reads.length - before).toBe(2);
        }
        expect(absent).toBeGreaterThanOrEqual(windows.length / 2);
        expect(await source.blocksAbsent({ x: BLOCK, y: BLOCK, width: 10, height: 10 })).toBe(false);
        expect(await source.blocksAbsent({ x: 0, y: 7 * BLOCK, width: 224, height: 224 })).toBe(true);
        // the reduced read of the whole scene comes from the full-resolution blocks, some stored
        expect(await source.blocksAbsent({ x: 0, y: 0, width: SIZE, height: SIZE }, { outWidth: 256, outHeight: 256 })).toBe(false);
      } finally {
        await opened.close();
        await source.close();
      }
    });
  }

  it('indexes as the same scene written in full: the same items and nodata windows, in the main thread and in decode threads', async () => {
    const catalogs = [];
    for (const [sparse, decodeThreads] of [[true, 0], [true, 1], [false, 0]] as const) {
      const archive = path.join(dir, `archive-${sparse}-${decodeThreads}`);
      const index = path.join(dir, `index-${sparse}-${decodeThreads}`);
      mkdirSync(archive);
      writeGeoTiff(path.join(archive, 'mosaic.tif'), scene('tiled', sparse));
      const summary = await indexInto({ roots: [archive], index, model: new FakeEncoder(), decodeThreads });
      const store = await openIndex(index, { readonly: true });
      try {
        const items = await store.getItems(await store.listItemIds());
        catalogs.push({ nodataWindows: summary.nodataWindows, windows: items.map((item) => item.key).sort() });
      } finally {
        await store.close();
      }
    }
    expect(catalogs[0]!.nodataWindows).toBeGreaterThan(0);
    expect(catalogs[0]!.windows.length).toBeGreaterThan(0);
    expect(catalogs[1]).toEqual(catalogs[0]);
    expect(catalogs[2]).toEqual(catalogs[0]);
  });

  it('a non-TIFF source has no absent blocks', async () => {
    const file = path.join(dir, 'plain.png');
    writeFileSync(file, makePng(1, 64, 48));
    const source = await openRaster(file);
    try {
      expect(await source.blocksAbsent({ x: 0, y: 0, width: 64, height: 48 })).toBe(false);
    } finally {
      await source.close();
    }
  });
});
