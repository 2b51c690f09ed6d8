/**
 * Image preprocessing cost per image, split into decoding (-> 8-bit RGB) and the rest
 * (the torchvision/Pillow-exact resize, in WebAssembly SIMD where the engine has it, then centre crop and normalise), one image at a time.
 * For JPEGs the decode is also timed by each decoder: libvips (sharp, as image.ts opens it) and
 * MozJPEG in WebAssembly (small-jpeg.ts, which decodeRgb8 uses up to SMALL_JPEG_MAX_PIXELS).
 * Usage: npx tsx bench/preprocess.ts [--runs 20]
 * Uses ../shared (golden/images/stadium_1.jpg, an RSICD JPEG, golden/images/big.jpg, datasets/geotiff/RGB.byte.tif) when
 * present, else synthetic images of the same sizes and formats. Prints JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeRgb8, preprocessImage, preprocessRgb } from '../src/model/image.js';
import { parsePreprocessConfig } from '../src/model/model-dir.js';
import { decodeSmallJpeg, isSmallJpeg } from '../src/model/small-jpeg.js';
import { parseImageHeader } from '../src/raster/image-header.js';

const SHARED = path.resolve(process.env.RSCLIP_SHARED ?? path.join(import.meta.dirname, '../../shared'));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const cfg = parsePreprocessConfig({});

async function synthetic(width: number, height: number, format: 'jpeg' | 'tiff'): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (Math.sin(i * 0.001) * 60 + ((i * 2654435761) >>> 24) * 0.5 + 40) & 255;
  const image = sharp(data, { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? image.jpeg({ quality: 90 }).toBuffer() : image.tiff({ compression: 'deflate' }).toBuffer();
}

async function input(shared: string, width: number, height: number, format: 'jpeg' | 'tiff'): Promise<{ bytes: Buffer; source: string }> {
  const file = path.join(SHARED, shared);
  if (existsSync(file)) return { bytes: readFileSync(file), source: file };
  return { bytes: await synthetic(width, height, format), source: `synthetic ${width}x${height} ${format}` };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall-clock and CPU (user + system of this process) milliseconds per run; CPU time is steadier on a shared machine. */
async function timeMs(fn: () => Promise<unknown> | unknown): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await fn();
    const d = process.cpuUsage(c);
    wall.push(performance.now() - t);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wall: Number(median(wall).toFixed(2)), cpu: Number(median(cpu).toFixed(2)) };
}

const cases = [
  { name: 'rsicd-224x224-jpeg', ...(await input('golden/images/stadium_1.jpg', 224, 224, 'jpeg')) },
  { name: '512x512-jpeg', bytes: await synthetic(512, 512, 'jpeg'), source: 'synthetic 512x512 jpeg' },
  { name: '1024x1024-jpeg', bytes: await synthetic(1024, 1024, 'jpeg'), source: 'synthetic 1024x1024 jpeg' },
  { name: '2000x1500-jpeg', ...(await input('golden/images/big.jpg', 2000, 1500, 'jpeg')) },
  { name: '791x718-geotiff', ...(await input('datasets/geotiff/RGB.byte.tif', 791, 718, 'tiff')) },
];

// V8 optimises the WebAssembly decoder in background threads over its first calls: done before timing
for (const c of cases) if (isSmallJpeg(parseImageHeader(c.bytes))) for (let i = 0; i < 20; i++) await decodeSmallJpeg(c.bytes);

const results = [];
for (const c of cases) {
  const decoded = await decodeRgb8(c.bytes);
  const decode = await timeMs(() => decodeRgb8(c.bytes));
  const resize = await timeMs(() => preprocessRgb(decoded.rgb, cfg));
  const total = await timeMs(() => preprocessImage(c.bytes, cfg));
  const header = parseImageHeader(c.bytes);
  const byDecoder =
    header?.format === 'jpeg'
      ? {
          libvips: await timeMs(() => sharp(c.bytes, { failOn: 'truncated', ignoreIcc: true, autoOrient: false }).raw().toBuffer()),
          webAssembly: await timeMs(() => decodeSmallJpeg(c.bytes)),
        }
      : undefined;
  results.push({
    image: c.name,
    source: c.source,
    size: `${decoded.rgb.width}x${decoded.rgb.height}`,
    bytes: c.bytes.length,
    decoder: isSmallJpeg(header) ? 'webAssembly' : 'libvips',
    medianMs: { decode, resizeCropNormalize: resize, total, ...(byDecoder ? { decodeBy: byDecoder } : {}) },
  });
}

console.log(
  JSON.stringify(
    {
      bench: 'preprocess',
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      node: process.version,
      sharp: { version: sharp.versions.sharp, vips: sharp.versions.vips, concurrency: sharp.concurrency() },
      runs,
      mode: 'one image at a time from an in-memory buffer; medians of wall and CPU ms (CPU includes libvips threads)',
      loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
      results,
    },
    null,
    2,
  ),
);
