/**
 * Scenes read window by window: bands and the per-scene stretch give, pixel for pixel, what a PNG
 * export of the whole scene with the same stretch gives when cut at the same window; the stretch
 * is GDAL's `-scale`; 8-bit RGB passes through; overviews serve coarse reads; nodata windows are
 * detected (nodata value, NaN, alpha, mask, constant fill).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { planWindows } from '../../src/geo/index.js';
import { Scene, computeSceneStretch, defaultBands, isMostlyNodata, openRaster, parseBandList, stretchToRgb } from '../../src/raster/index.js';
import { hasGdal } from '../fixtures/gdal.js';
import { writeGeoTiff, type GeoTiffFixture } from '../fixtures/geotiff-writer.js';
import { sixteenBitScene as sixteenBit } from '../fixtures/sixteen-bit.js';
import { DATASETS_DIR, hasShared } from '../fixtures/shared.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-scene-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The shared 16-bit 4-band scene, its nodata corner 200 x 150 px. */
function sixteenBitScene(width: number, height: number): GeoTiffFixture {
  return sixteenBit(width, height, { nodata: [200, 150], epsg: 32633, origin: [400_000, 5_000_000] });
}

async function pngRoundTrip(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  const png = await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } }).png().toBuffer();
  return sharp(png).raw().toBuffer();
}

function crop(rgb: Uint8Array, width: number, w: { x: number; y: number; width: number; height: number }): Uint8Array {
  const out = new Uint8Array(w.width * w.height * 3);
  for (let y = 0; y < w.height; y++) out.set(rgb.subarray(((w.y + y) * width + w.x) * 3, ((w.y + y) * width + w.x + w.width) * 3), y * w.width * 3);
  return out;
}

describe('a 16-bit 4-band scene with --bands 4,3,2 and the percentile stretch', () => {
  const width = 1500;
  const height = 1100;
  const file = path.join(dir, 'sixteen.tif');
  writeGeoTiff(file, sixteenBitScene(width, height));

  it('reads every tile as the whole-scene PNG export cut at the same window', async () => {
    const scene = await Scene.open(file, { bands: parseBandList('4,3,2') });
    expect(scene.stretch.kind).toBe('linear');
    expect(scene.stretch.bands).toEqual([4, 3, 2]);
    // The whole scene at full size, read in 1024-pixel blocks, exported to PNG and decoded again.
    const whole = await scene.readOverview(Math.max(width, height));
    expect([whole.width, whole.height]).toEqual([width, height]);
    const exported = await pngRoundTrip(whole.rgb, width, height);
    const windows = planWindows(width, height, { inputSize: 224 });
    expect(windows.length).toBeGreaterThan(30);
    for (const w of windows) {
      const tile = await scene.readWindow(w);
      expect(Buffer.from(tile.rgb).equals(Buffer.from(crop(exported, width, w))), `window ${w.key}`).toBe(true);
    }
    await scene.close();
  });

  it.skipIf(!hasGdal)('stretches as gdal_translate -scale does with the same limits [needs gdal-bin]', async () => {
    const scene = await Scene.open(file, { bands: [4, 3, 2] });
    const { low, high } = scene.stretch;
    const png = path.join(dir, 'gdal.png');
    const scales = [0, 1, 2].flatMap((i) => [`-scale_${i + 1}`, String(low[i]), String(high[i]), '0', '255']);
    execFileSync('gdal_translate', ['-q', '-b', '4', '-b', '3', '-b', '2', ...scales, '-ot', 'Byte', '-of', 'PNG', file, png]);
    // GDAL marks the nodata value in the PNG (tRNS): drop that alpha.
    const gdal = await sharp(png).removeAlpha().raw().toBuffer();
    const ours = (await scene.readWindow({ x: 0, y: 0, width, height })).rgb;
    let maxDiff = 0;
    let equal = 0;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i]! - gdal[i]!);
      maxDiff = Math.max(maxDiff, d);
      if (d === 0) equal++;
    }
    expect(maxDiff).toBe(0);
    expect(equal).toBe(ours.length);
    await scene.close();
  });

  it('rounds an exact .5 up, as gdal_translate -scale does', () => {
    // (5027 - 1146) * 255 / (8908 - 1146) = 127.5, which (v - low) * (255 / (high - low)) gives as 127.4999...
    const stretch = { bands: [1], kind: 'linear' as const, low: [1146], high: [8908], percentiles: [2, 98] as [number, number], sampledPixels: 1 };
    expect(Array.from(stretchToRgb([Uint16Array.of(5027, 1146, 8908)], stretch))).toEqual([128, 128, 128, 0, 0, 0, 255, 255, 255]);
  });

  it('takes the percentiles of the valid pixels (nearest rank), from the whole scene when it is small', async () => {
    const small = path.join(dir, 'small.tif');
    const spec = sixteenBitScene(600, 400);
    writeGeoTiff(small, spec);
    const source = await openRaster(small);
    const stretch = await computeSceneStretch(source, [4, 3, 2], { percentiles: [2, 98] });
    [4, 3, 2].forEach((band, i) => {
      const values: number[] = [];
      for (let y = 0; y < 400; y++) for (let x = 0; x < 600; x++) if (!(x < 200 && y < 150)) values.push(spec.pixel(x, y, band - 1, 0));
      values.sort((a, b) => a - b);
      expect(stretch.low[i]).toBe(values[Math.round(0.02 * (values.length - 1))]);
      expect(stretch.high[i]).toBe(values[Math.round(0.98 * (values.length - 1))]);
    });
    expect(stretch.sampledPixels).toBe(600 * 400 - 200 * 150);
    await source.close();
  });
});

describe('bands and passthrough', () => {
  it('defaults to red, green, blue from the colour interpretation, else the first three', async () => {
    const file = path.join(dir, 'sixteen.tif');
    const source = await openRaster(file);
    expect(source.colors).toEqual(['blue', 'green', 'red', 'undefined']);
    expect(defaultBands(source)).toEqual([3, 2, 1]);
    await source.close();
    const plain = path.join(dir, 'plain.tif');
    writeGeoTiff(plain, { width: 40, height: 30, bands: 5, dataType: 'uint8', photometric: 'minisblack', extraSamples: [0, 0, 0, 0], pixel: (x, y, b) => x + b });
    const p = await openRaster(plain);
    expect(defaultBands(p)).toEqual([1, 2, 3]);
    await p.close();
    expect(() => parseBandList('4,3')).toThrow(/--bands must be three band numbers \(or one\) counted from 1, got "4,3"/);
    await expect(Scene.open(plain, { bands: [6, 2, 1] })).rejects.toThrow(/band 6 does not exist in .*plain.tif, which has 5 band\(s\)/);
  });

  it('passes 8-bit RGB through untouched', async () => {
    const file = path.join(dir, 'rgb8.tif');
    const spec: GeoTiffFixture = { width: 300, height: 200, bands: 3, dataType: 'uint8', tile: 64, pixel: (x, y, b) => (x * 3 + y * 5 + b * 70) % 256 };
    writeGeoTiff(file, spec);
    const scene = await Scene.open(file);
    expect(scene.stretch.kind).toBe('passthrough');
    const w = await scene.readWindow({ x: 37, y: 21, width: 224, height: 150 });
    const expected = new Uint8Array(224 * 150 * 3);
    for (let y = 0; y < 150; y++) for (let x = 0; x < 224; x++) for (let b = 0; b < 3; b++) expected[(y * 224 + x) * 3 + b] = spec.pixel(37 + x, 21 + y, b, 0);
    expect(Buffer.from(w.rgb).equals(Buffer.from(expected))).toBe(true);
    await scene.close();
  });

  it('reads a JPEG with a world file through sharp, window by window', async () => {
    const jpg = path.join(dir, 'photo.jpg');
    const raw = Buffer.alloc(500 * 400 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) % 253;
    await sharp(raw, { raw: { width: 500, height: 400, channels: 3 } }).jpeg({ quality: 95 }).toFile(jpg);
    const decoded = await sharp(jpg).raw().toBuffer();
    const scene = await Scene.open(jpg);
    expect(scene.source.format).toBe('jpeg');
    for (const w of planWindows(500, 400, { inputSize: 224 })) {
      expect(Buffer.from((await scene.readWindow(w)).rgb).equals(Buffer.from(crop(decoded, 500, w)))).toBe(true);
    }
    await scene.close();
  });
});

describe('overviews (COG)', () => {
  it('serves a coarse read from the matching overview level', async () => {
    const file = path.join(dir, 'cog.tif');
    // Each level marks its pixels with its level number in band 2.
    writeGeoTiff(file, { width: 1024, height: 768, bands: 3, dataType: 'uint8', tile: 256, compression: 'deflate', overviews: [2, 4, 8], pixel: (x, y, b, level) => (b === 1 ? level : (x + y) % 200) });
    const source = await openRaster(file);
    expect(source.overviews.map((o) => o.width)).toEqual([512, 256, 128]);
    const whole = { x: 0, y: 0, width: 1024, height: 768 };
    expect(new Set((await source.readBands(whole, [2], { outWidth: 256, outHeight: 192 })).bands[0])).toEqual(new Set([2]));
    expect(new Set((await source.readBands(whole, [2], { outWidth: 300, outHeight: 225 })).bands[0])).toEqual(new Set([1]));
    expect(new Set((await source.readBands({ x: 512, y: 256, width: 448, height: 448 }, [2], { outWidth: 224, outHeight: 224 })).bands[0])).toEqual(new Set([1]));
    expect(new Set((await source.readBands({ x: 0, y: 0, width: 224, height: 224 }, [2])).bands[0])).toEqual(new Set([0]));
    await source.close();
  });

  it('samples the pixels at the output pixels\' centres, as GDAL does (floor((i + 0.5) * ratio)), from an overview or the full resolution', async () => {
    const file = path.join(dir, 'cog-centres.tif');
    // bands 1 and 2: a pixel's column and row in its level
    writeGeoTiff(file, { width: 1050, height: 850, bands: 2, dataType: 'uint16', tile: 256, overviews: [2], pixel: (x, y, b, level) => (b === 0 ? x : y) / 2 ** level });
    const source = await openRaster(file, { decoder: 'geotiff' });
    for (const [w, out, levelWidth] of [
      [{ x: 0, y: 0, width: 1050, height: 850 }, [512, 414], 525],
      [{ x: 100, y: 60, width: 700, height: 500 }, [300, 215], 525],
      [{ x: 0, y: 0, width: 1050, height: 850 }, [700, 566], 1050],
    ] as const) {
      const f = levelWidth / 1050;
      const { bands } = await source.readBands(w, [1, 2], { outWidth: out[0], outHeight: out[1] });
      const columns = Array.from({ length: out[0] }, (_, i) => Math.floor((w.x + ((i + 0.5) * w.width) / out[0]) * f));
      const rows = Array.from({ length: out[1] }, (_, i) => Math.floor((w.y + ((i + 0.5) * w.height) / out[1]) * f));
      expect(Array.from(bands[0]!.subarray(0, out[0])), `columns of ${out.join('x')}`).toEqual(columns);
      expect(Array.from({ length: out[1] }, (_, i) => bands[1]![i * out[0]]!), `rows of ${out.join('x')}`).toEqual(rows);
    }
    await source.close();
  });
});

describe('nodata windows', () => {
  it('detects the nodata value, alpha 0 and a constant fill', async () => {
    const file = path.join(dir, 'holes.tif');
    // Bands R, G, B, alpha; nodata 0 in the top-left 300 px; alpha 0 in the bottom-right; a constant fill of 7 at the top right.
    writeGeoTiff(file, {
      width: 900, height: 672, bands: 4, dataType: 'uint16', tile: 112, extraSamples: [2], nodata: '0',
      pixel: (x, y, b) => {
        if (b === 3) return x >= 600 && y >= 448 ? 0 : 65535;
        if (x < 300 && y < 300) return 0;
        if (x >= 672 && y < 224) return 7;
        return 100 + ((x * 13 + y * 7 + b * 1000) % 5000);
      },
    });
    const scene = await Scene.open(file);
    expect(scene.stretch.bands).toEqual([1, 2, 3]);
    const at = async (x: number, y: number) => scene.readWindow({ x, y, width: 224, height: 224 });
    expect((await at(0, 0)).nodataFraction).toBe(1);
    expect(isMostlyNodata(await at(0, 0))).toBe(true);
    expect((await at(150, 0)).nodataFraction).toBeCloseTo((150 * 224) / (224 * 224), 10);
    expect(isMostlyNodata(await at(150, 0))).toBe(true);
    expect(isMostlyNodata(await at(300, 300))).toBe(false);
    expect((await at(676, 448)).nodataFraction).toBe(1);
    const fill = await at(676, 0);
    expect(fill.constant).toBe(true);
    expect(fill.nodataFraction).toBe(0);
    expect(isMostlyNodata(fill)).toBe(true);
    await scene.close();
  });

  it('never counts NaN or infinite samples as data, with no nodata tag: the stretch is that of the finite samples', async () => {
    const file = path.join(dir, 'nan-untagged.tif');
    const width = 600;
    const height = 448;
    // A float ramp with NaN over the top-left 224 px block, a NaN row, and a few infinities; no nodata tag.
    const pixel = (x: number, y: number, b: number) =>
      (x < 224 && y < 224) || y === 300 ? NaN : x === 500 && y % 50 === 0 ? (b === 0 ? Infinity : -Infinity) : ((x + 2 * y + 97 * b) % 1000) / 1000;
    writeGeoTiff(file, { width, height, bands: 3, dataType: 'float32', tile: 112, pixel });
    const scene = await Scene.open(file);
    const { low, high } = scene.stretch;
    for (let b = 0; b < 3; b++) {
      const finite: number[] = [];
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ([0, 1, 2].every((k) => Number.isFinite(pixel(x, y, k)))) finite.push(Math.fround(pixel(x, y, b)));
      finite.sort((p, q) => p - q);
      expect([low[b], high[b]], `band ${b + 1}`).toEqual([finite[Math.round(0.02 * (finite.length - 1))], finite[Math.round(0.98 * (finite.length - 1))]]);
    }
    // what the catalog stores (JSON) holds numbers only
    expect(JSON.parse(JSON.stringify(scene.stretch))).toEqual(scene.stretch);
    expect((await scene.readWindow({ x: 0, y: 0, width: 224, height: 224 })).nodataFraction).toBe(1);
    const data = await scene.readWindow({ x: 250, y: 0, width: 224, height: 224 });
    expect(data.nodataFraction).toBe(0);
    expect(new Set(data.rgb).size).toBeGreaterThan(200);
    await scene.close();
  });

  it.skipIf(!hasShared)('detects nodata in the shared all-nodata, NaN, alpha and masked GeoTIFFs [needs ../shared]', async () => {
    const g = (f: string) => path.join(DATASETS_DIR, 'geotiff', f);
    const allNodata = await Scene.open(g('all-nodata.tif'));
    expect(allNodata.stretch.sampledPixels).toBe(0);
    for (const w of planWindows(71, 2475, { inputSize: 64 })) expect((await allNodata.readWindow(w)).nodataFraction).toBe(1);
    await allNodata.close();
    const nan = await Scene.open(g('float_nan.tif'));
    const nanWindow = await nan.readWindow({ x: 0, y: 0, width: 3, height: 2 });
    const nanSource = await openRaster(g('float_nan.tif'));
    const values = Array.from((await nanSource.readBands({ x: 0, y: 0, width: 3, height: 2 }, [1])).bands[0]!);
    expect(nanWindow.nodataFraction).toBeCloseTo(values.filter(Number.isNaN).length / 6, 10);
    await nanSource.close();
    await nan.close();
  });

  it.skipIf(!hasShared || !hasGdal)('counts alpha-0 pixels of alpha.tif and masked pixels of cogeo.tif as GDAL does [needs ../shared and gdal-bin]', async () => {
    const g = (f: string) => path.join(DATASETS_DIR, 'geotiff', f);
    const gdalBand = (file: string, band: string): Buffer => {
      const out = path.join(dir, `band-${path.basename(file)}-${band}.raw`);
      execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-b', band, file, out]);
      return readFileSync(out);
    };
    for (const [file, band] of [['alpha.tif', '4'], ['cogeo.tif', 'mask']] as const) {
      const scene = await Scene.open(g(file));
      const whole = await scene.readWindow({ x: 0, y: 0, width: scene.width, height: scene.height });
      const flags = gdalBand(g(file), band);
      const zero = flags.filter((v) => v === 0).length;
      expect(whole.nodataFraction).toBeCloseTo(zero / flags.length, 12);
      await scene.close();
    }
  });
});

describe('a palette TIFF', () => {
  const width = 600;
  const height = 448;
  const w = { x: 130, y: 70, width: 224, height: 224 };
  /** A palette scene; its colour table's 16-bit entries are the 8-bit colours times `scale`, plus `offset`. */
  function paletteScene(name: string, scale: number, offset: number): { file: string; colorMap: number[] } {
    const file = path.join(dir, name);
    const colour = (c: number, i: number) => [(i * 7) % 256, 255 - i, (i * 13) % 256][c]! * scale + offset;
    const colorMap = [0, 1, 2].flatMap((c) => Array.from({ length: 256 }, (_, i) => colour(c, i)));
    writeGeoTiff(file, { width, height, bands: 1, dataType: 'uint8', tile: 112, overviews: [2], colorMap, pixel: (x, y) => (x * 3 + y * 5) % 256 });
    return { file, colorMap };
  }

  it('is read in its colours, tile by tile and from overviews, as libvips decodes it whole (an image embedded whole or tiled alike)', async () => {
    // entries as GDAL writes them (8-bit x 257), which libvips (>> 8) and GDAL (/ 257) read alike
    const { file, colorMap } = paletteScene('palette.tif', 257, 0);
    const scene = await Scene.open(file);
    expect(scene.source.colors).toEqual(['red', 'green', 'blue']);
    expect(scene.stretch.kind).toBe('passthrough');
    const tile = await scene.readWindow(w);
    const decoded = await sharp(file).extract({ left: w.x, top: w.y, width: w.width, height: w.height }).removeAlpha().raw().toBuffer();
    expect(Buffer.from(tile.rgb).equals(decoded)).toBe(true);
    const reduced = await scene.readWindow({ x: 0, y: 0, width, height }, { outWidth: 300, outHeight: 224 });
    const colours = new Set(Array.from({ length: 256 }, (_, i) => [0, 1, 2].map((c) => colorMap[c * 256 + i]! / 257).join()));
    for (let i = 0; i < 300 * 224; i += 97) expect(colours.has(Array.from(reduced.rgb.subarray(i * 3, i * 3 + 3)).join()), `pixel ${i}`).toBe(true);
    await scene.close();
  });

  it.skipIf(!hasGdal)('gives the colours of gdal_translate -expand rgb, entries that are not multiples of 257 included [needs gdal-bin]', async () => {
    const { file } = paletteScene('palette-odd.tif', 256, 200);
    const scene = await Scene.open(file);
    const tile = await scene.readWindow(w);
    await scene.close();
    const out = path.join(dir, 'palette-gdal.raw');
    execFileSync('gdal_translate', ['-q', '-expand', 'rgb', '-of', 'ENVI', '-co', 'INTERLEAVE=BIP', '-srcwin', String(w.x), String(w.y), String(w.width), String(w.height), file, out]);
    expect(Buffer.from(tile.rgb).equals(readFileSync(out))).toBe(true);
  });
});

describe('the two TIFF decoders', () => {
  it('libvips (chosen for interleaved 8/16-bit Deflate/LZW/raw TIFFs) and geotiff.js give the same samples', async () => {
    const cases: [string, GeoTiffFixture][] = [
      ['chunky16.tif', sixteenBitScene(700, 500)],
      ['chunky8-strips.tif', { width: 333, height: 222, bands: 3, dataType: 'uint8', rowsPerStrip: 7, compression: 'deflate', pixel: (x, y, b) => (x * 7 + y * 3 + b * 50) % 256 }],
      ['planar16.tif', { ...sixteenBitScene(400, 300), planar: true }],
    ];
    for (const [name, spec] of cases) {
      const file = path.join(dir, name);
      writeGeoTiff(file, spec);
      const auto = await openRaster(file);
      const geotiff = await openRaster(file, { decoder: 'geotiff' });
      expect(auto.decoder).toBe(spec.planar ? 'geotiff.js' : 'libvips');
      expect(geotiff.decoder).toBe('geotiff.js');
      const bands = Array.from({ length: spec.bands }, (_, i) => i + 1);
      for (const w of [{ x: 0, y: 0, width: 224, height: 200 }, { x: 101, y: 13, width: 150, height: 111 }, { x: spec.width - 64, y: spec.height - 64, width: 64, height: 64 }]) {
        const a = await auto.readBands(w, bands);
        const g = await geotiff.readBands(w, bands);
        a.bands.forEach((band, i) => expect(Buffer.from(band.buffer, band.byteOffset, band.byteLength).equals(Buffer.from(g.bands[i]!.buffer, g.bands[i]!.byteOffset, g.bands[i]!.byteLength)), `${name} band ${i + 1}`).toBe(true));
      }
      // libvips reads strictly (it fails on warnings) and still kept these files
      expect(auto.decoder).toBe(spec.planar ? 'geotiff.js' : 'libvips');
      await auto.close();
      await geotiff.close();
    }
  });

  it('libvips cuts windows across the 512 px chunks it reads a scene by (8- and 16-bit, any band order) as geotiff.js reads them', async () => {
    const cases: [string, GeoTiffFixture][] = [
      ['chunks8.tif', { width: 2600, height: 2150, bands: 3, dataType: 'uint8', tile: 256, compression: 'deflate', pixel: (x, y, b) => (x * 7 + y * 3 + b * 50) % 256 }],
      ['chunks16.tif', sixteenBitScene(1300, 1250)],
    ];
    for (const [name, spec] of cases) {
      const file = path.join(dir, name);
      writeGeoTiff(file, spec);
      const auto = await openRaster(file);
      const geotiff = await openRaster(file, { decoder: 'geotiff' });
      expect(auto.decoder).toBe('libvips');
      const windows = [
        { x: 1000, y: 1000, width: 224, height: 224 },
        { x: 0, y: 900, width: 1024, height: 200 },
        { x: 1023, y: 0, width: 2, height: 1024 },
        { x: spec.width - 224, y: spec.height - 224, width: 224, height: 224 },
        { x: 7, y: 11, width: 1100, height: 1050 },
        { x: 300, y: 400, width: 448, height: 448 },
      ];
      for (const bands of [[1, 2, 3], [3, 1]]) {
        for (const w of windows) {
          const a = await auto.readBands(w, bands);
          const g = await geotiff.readBands(w, bands);
          a.bands.forEach((band, i) => expect(Array.from(band), `${name} ${JSON.stringify(w)} band ${bands[i]}`).toEqual(Array.from(g.bands[i]!)));
        }
      }
      expect(auto.decoder).toBe('libvips');
      await auto.close();
      await geotiff.close();
    }
  });

  it('a damaged block fails its window instead of reading as zeros; the intact windows read as before', async () => {
    const file = path.join(dir, 'damaged-chunky.tif');
    writeGeoTiff(file, { width: 1024, height: 1024, bands: 3, dataType: 'uint8', tile: 256, compression: 'deflate', pixel: (x, y, b) => (x * 7 + y * 3 + b * 50) % 256 });
    const intact = await openRaster(file, { decoder: 'geotiff' });
    const expected = await intact.readBands({ x: 0, y: 0, width: 256, height: 256 }, [1, 2, 3]);
    await intact.close();
    // the tiles come before the directory: zero the last fifth of them (the bottom right ones)
    const bytes = readFileSync(file);
    const directory = bytes.readUInt32LE(4);
    bytes.fill(0, Math.floor(directory * 0.8), directory);
    writeFileSync(file, bytes);
    const source = await openRaster(file);
    expect(source.decoder).toBe('libvips');
    await expect(source.readBands({ x: 768, y: 768, width: 256, height: 256 }, [1, 2, 3])).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE', message: expect.stringMatching(/^cannot read .*damaged-chunky\.tif: /) });
    const read = await source.readBands({ x: 0, y: 0, width: 256, height: 256 }, [1, 2, 3]);
    read.bands.forEach((band, i) => expect(Array.from(band)).toEqual(Array.from(expected.bands[i]!)));
    await source.close();
  });
});
