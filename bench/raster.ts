/**
 * Windowed reading of a 20,000 x 20,000 px tiled scene (Deflate, 512 px tiles): windows per second
 * and peak RSS of Scene.readWindow (8-bit RGB out, nodata counted) with rsclip's decoder choice
 * (libvips for these files) and with geotiff.js forced (with and without the block cache), for a
 * 16-bit 4-band scene with the stretch and an 8-bit RGB scene, and bare sharp `extract` for scale.
 * Windows are the tiling plan's (224 px, overlap 0.25) in plan order, the first --windows of them.
 * Usage: npx tsx bench/raster.ts [--size 20000] [--windows 600] [--dir DIR]
 * Each case runs in its own process (so its peak RSS is its own). Prints JSON.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { planWindows } from '../src/geo/index.js';
import { Scene } from '../src/raster/index.js';
import { writeGeoTiff } from '../test/fixtures/geotiff-writer.js';
import { writeBigScene } from '../test/raster/big-scene.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '20000' },
    windows: { type: 'string', default: '600' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'rsclip-bench-raster') },
    case: { type: 'string' },
  },
});
const size = Number(values.size);
const count = Number(values.windows);
const scene16 = path.join(values.dir, `scene16-${size}.tif`);
const scene8 = path.join(values.dir, `scene8-${size}.tif`);

/** `auto` is rsclip's choice (libvips for these files); `geotiff` forces geotiff.js; `sharp-raw` is bare sharp extract, no RGB/nodata work. */
type Case = '16bit-stretch-auto' | '16bit-stretch-geotiff' | '16bit-stretch-geotiff-nocache' | '8bit-auto' | '8bit-geotiff' | '8bit-sharp-raw';
const CASES: Case[] = ['16bit-stretch-auto', '16bit-stretch-geotiff', '16bit-stretch-geotiff-nocache', '8bit-auto', '8bit-geotiff', '8bit-sharp-raw'];

async function runCase(name: Case): Promise<Record<string, number | string>> {
  const windows = planWindows(size, size, { inputSize: 224 }).slice(0, count);
  const file = name.startsWith('16bit') ? scene16 : scene8;
  const start = performance.now();
  let pixels = 0;
  if (name === '8bit-sharp-raw') {
    sharp.cache(false);
    for (const w of windows) {
      const rgb = await sharp(file, { limitInputPixels: false }).extract({ left: w.x, top: w.y, width: w.width, height: w.height }).raw().toBuffer();
      pixels += rgb.length / 3;
    }
  } else {
    const scene = await Scene.open(file, { decoder: name.includes('geotiff') ? 'geotiff' : 'auto', ...(name.endsWith('nocache') ? { blockCacheBytes: 0 } : {}) });
    const opened = performance.now();
    for (const w of windows) pixels += (await scene.readWindow(w)).rgb.length / 3;
    await scene.close();
    const seconds = (performance.now() - opened) / 1000;
    return { case: name, decoder: scene.source.decoder, windows: windows.length, openAndStretchSeconds: +((opened - start) / 1000).toFixed(2), windowsPerSecond: +(windows.length / seconds).toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
  }
  const seconds = (performance.now() - start) / 1000;
  return { case: name, windows: windows.length, windowsPerSecond: +(windows.length / seconds).toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), pixels };
}

if (values.case) {
  console.log(JSON.stringify(await runCase(values.case as Case)));
} else {
  mkdirSync(values.dir, { recursive: true });
  const t0 = performance.now();
  if (!existsSync(scene16)) writeBigScene(scene16, size);
  if (!existsSync(scene8)) {
    writeGeoTiff(scene8, {
      width: size, height: size, bands: 3, dataType: 'uint8', tile: 512, compression: 'deflate',
      geo: { epsg: 32633, origin: [300_000, 5_500_000], pixelSize: [10, 10] },
      pixel: (x, y, b) => (((x % 512) >> 3) * (b + 1) + ((y % 512) >> 3) * 3 + (Math.floor(x / 512) + 3 * Math.floor(y / 512)) % 8 * 29) % 256,
      blockKey: (level, column, row) => ((column + 1) * 512 <= size && (row + 1) * 512 <= size ? `${level}:${(column + 3 * row) % 8}` : `${level}:edge:${column}:${row}`),
    });
  }
  const writeSeconds = (performance.now() - t0) / 1000;
  const results = CASES.map((name) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--case', name, '--size', String(size), '--windows', String(count), '--dir', values.dir], { encoding: 'utf8' });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    return line.startsWith('{') ? JSON.parse(line) : { case: name, error: run.stderr.slice(-500) };
  });
  console.log(JSON.stringify({
    cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), scene: { width: size, height: size, tile: 512, fullDecodeMiB16bit4band: Math.round((size * size * 8) / 2 ** 20) },
    fixtureWriteSeconds: +writeSeconds.toFixed(1), results,
  }, null, 2));
}
