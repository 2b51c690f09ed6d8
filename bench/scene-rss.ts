/**
 * Native memory while a scene is read window by window: a tiled Deflate 8-bit RGB TIFF of zeros
 * (written with the test fixtures' writer, a few MB whatever its size) is read in plan order, every
 * window rendered and checked for nodata as the indexer's decoder does, and the process's RSS is
 * sampled along the way. One libvips pipeline per window used to grow RSS with the scene's area
 * (glibc's arenas, fragmented: 68 -> 521 MB over 8,836 windows of a 16,000 px scene); chunked
 * reads keep it flat. Prints one JSON object: windows, seconds, the decoder, RSS samples (MB) and
 * growth from the first sample after warm-up to the end.
 * Usage: npx tsx bench/scene-rss.ts [--size 16000] [--passes 1] [--decoder auto|geotiff] [--dir DIR]
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { planWindows } from '../src/geo/index.js';
import { renderWindow } from '../src/indexer/scene-windows.js';
import { Scene } from '../src/raster/index.js';
import { writeGeoTiff } from '../test/fixtures/geotiff-writer.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '16000' }, passes: { type: 'string', default: '1' }, decoder: { type: 'string', default: 'auto' }, dir: { type: 'string' } } });
const size = Number(values.size);
const dir = values.dir ?? path.join(os.tmpdir(), 'rsclip-bench-scene-rss');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `zeros-${size}.tif`);
if (!existsSync(file)) {
  writeGeoTiff(file, { width: size, height: size, bands: 3, dataType: 'uint8', tile: 256, compression: 'deflate', bigTiff: size > 20_000, pixel: () => 0, blockKey: () => 'zero' });
}

const rssMb = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024);
const scene = await Scene.open(file, { blockCacheBytes: 64 * 1024 * 1024, decoder: values.decoder === 'geotiff' ? 'geotiff' : 'auto' });
const windows = planWindows(scene.width, scene.height, { inputSize: 224 });
const samples: number[] = [rssMb()];
const every = Math.max(1, Math.floor(windows.length / 10));
const started = performance.now();
let read = 0;
let warm = 0;
for (let pass = 0; pass < Number(values.passes); pass++) {
  for (const window of windows) {
    await renderWindow(scene, window, undefined);
    if (++read === Math.min(500, windows.length)) warm = rssMb();
    if (read % every === 0) samples.push(rssMb());
  }
}
const seconds = (performance.now() - started) / 1000;
const decoder = scene.source.decoder;
await scene.close();
const end = rssMb();
console.log(JSON.stringify({ size, windows: read, seconds: Math.round(seconds * 10) / 10, msPerWindow: Math.round((seconds / read) * 1e4) / 10, decoder, rssMb: samples, rssAfterWarmUpMb: warm, rssEndMb: end, growthMb: end - warm, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
