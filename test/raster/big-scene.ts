/**
 * A large tiled 16-bit 4-band scene for memory tests and the raster bench: tiles of 512 px whose
 * content is one of 8 patterns (so the writer compresses each pattern once), every pixel's value
 * a known function of its position.
 */
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';

const TILE = 512;

function tileClass(x: number, y: number): number {
  return (Math.floor(x / TILE) + 3 * Math.floor(y / TILE)) % 8;
}

/** Steps of 8 px, so that Deflate packs a tile into a few kilobytes. */
export function bigSceneValue(x: number, y: number, band: number): number {
  const lx = (x % TILE) >> 3;
  const ly = (y % TILE) >> 3;
  return ((tileClass(x, y) * 4099 + lx * (band + 1) * 37 + ly * 53 + band * 977) % 60000) + 1;
}

/** Writes a `size` x `size` BigTIFF (Deflate, 512 px tiles, bands R, G, B, NIR), UTM 33N with 10 m pixels. */
export function writeBigScene(file: string, size: number): void {
  writeGeoTiff(file, {
    width: size,
    height: size,
    bands: 4,
    dataType: 'uint16',
    tile: TILE,
    compression: 'deflate',
    bigTiff: true,
    extraSamples: [0],
    geo: { epsg: 32633, origin: [300_000, 5_500_000], pixelSize: [10, 10] },
    pixel: (x, y, b) => bigSceneValue(x, y, b),
    // Full tiles have one of 8 contents; edge tiles (partly outside the image) are written as they are.
    blockKey: (level, column, row, band) => ((column + 1) * TILE <= size && (row + 1) * TILE <= size ? `${level}:${band}:${(column + 3 * row) % 8}` : `${level}:${band}:edge:${column}:${row}`),
  });
}
