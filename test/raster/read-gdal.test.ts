/**
 * Window reads against GDAL: for every GeoTIFF in ../shared/datasets/geotiff (striped, tiled,
 * band-separate, 8/16-bit, float, RGBA, masked COG), a window read through geotiff.js equals
 * gdal_translate -srcwin of the same window, band by band; colour interpretation, nodata and
 * overviews agree with gdalinfo. JPEG-compressed YCbCr files too (libvips decodes their windows,
 * with GDAL's libjpeg), as is a YCbCr JPEG TIFF made of libjpeg-turbo's tiles.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, expect, it } from 'vitest';
import { openRaster, type BandArray } from '../../src/raster/index.js';
import { describeGdal, gdalinfo } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { DATASETS_DIR, describeShared, hasShared } from '../fixtures/shared.js';

describeGdal('a YCbCr JPEG TIFF', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-jpeg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the samples of gdal_translate in full-resolution windows, across its tiles, and reduced (geotiff.js differs by tens)', async () => {
    const file = path.join(dir, 'ycbcr.tif');
    const [width, height, tile] = [700, 500, 128];
    // fine colour detail, where JPEG decoders' chroma upsampling differs most
    const pixel = (x: number, y: number, b: number) => (x * (b + 2) + y * (5 - b) + ((x * y) % 61) * 3) % 256;
    const tiles = new Map<string, Uint8Array>();
    for (let row = 0; row * tile < height; row++) {
      for (let column = 0; column * tile < width; column++) {
        const rgb = Buffer.alloc(tile * tile * 3);
        for (let y = 0; y < tile; y++) for (let x = 0; x < tile; x++) for (let b = 0; b < 3; b++) rgb[(y * tile + x) * 3 + b] = pixel(column * tile + x, row * tile + y, b);
        tiles.set(`${column},${row}`, await sharp(rgb, { raw: { width: tile, height: tile, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toBuffer());
      }
    }
    writeGeoTiff(file, { width, height, bands: 3, dataType: 'uint8', tile, compression: 'jpeg', photometric: 'ycbcr', pixel, encodedBlock: (_, column, row) => tiles.get(`${column},${row}`)! });
    const source = await openRaster(file);
    for (const w of [{ x: 168, y: 168, width: 224, height: 224 }, { x: 0, y: 0, width: width, height: height }, { x: 600, y: 430, width: 100, height: 70 }]) {
      const ours = await source.readBands(w, [1, 2, 3]);
      const out = path.join(dir, `${w.x}.raw`);
      execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', '-srcwin', String(w.x), String(w.y), String(w.width), String(w.height), file, out], { stdio: 'ignore' });
      expect(Buffer.concat(ours.bands.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))).equals(readFileSync(out)), `window ${w.x},${w.y}`).toBe(true);
    }
    // a reduced read, which no overview serves, against GDAL's nearest from the full resolution (not from libjpeg's scaled decoding)
    const reduced = await source.readBands({ x: 0, y: 0, width, height }, [1, 2, 3], { outWidth: 233, outHeight: 167 });
    const out = path.join(dir, 'reduced.raw');
    execFileSync('gdal_translate', ['--config', 'GTIFF_IMPLICIT_JPEG_OVR', 'NO', '-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', '-outsize', '233', '167', '-r', 'nearest', file, out], { stdio: 'ignore' });
    expect(Buffer.concat(reduced.bands.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))).equals(readFileSync(out)), 'reduced').toBe(true);
    await source.close();
  });
});

describeShared('window reads of the shared GeoTIFFs', () => {
  describeGdal('against gdal_translate', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-read-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const geotiffs = path.join(DATASETS_DIR, 'geotiff');
    const files = hasShared ? readdirSync(geotiffs).filter((f) => f.endsWith('.tif')).sort() : [];
    for (const file of files) {
      it(`${file}`, async () => {
        const full = path.join(geotiffs, file);
        const info = gdalinfo(full);
        const source = await openRaster(full);
        expect(source.colors).toEqual(info.bands.map((b) => (b.colorInterpretation ?? 'undefined').toLowerCase()));
        const nodata = info.bands[0]!.noDataValue;
        expect(source.nodata === null ? undefined : Number.isNaN(source.nodata) ? 'NaN' : source.nodata).toEqual(nodata);
        expect(source.overviews.length).toBe((info.bands[0] as { overviews?: unknown[] }).overviews?.length ?? 0);
        const x = Math.floor(source.width / 3);
        const y = Math.floor(source.height / 3);
        const w = { x, y, width: Math.min(300, source.width - x), height: Math.min(200, source.height - y) };
        const bands = Array.from({ length: source.bandCount }, (_, i) => i + 1);
        const ours = await source.readBands(w, bands);
        await source.close();
        const out = path.join(dir, `${file}.raw`);
        // ENVI band-sequential raw in the file's own data type (north-up placeholder bounds: ENVI cannot store a rotation).
        execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', '-a_ullr', '0', '1', '1', '0', '-srcwin', String(w.x), String(w.y), String(w.width), String(w.height), full, out], { stdio: 'ignore' });
        const raw = readFileSync(out);
        const Ctor = ours.bands[0]!.constructor as { new (b: ArrayBufferLike, o: number, l: number): BandArray; BYTES_PER_ELEMENT: number };
        const gdal = new Ctor(raw.buffer, raw.byteOffset, raw.byteLength / Ctor.BYTES_PER_ELEMENT);
        const n = w.width * w.height;
        let maxDiff = 0;
        ours.bands.forEach((band, k) => {
          for (let i = 0; i < n; i++) {
            const a = band[i]!;
            const g = gdal[k * n + i]!;
            if (Number.isNaN(a) && Number.isNaN(g)) continue;
            maxDiff = Math.max(maxDiff, Math.abs(a - g));
          }
        });
        expect(maxDiff).toBe(0);
      });
    }
  });
});
