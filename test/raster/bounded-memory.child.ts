/**
 * Child process of bounded-memory.test.ts, run under a virtual-memory cap:
 *   probe FILE       report the process's memory after loading the modules and reading one window
 *   windows FILE N   open FILE as a scene and read N windows spread over it, checking each pixel
 *   whole FILE       decode the whole scene at once (must fail under the cap)
 * Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { planWindows } from '../../src/geo/index.js';
import { Scene, openRaster } from '../../src/raster/index.js';
import { bigSceneValue } from './big-scene.js';

function vm(): { vmPeakKb: number; vmSizeKb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const read = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { vmPeakKb: read('VmPeak'), vmSizeKb: read('VmSize') };
}

const [mode, file, count] = process.argv.slice(2);
if (mode === 'probe') {
  // Load the decoders as a window read does, then report.
  const source = await openRaster(file!);
  await source.readBands({ x: 0, y: 0, width: 224, height: 224 }, [1, 2, 3, 4]);
  await source.close();
  console.log(JSON.stringify({ ok: true, ...vm() }));
} else if (mode === 'whole') {
  try {
    const source = await openRaster(file!);
    await source.readBands({ x: 0, y: 0, width: source.width, height: source.height }, [1, 2, 3, 4]);
    console.log(JSON.stringify({ ok: true, ...vm() }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: String(error), ...vm() }));
  }
} else {
  const scene = await Scene.open(file!, { bands: [1, 2, 3], blockCacheBytes: 64 * 1024 * 1024 });
  const all = planWindows(scene.width, scene.height, { inputSize: 224 });
  const step = Math.max(1, Math.floor(all.length / Number(count)));
  let read = 0;
  let mismatches = 0;
  for (let i = 0; i < all.length; i += step) {
    const w = all[i]!;
    const data = await scene.source.readBands(w, [1, 2, 3, 4]);
    for (let k = 0; k < w.width * w.height; k += 97) {
      const x = w.x + (k % w.width);
      const y = w.y + Math.floor(k / w.width);
      for (let b = 0; b < 4; b++) if (data.bands[b]![k] !== bigSceneValue(x, y, b)) mismatches++;
    }
    const rgb = await scene.readWindow(w);
    if (rgb.rgb.length !== w.width * w.height * 3) mismatches++;
    read++;
  }
  await scene.close();
  console.log(JSON.stringify({ ok: true, windows: read, total: all.length, mismatches, maxRssKb: process.resourceUsage().maxRSS, ...vm() }));
}
