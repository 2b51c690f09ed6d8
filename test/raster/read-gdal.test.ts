/**
 * Window reads against GDAL: for every GeoTIFF in ../shared/datasets/geotiff (striped, tiled,
 * band-separate, 8/16-bit, float, RGBA, masked COG), a window read through geotiff.js equals
 * gdal_translate -srcwin of the same window, band by band; colour interpretation, nodata and
 * overviews agree with gdalinfo. JPEG-compressed YCbCr files differ by the JPEG decoders' rounding only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openRaster, type BandArray } from '../../src/raster/index.js';
import { describeGdal, gdalinfo } from '../fixtures/gdal.js';
import { DATASETS_DIR, describeShared, hasShared } from '../fixtures/shared.js';

const YCBCR_JPEG = new Set(['cogeo.tif', 'goes.tif']);

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
        let sum = 0;
        ours.bands.forEach((band, k) => {
          for (let i = 0; i < n; i++) {
            const a = band[i]!;
            const g = gdal[k * n + i]!;
            if (Number.isNaN(a) && Number.isNaN(g)) continue;
            const d = Math.abs(a - g);
            maxDiff = Math.max(maxDiff, d);
            sum += d;
          }
        });
        if (YCBCR_JPEG.has(file)) {
          expect(maxDiff).toBeLessThanOrEqual(16);
          expect(sum / (n * bands.length)).toBeLessThan(0.5);
        } else {
          expect(maxDiff).toBe(0);
        }
      });
    }
  });
});
