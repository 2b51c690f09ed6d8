/**
 * A query image is rendered as the indexer renders the same file whole (band choice from the
 * colour interpretation, one 2-98 % stretch): a 16-bit, signed, float, 16-bit PNG or
 * band-reordered file (or an 8-bit TIFF libvips cannot decode) searched with itself is its own
 * top hit, scoring 1, through the library (path and bytes), `rsclip search`, and the HTTP upload
 * and JSON term (decoded in the server's worker threads). Before, a query went through sharp alone (the high byte of 16-bit data, a
 * plain cast of floats, the first three bands) and a Float64 TIFF was refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip, openModelDirectory, type ClipEncoder } from '../../src/model/index.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { QueryImageDecoder, withQueryImageDecoder } from '../../src/server/query-images.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { hasGdal } from '../fixtures/gdal.js';
import { makePngBomb } from '../fixtures/images.js';
import { writeGeoTiff, type GeoTiffFixture } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';

/** A texture in [0, 1) that differs by seed and band. */
function texture(seed: number): (x: number, y: number, b: number) => number {
  return (x, y, b) => ((x * (b + 2) * (seed + 13) + y * (7 - b) * 11 + ((x * y + seed * 31) % (53 + seed)) * 17) % 1000) / 1000;
}

let root: string;
let archive: string;
let indexDir: string;
let modelDir: string;
let encoder: ClipEncoder;
let store: IndexStore;
let decoder: QueryImageDecoder;
let app: Application;
const files: string[] = [];

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-query-radiometry-'));
  archive = path.join(root, 'archive');
  mkdirSync(archive);
  const tiff = (name: string, spec: Omit<Parameters<typeof writeGeoTiff>[1], 'pixel'>, pixel: (x: number, y: number, b: number) => number) => {
    writeGeoTiff(path.join(archive, name), { ...spec, pixel });
    files.push(name);
  };
  // 12-bit data in 16-bit samples: its high byte is 0..15
  tiff('rgb12.tif', { width: 300, height: 200, bands: 3, dataType: 'uint16' }, (x, y, b) => Math.round(200 + texture(1)(x, y, b) * 3800));
  tiff('float.tif', { width: 260, height: 240, bands: 3, dataType: 'float32' }, (x, y, b) => 0.05 + texture(2)(x, y, b) * 0.4);
  tiff('bgrn.tif', { width: 240, height: 250, bands: 4, dataType: 'uint8', photometric: 'minisblack', extraSamples: [0, 0, 0], colorInterp: ['Blue', 'Green', 'Red', 'Undefined'] }, (x, y, b) =>
    Math.round(texture(3)(x, y, b) * (b === 0 ? 90 : 255)),
  );
  // 8-bit, but tiled band-separate: libvips cannot decode it, the scene reader can
  tiff('planar.tif', { width: 230, height: 260, bands: 3, dataType: 'uint8', tile: 64, planar: true }, (x, y, b) => Math.round(texture(8)(x, y, b) * 255));
  // past four model inputs on its shorter side: read reduced, as the indexer reads it
  tiff('large12.tif', { width: 1000, height: 920, bands: 3, dataType: 'uint16', tile: 256 }, (x, y, b) => Math.round(100 + texture(4)(x, y, b) * 3000));
  const deep = new Uint16Array(200 * 280 * 3).map((_, i) => Math.round(1000 + texture(5)(Math.floor(i / 3) % 200, Math.floor(i / 600), i % 3) * 19000));
  writeFileSync(path.join(archive, 'deep.png'), await sharp(Buffer.from(deep.buffer), { raw: { width: 200, height: 280, channels: 3, premultiplied: false } }).toColourspace('rgb16').png().toBuffer());
  files.push('deep.png');
  if (hasGdal) {
    // the fixture writer has no signed or 64-bit samples: GDAL rewrites 16-bit ones (two
    // pictures: stretched, two linear scalings of one would render alike)
    for (const [seed, name, type, low, high] of [[6, 'int16.tif', 'Int16', '-1000', '3000'], [7, 'double.tif', 'Float64', '0', '1']] as const) {
      const source = path.join(root, `source-${name}`);
      writeGeoTiff(source, { width: 280, height: 210, bands: 3, dataType: 'uint16', pixel: (x, y, b) => Math.round(texture(seed)(x, y, b) * 4000) });
      execFileSync('gdal_translate', ['-q', '-ot', type, '-scale', '0', '4000', low, high, source, path.join(archive, name)]);
    }
    files.push('int16.tif', 'double.tif');
  }
  modelDir = await tinyModelDir();
  indexDir = path.join(root, 'index');
  encoder = await openClip(modelDir, { threads: 1 });
  await indexInto({ roots: [archive], index: indexDir, model: encoder, tile: 'off' });
  store = await openIndex(indexDir, { readonly: true });
  decoder = new QueryImageDecoder(openModelDirectory(modelDir).preprocess, { maxPixels: 4096 * 4096, threads: 1, maxQueued: 4 });
  app = createApp({ searcher: new Searcher(withQueryImageDecoder(encoder, decoder), store), store });
}, 300_000);
afterAll(async () => {
  await decoder?.close();
  await store?.close();
  await encoder?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a query image rendered as the indexer renders the same file', () => {
  it('finds itself, scoring 1, from its path and from its bytes (library)', async () => {
    const searcher = new Searcher(encoder, store);
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const name of files) {
      const file = path.join(archive, name);
      for (const image of [file, readFileSync(file)]) {
        const page = await searcher.search({ terms: [{ kind: 'image', image, weight: 1 }], k: 3, exact: true });
        expect([name, typeof image, page.hits[0]?.path]).toEqual([name, typeof image, name]);
        expect(page.hits[0]!.score, name).toBeGreaterThan(0.99999);
      }
    }
  });

  it('finds itself through the HTTP upload and the JSON term, decoded in the worker threads', async () => {
    for (const name of files) {
      const bytes = readFileSync(path.join(archive, name));
      const type = name.endsWith('.png') ? 'image/png' : 'image/tiff';
      const upload = await request(app).post('/api/search/image?exact=true&k=3').set('Content-Type', type).send(bytes);
      expect([name, upload.status, upload.body.hits?.[0]?.path], JSON.stringify(upload.body.error)).toEqual([name, 200, name]);
      expect(upload.body.hits[0].score, name).toBeGreaterThan(0.99999);
      const json = await request(app).post('/api/search').send({ terms: [{ image: bytes.toString('base64') }], k: 3, exact: true });
      expect([name, json.status, json.body.hits?.[0]?.path]).toEqual([name, 200, name]);
    }
  });

  it('finds itself through `rsclip search`', async () => {
    const name = hasGdal ? 'double.tif' : 'rgb12.tif';
    const result = await runCli(['search', path.join(archive, name), '--index', indexDir, '--model', modelDir, '--threads', '1', '--exact', '-k', '1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const page = JSON.parse(result.stdout) as { hits: { path: string; score: number }[] };
    expect(page.hits[0]?.path).toBe(name);
    expect(page.hits[0]!.score).toBeGreaterThan(0.99999);
  });
});

describe('a query image in an index made with --bands and --stretch', () => {
  it('is rendered with the index\'s band choice and stretch, and finds itself (library and HTTP)', async () => {
    const falseColour = path.join(root, 'false-colour');
    mkdirSync(falseColour);
    const fourBands: Omit<GeoTiffFixture, 'dataType' | 'pixel'> = { width: 240, height: 230, bands: 4, photometric: 'minisblack', extraSamples: [0, 0, 0], colorInterp: ['Blue', 'Green', 'Red', 'Undefined'] };
    writeGeoTiff(path.join(falseColour, 'nir8.tif'), { ...fourBands, dataType: 'uint8', pixel: (x, y, b) => Math.round(texture(9)(x, y, b) * (b === 3 ? 255 : 60)) });
    writeGeoTiff(path.join(falseColour, 'nir16.tif'), { ...fourBands, dataType: 'uint16', pixel: (x, y, b) => Math.round(300 + texture(10)(x, y, b) * (b === 3 ? 5000 : 900)) });
    const index = path.join(root, 'false-colour-index');
    await indexInto({ roots: [falseColour], index, model: encoder, tile: 'off', bands: [4, 3, 2], percentiles: [1, 99] });
    const falseStore = await openIndex(index, { readonly: true });
    const threads = new QueryImageDecoder(openModelDirectory(modelDir).preprocess, { maxPixels: 4096 * 4096, threads: 1, maxQueued: 4 });
    try {
      const searcher = new Searcher(encoder, falseStore);
      const served = createApp({ searcher: new Searcher(withQueryImageDecoder(encoder, threads), falseStore), store: falseStore });
      for (const name of ['nir8.tif', 'nir16.tif']) {
        const bytes = readFileSync(path.join(falseColour, name));
        for (const image of [path.join(falseColour, name), bytes]) {
          const page = await searcher.search({ terms: [{ kind: 'image', image, weight: 1 }], k: 2, exact: true });
          expect([name, page.hits[0]?.path]).toEqual([name, name]);
          expect(page.hits[0]!.score, name).toBeGreaterThan(0.99999);
        }
        const upload = await request(served).post('/api/search/image?exact=true&k=2').set('Content-Type', 'image/tiff').send(bytes);
        expect([name, upload.status, upload.body.hits?.[0]?.path]).toEqual([name, 200, name]);
        expect(upload.body.hits[0].score, name).toBeGreaterThan(0.99999);
      }
    } finally {
      await threads.close();
      await falseStore.close();
    }
  });
});

describe('`rsclip search` with an image it must refuse', () => {
  it('refuses a named pipe at once and an SVG, and tells an image past the pixel limit to be smaller, naming no option it lacks', async () => {
    const fifo = path.join(root, 'fifo.jpg');
    execFileSync('mkfifo', [fifo]);
    const svg = path.join(root, 'image.svg');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="8000" height="8000"><rect width="10" height="10"/></svg>');
    const bomb = path.join(root, 'bomb.png');
    writeFileSync(bomb, makePngBomb(60_000, 60_000));
    const search = (image: string) => runCli(['search', image, '--index', indexDir, '--model', modelDir, '--threads', '1']);
    const [piped, vector, large] = await Promise.all([search(fifo), search(svg), search(bomb)]);
    expect([piped.code, piped.stderr]).toEqual([1, `rsclip: cannot read image ${fifo}: not a regular file (a named pipe) (give the path of an image file)\n`]);
    expect([vector.code, vector.stderr]).toEqual([1, `rsclip: image ${svg} is SVG, a vector format, which is not accepted as a query image (search with a raster image: JPEG, PNG, TIFF, WebP or GIF)\n`]);
    expect([large.code, large.stderr]).toEqual([
      1,
      `rsclip: image ${bomb} has 60000x60000 = 3600000000 pixels, more than the limit of 178956970 (use a smaller query image: the model looks at 224x224 pixels of it anyway)\n`,
    ]);
  }, 60_000);
});
