/**
 * A small archive that takes every path of the indexer through a queue: whole PNGs, a copy of one
 * (reused), a file no decoder reads (an error found by the worker), an 8-bit TIFF of separate
 * tiled planes (which libvips cannot decode: read through the scene path), and a georeferenced
 * 16-bit scene whose right part is nodata (tiles, one stretch, nodata windows found by the worker,
 * the last window among them).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { makePng } from '../fixtures/images.js';

export function writeQueueArchive(dir: string, pngs = 6): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < pngs; i++) writeFileSync(path.join(dir, `p${i}.png`), makePng(100 + i, 32 + i, 40));
  copyFileSync(path.join(dir, 'p0.png'), path.join(dir, 'copy-of-p0.png'));
  writeFileSync(path.join(dir, 'bad.png'), Buffer.from('not an image at all'));
  writeGeoTiff(path.join(dir, 'planes.tif'), { width: 200, height: 150, bands: 3, dataType: 'uint8', tile: 64, planar: true, pixel: (x, y, band) => (x * 3 + y * 5 + band * 40) & 0xff });
  writeGeoTiff(path.join(dir, 'scene.tif'), {
    width: 900,
    height: 560,
    bands: 3,
    dataType: 'uint16',
    tile: 256,
    compression: 'deflate',
    nodata: '0',
    pixel: (x, y, band) => (x >= 560 ? 0 : 1000 + ((x * 13 + y * 7 + band * 101) % 3000)),
    geo: { epsg: 32633, origin: [500_000, 4_650_000], pixelSize: [10, 10] },
  });
}
