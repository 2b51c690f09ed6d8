/**
 * Child process of scene-processes.test.ts, run under a virtual-memory cap:
 *   probe DIR          index a small scene into DIR/probe-index (loads every module a scene needs), report memory
 *   index FILE INDEX   index the scene FILE (tiles of 4x the model input) into INDEX with a model-free encoder
 *   whole FILE         decode the whole scene at once (must fail under the cap)
 * Prints one JSON line.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openRaster } from '../../src/raster/index.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from './fake-encoder.js';

function vm(): { vmPeakKb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  return { vmPeakKb: Number(/VmPeak:\s+(\d+)/.exec(status)?.[1] ?? NaN) };
}

const [mode, a, b] = process.argv.slice(2);
try {
  if (mode === 'probe') {
    const archive = path.join(a!, 'probe-archive');
    mkdirSync(archive, { recursive: true });
    writeGeoTiff(path.join(archive, 'small.tif'), { width: 1000, height: 1000, bands: 4, dataType: 'uint16', tile: 512, compression: 'deflate', extraSamples: [0], pixel: (x, y, band) => (x * 7 + y * 3 + band) % 60000 });
    await indexInto({ roots: [archive], index: path.join(a!, 'probe-index'), model: new FakeEncoder(), scales: [4] });
    console.log(JSON.stringify({ ok: true, ...vm() }));
  } else if (mode === 'whole') {
    const source = await openRaster(a!);
    await source.readBands({ x: 0, y: 0, width: source.width, height: source.height }, [1, 2, 3, 4]);
    console.log(JSON.stringify({ ok: true, ...vm() }));
  } else {
    const archive = path.dirname(a!);
    const summary = await indexInto({ roots: [archive], include: [path.basename(a!)], index: b!, model: new FakeEncoder(), scales: [4], bands: [1, 2, 3] });
    console.log(JSON.stringify({ ok: true, summary, maxRssKb: process.resourceUsage().maxRSS, ...vm() }));
  }
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error), ...vm() }));
}
