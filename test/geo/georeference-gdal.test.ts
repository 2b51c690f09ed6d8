/**
 * Georeferencing against GDAL: for every GeoTIFF in ../shared/datasets/geotiff and for files the
 * tests make (a world-file JPEG, PixelIsPoint and ModelTransformation GeoTIFFs, NTF (Paris) in grads
 * and in Lambert zone II), the geotransform
 * equals gdalinfo's and the corner and centre coordinates in WGS84 agree with gdaltransform's
 * within 1e-6 degrees.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, expect, it } from 'vitest';
import { lonLatTransform, parseCrs, pixelToCrs, placeOfWindow, type Georeference } from '../../src/geo/index.js';
import { readGeoreference } from '../../src/raster/index.js';
import { describeGdal, gdalinfo, gdaltransform } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { DATASETS_DIR, hasShared } from '../fixtures/shared.js';

const DEGREES = 1e-6;

function samplePixels(width: number, height: number): [number, number][] {
  return [[0, 0], [width, 0], [width, height], [0, height], [width / 2, height / 2]];
}

function expectSameTransform(ours: readonly number[], gdal: readonly number[]): void {
  ours.forEach((v, i) => expect(Math.abs(v - gdal[i]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(gdal[i]!))));
}

/** Our lon/lat of pixel points, null where proj4 cannot map them. */
function ourLonLat(geo: Georeference, pixels: [number, number][]): ([number, number] | null)[] {
  const t = lonLatTransform(geo.crs!);
  return pixels.map(([c, r]) => {
    const [x, y] = pixelToCrs(geo.geoTransform, c, r);
    return t.toLonLat(x, y);
  });
}

function expectSameLonLat(ours: ([number, number] | null)[], gdal: ([number, number] | null)[]): void {
  expect(ours.map((p) => p === null)).toEqual(gdal.map((p) => p === null));
  ours.forEach((p, i) => {
    const g = gdal[i];
    if (!p || !g) return;
    const dLon = Math.abs(((p[0] - g[0] + 540) % 360) - 180);
    expect(dLon).toBeLessThanOrEqual(DEGREES);
    expect(Math.abs(p[1] - g[1])).toBeLessThanOrEqual(DEGREES);
  });
}

describeGdal('georeferencing agrees with GDAL', () => {
  const geotiffDir = path.join(DATASETS_DIR, 'geotiff');
  const files = hasShared ? readdirSync(geotiffDir).filter((f) => f.endsWith('.tif')).sort() : [];
  if (!hasShared) console.warn(`[rsclip tests] skipping the ../shared GeoTIFFs in "georeferencing agrees with GDAL": ${DATASETS_DIR} is absent`);

  it.skipIf(!hasShared)('covers all the shared GeoTIFFs (UTM, Web Mercator, geographic, user-defined, rotated)', () => {
    expect(files.length).toBeGreaterThanOrEqual(19);
  });

  for (const file of files) {
    it(`${file}: transform, CRS, corners and centre`, async () => {
      const full = path.join(geotiffDir, file);
      const info = gdalinfo(full);
      const geo = await readGeoreference(full);
      expect(geo).not.toBeNull();
      expect([geo!.width, geo!.height]).toEqual(info.size);
      expectSameTransform(geo!.geoTransform, info.geoTransform!);
      const hasCrs = (info.coordinateSystem?.wkt ?? '') !== '';
      expect(geo!.crs !== null).toBe(hasCrs);
      if (!hasCrs) return;
      const pixels = samplePixels(geo!.width, geo!.height);
      expectSameLonLat(ourLonLat(geo!, pixels), gdaltransform(pixels, { file: full, targetSrs: 'EPSG:4326' }));
    });
  }

  const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-gdal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a world-file JPEG with --crs EPSG:32633', async () => {
    const jpg = path.join(dir, 'scene.jpg');
    const raw = Buffer.alloc(120 * 80 * 3, 0);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
    await sharp(raw, { raw: { width: 120, height: 80, channels: 3 } }).jpeg().toFile(jpg);
    // A, D, B, E, C, F: 0.5 m pixels, the centre of the top-left pixel at (500000.25, 4649999.75).
    writeFileSync(path.join(dir, 'scene.jgw'), '0.5\n0\n0\n-0.5\n500000.25\n4649999.75\n');
    const geo = await readGeoreference(jpg, { crs: parseCrs('EPSG:32633') });
    const info = gdalinfo(jpg);
    expectSameTransform(geo!.geoTransform, info.geoTransform!);
    const pixels = samplePixels(120, 80);
    const native = pixels.map(([c, r]) => pixelToCrs(info.geoTransform as unknown as Georeference['geoTransform'], c, r));
    expectSameLonLat(ourLonLat(geo!, pixels), gdaltransform(native, { sourceSrs: 'EPSG:32633', targetSrs: 'EPSG:4326' }));
    // The footprint's corners are the same points.
    const place = placeOfWindow(geo!, { x: 0, y: 0, width: 120, height: 80 })!;
    expect(place.footprint.type).toBe('Polygon');
    expect(place.gsd).toBeCloseTo(0.5, 2);
  });

  it('a world file with a .prj beside it', async () => {
    const png = path.join(dir, 'prj.png');
    await sharp(Buffer.alloc(40 * 30 * 3, 90), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(png);
    writeFileSync(path.join(dir, 'prj.pgw'), '30\n0\n0\n-30\n399015\n5600985\n');
    writeFileSync(path.join(dir, 'prj.prj'), parseCrs('EPSG:32632').wkt!);
    const geo = await readGeoreference(png);
    expect(geo!.crs!.name).toBe('WGS 84 / UTM zone 32N');
    const pixels = samplePixels(40, 30);
    const native = pixels.map(([c, r]) => pixelToCrs(geo!.geoTransform, c, r));
    expectSameLonLat(ourLonLat(geo!, pixels), gdaltransform(native, { sourceSrs: 'EPSG:32632', targetSrs: 'EPSG:4326' }));
  });

  const made: [string, Parameters<typeof writeGeoTiff>[1]][] = [
    ['pixel-is-point.tif', { width: 64, height: 48, bands: 1, dataType: 'uint8', pixel: (x, y) => (x + y) % 256, geo: { epsg: 32618, origin: [300000, 4500000], pixelSize: [30, 30], pixelIsPoint: true } }],
    ['matrix.tif', { width: 50, height: 40, bands: 1, dataType: 'uint16', pixel: (x) => x, geo: { epsg: 3857, transformation: [10, 2, 0, 1_000_000, 1.5, -10, 0, 6_000_000, 0, 0, 0, 0, 0, 0, 0, 1] } }],
    ['matrix-point.tif', { width: 30, height: 30, bands: 3, dataType: 'uint8', pixel: () => 1, geo: { epsg: 4326, geographic: true, pixelIsPoint: true, transformation: [0.01, 0, 0, 179.9, 0, -0.01, 0, -60, 0, 0, 0, 0, 0, 0, 0, 1] } }],
    // NTF (Paris): a geographic CRS in grads, and Lambert zone II, whose NTF shift epsg-index leaves out.
    ['ntf-paris-grads.tif', { width: 60, height: 60, bands: 1, dataType: 'uint8', pixel: (x) => x, geo: { epsg: 4807, geographic: true, origin: [0, 54], pixelSize: [0.001, 0.001] } }],
    ['ntf-lambert-ii.tif', { width: 60, height: 60, bands: 1, dataType: 'uint8', pixel: (x) => x, geo: { epsg: 27572, origin: [600000, 2430000], pixelSize: [10, 10] } }],
    ['bigtiff-planar.tif', { width: 100, height: 70, bands: 4, dataType: 'uint16', tile: 32, planar: true, bigTiff: true, pixel: (x, y, b) => x + y + b, geo: { epsg: 32760, origin: [700000, 1000000], pixelSize: [5, 5] } }],
  ];
  for (const [name, spec] of made) {
    it(`a GeoTIFF the tests write: ${name}`, async () => {
      const file = path.join(dir, name);
      writeGeoTiff(file, spec);
      const info = gdalinfo(file);
      const geo = await readGeoreference(file);
      expectSameTransform(geo!.geoTransform, info.geoTransform!);
      const pixels = samplePixels(spec.width, spec.height);
      expectSameLonLat(ourLonLat(geo!, pixels), gdaltransform(pixels, { file, targetSrs: 'EPSG:4326' }));
    });
  }
});
