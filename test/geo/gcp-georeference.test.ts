/**
 * GeoTIFFs georeferenced by ground control points only (ModelTiepoint sextets, no pixel scale):
 * placed by the affine least-squares fit of their GCPs, GDAL's `gdaltransform -order 1`, with the
 * fit's residuals measured; no place, and the reason, where the GCPs cannot be fitted. The files
 * are written by the tests' own GeoTIFF writer; GDAL is the oracle.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GCP_RESIDUAL_TOLERANCE_PIXELS, fitAffineToGcps, lonLatTransform, pixelToCrs, placeOfWindow, polygonsOf, type GeoTransform, type Georeference } from '../../src/geo/index.js';
import { openRaster, readGeoreference } from '../../src/raster/index.js';
import { describeGdal, gdaltransform } from '../fixtures/gdal.js';
import { writeGeoTiff, type GeoTiffFixtureGeo } from '../fixtures/geotiff-writer.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-gcps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WIDTH = 400;
const HEIGHT = 300;

type Gcp = [number, number, number, number];

function scene(name: string, geo: GeoTiffFixtureGeo): string {
  const file = path.join(dir, name);
  writeGeoTiff(file, { width: WIDTH, height: HEIGHT, bands: 1, dataType: 'uint8', pixel: (x, y) => (x * 3 + y * 5) % 256, geo });
  return file;
}

/** GCPs on a grid of the image, at the CRS points `at` gives (an affine transform, or a warped one). */
function gridGcps(at: (pixel: number, line: number) => [number, number], steps = 4): Gcp[] {
  const gcps: Gcp[] = [];
  for (let j = 0; j <= steps; j++) {
    for (let i = 0; i <= steps; i++) {
      const p = (i * WIDTH) / steps;
      const l = (j * HEIGHT) / steps;
      gcps.push([p, l, ...at(p, l)]);
    }
  }
  return gcps;
}

/** A north-up-ish UTM 33N transform with a little rotation: 10 m pixels. */
const UTM_GT: GeoTransform = [500000, 10, 0.8, 4650000, 0.6, -10];
const affine = (gt: GeoTransform) => (p: number, l: number) => pixelToCrs(gt, p, l);

const CORNERS: [number, number][] = [[0, 0], [WIDTH, 0], [WIDTH, HEIGHT], [0, HEIGHT], [WIDTH / 2, HEIGHT / 2]];

function ourCorners(geo: Georeference): [number, number][] {
  return CORNERS.map(([c, r]) => pixelToCrs(geo.geoTransform, c, r));
}

function expectClose(ours: readonly (readonly number[])[], theirs: readonly ([number, number] | null)[], tolerance: number): void {
  expect(theirs.every((p) => p !== null)).toBe(true);
  ours.forEach((p, i) => {
    expect(Math.abs(p[0]! - theirs[i]![0])).toBeLessThanOrEqual(tolerance);
    expect(Math.abs(p[1]! - theirs[i]![1])).toBeLessThanOrEqual(tolerance);
  });
}

/** The lon/lat of the image's corners as its footprint has them: each is a vertex of the outline. */
function footprintCorners(geo: Georeference): [number, number][] {
  const place = placeOfWindow(geo, { x: 0, y: 0, width: WIDTH, height: HEIGHT })!;
  const ring = polygonsOf(place.footprint)[0]![0]!;
  const t = lonLatTransform(geo.crs!);
  return CORNERS.slice(0, 4).map(([c, r]) => {
    const [lon, lat] = t.toLonLat(...pixelToCrs(geo.geoTransform, c, r))!;
    const vertex = ring.find((v) => Math.abs(v[0] - lon) < 1e-9 && Math.abs(v[1] - lat) < 1e-9);
    expect(vertex).toBeDefined();
    return [vertex![0], vertex![1]];
  });
}

describe('GeoTIFF ground control points', () => {
  it('an exact-affine GCP set gives the footprint of the equivalent geotransform file', async () => {
    const gcps = scene('exact-gcps.tif', { epsg: 32633, gcps: gridGcps(affine(UTM_GT), 2) });
    const [a, b, c, d, e, f] = UTM_GT;
    const matrix = scene('exact-matrix.tif', { epsg: 32633, transformation: [b, c, 0, a, e, f, 0, d, 0, 0, 0, 0, 0, 0, 0, 1] });
    const fromGcps = (await readGeoreference(gcps))!;
    const fromMatrix = (await readGeoreference(matrix))!;
    expect(fromGcps).not.toBeNull();
    expect(fromGcps.crs!.epsg).toBe(32633);
    fromGcps.geoTransform.forEach((v, i) => expect(v).toBeCloseTo(fromMatrix.geoTransform[i]!, 6));
    expect(fromGcps.gcpFit!.gcps).toBe(9);
    expect(fromGcps.gcpFit!.maxResidualPixels).toBeLessThan(1e-6);
    for (const window of [{ x: 0, y: 0, width: WIDTH, height: HEIGHT }, { x: 100, y: 50, width: 224, height: 224 }]) {
      const ours = placeOfWindow(fromGcps, window)!;
      const theirs = placeOfWindow(fromMatrix, window)!;
      ours.bbox.forEach((v, i) => expect(v).toBeCloseTo(theirs.bbox[i]!, 9));
      expect(ours.gsd).toBeCloseTo(theirs.gsd, 6);
    }
  });

  it('a warped GCP set is placed, with the residual of its worst GCP measured in pixels', async () => {
    // four corners, one moved 20 px along the line: the least-squares plane misses every corner by a quarter of it
    const gcps: Gcp[] = [[0, 0, 500000, 4650000], [1000, 0, 501000, 4650000], [0, 1000, 500000, 4649000], [1000, 1000, 501020, 4649000]];
    const file = scene('warped.tif', { epsg: 32633, gcps });
    const geo = (await readGeoreference(file))!;
    expect(geo).not.toBeNull();
    expect(geo.gcpFit!.maxResidualPixels).toBeGreaterThan(GCP_RESIDUAL_TOLERANCE_PIXELS);
    expect(geo.gcpFit!.maxResidualPixels).toBeCloseTo(5, 1);
    expect(geo.gcpFit!.rmsResidualPixels).toBeCloseTo(5, 1);
    // the fit's centre is the GCPs' mean, as any least-squares plane's
    expect(pixelToCrs(geo.geoTransform, 500, 500)[0]).toBeCloseTo(500505, 6);
  });

  it('two GCPs, or GCPs on one line, give no place and say why', async () => {
    const two = await openRaster(scene('two-gcps.tif', { epsg: 32633, gcps: [[0, 0, 500000, 4650000], [WIDTH, HEIGHT, 504000, 4647000]] }));
    const line = await openRaster(scene('collinear-gcps.tif', { epsg: 32633, gcps: [[0, 0, 500000, 4650000], [200, 150, 502000, 4648500], [WIDTH, HEIGHT, 504000, 4647000]] }));
    const flat = await openRaster(scene('flat-crs-gcps.tif', { epsg: 32633, gcps: [[0, 0, 500000, 4650000], [WIDTH, 0, 504000, 4650000], [0, HEIGHT, 508000, 4650000]] }));
    try {
      for (const source of [two, line, flat]) expect(source.georeference).toBeNull();
      expect(two.unusableGeoreference).toBe('ground control points that cannot be fitted: 2 ground control points, an affine fit needs 3 not on one line');
      expect(line.unusableGeoreference).toBe('ground control points that cannot be fitted: the 3 ground control points lie on one line in the image');
      expect(flat.unusableGeoreference).toMatch(/CRS points lie on one line/);
    } finally {
      await Promise.all([two, line, flat].map((s) => s.close()));
    }
    expect(fitAffineToGcps([{ pixel: 0, line: 0, x: 1, y: 1 }, { pixel: 1, line: 0, x: 2, y: 1 }, { pixel: 0, line: Number.NaN, x: 1, y: 2 }])).toEqual({ problem: 'a ground control point has a non-finite coordinate' });
  });

  it('geographic GCPs across the antimeridian are fitted as one scene, not stretched around the globe', async () => {
    // 0.0005 degree pixels from 179.9 E: the right half's GCPs are at -179.9x
    const lon = (p: number) => { const x = 179.9 + 0.0005 * p; return x > 180 ? x - 360 : x; };
    const file = scene('antimeridian-gcps.tif', { epsg: 4326, geographic: true, gcps: gridGcps((p, l) => [lon(p), -16 - 0.0005 * l]) });
    const geo = (await readGeoreference(file))!;
    expect(geo.gcpFit!.maxResidualPixels).toBeLessThan(1e-6);
    expect(geo.geoTransform[1]).toBeCloseTo(0.0005, 9);
    const place = placeOfWindow(geo, { x: 0, y: 0, width: WIDTH, height: HEIGHT })!;
    expect(place.bbox[0]).toBeCloseTo(179.9, 6);
    expect(place.bbox[2]).toBeCloseTo(-179.9, 6);
  });

  it('geographic GCPs at -180 and 180 (whole world, polar cap, a ±60 band) span the world, as GDAL fits them', async () => {
    const edges = (top: number, bottom: number, centre?: [number, number]): Gcp[] => [
      [0, 0, -180, top], [WIDTH, 0, 180, top], [0, HEIGHT, -180, bottom], [WIDTH, HEIGHT, 180, bottom],
      ...(centre ? [[WIDTH / 2, HEIGHT / 2, ...centre] as Gcp] : []),
    ];
    for (const [name, gcps, top, bottom] of [
      ['world-gcps.tif', edges(90, -90), 90, -90],
      ['polar-gcps.tif', edges(90, 80), 90, 80],
      ['band60-gcps.tif', edges(60, -60, [0, 0]), 60, -60],
    ] as const) {
      const geo = (await readGeoreference(scene(name, { epsg: 4326, geographic: true, gcps: [...gcps] })))!;
      expect(geo, name).not.toBeNull();
      expect(geo.gcpFit!.maxResidualPixels, name).toBeLessThan(1e-6);
      const corners = ourCorners(geo);
      [[-180, top], [180, top], [180, bottom], [-180, bottom], [0, (top + bottom) / 2]].forEach(([x, y], i) => {
        expect(corners[i]![0]).toBeCloseTo(x!, 9);
        expect(corners[i]![1]).toBeCloseTo(y!, 9);
      });
    }
  });

  it('two columns of GCPs (both fits exact): a scene across the antimeridian is that scene, a world grid the world, as their pixels are square', async () => {
    // across ±180, north-up and south-up (0.0005 degree pixels): fitted as given, either runs around the globe the other way
    for (const [name, top, bottom] of [['antimeridian-corners.tif', -16, -16.15], ['antimeridian-corners-south-up.tif', -16.15, -16]] as const) {
      const gcps: Gcp[] = [[0, 0, 179.9, top], [WIDTH, 0, -179.9, top], [0, HEIGHT, 179.9, bottom], [WIDTH, HEIGHT, -179.9, bottom]];
      const geo = (await readGeoreference(scene(name, { epsg: 4326, geographic: true, gcps })))!;
      expect(geo.geoTransform[1], name).toBeCloseTo(0.0005, 9);
      const place = placeOfWindow(geo, { x: 0, y: 0, width: WIDTH, height: HEIGHT })!;
      expect(place.bbox[0], name).toBeCloseTo(179.9, 6);
      expect(place.bbox[2], name).toBeCloseTo(-179.9, 6);
    }
    // a 0.9 x 0.6 degree world grid with GCPs at its corner pixels' centres: shifted, it would be a 0.9 degree strip
    const gcps: Gcp[] = [[0.5, 0.5, -179.55, 89.7], [WIDTH - 0.5, 0.5, 179.55, 89.7], [0.5, HEIGHT - 0.5, -179.55, -89.7], [WIDTH - 0.5, HEIGHT - 0.5, 179.55, -89.7]];
    const world = (await readGeoreference(scene('world-grid-centres.tif', { epsg: 4326, geographic: true, gcps })))!;
    const corners = ourCorners(world);
    [[-180, 90], [180, 90], [180, -90], [-180, -90], [0, 0]].forEach(([x, y], i) => {
      expect(corners[i]![0]).toBeCloseTo(x!, 9);
      expect(corners[i]![1]).toBeCloseTo(y!, 9);
    });
  });

  it('GCPs with a world file beside: the world file\'s geotransform in the GeoKeys\' CRS, as GDAL (no .prj, no --crs needed)', async () => {
    const gcpFile = scene('gcps-and-tfw.tif', { epsg: 32633, gcps: gridGcps(affine(UTM_GT), 2) });
    writeFileSync(gcpFile.replace(/\.tif$/, '.tfw'), '30\n0\n0\n-30\n300015\n4000015\n');
    // two GCPs cannot be fitted: the world file places it, in the GeoKeys' CRS too
    const twoFile = scene('two-gcps-and-tfw.tif', { epsg: 32633, gcps: [[0, 0, 500000, 4650000], [WIDTH, HEIGHT, 504000, 4647000]] });
    writeFileSync(twoFile.replace(/\.tif$/, '.tfw'), '30\n0\n0\n-30\n300015\n4000015\n');
    for (const file of [gcpFile, twoFile]) {
      const source = await openRaster(file);
      try {
        const geo = source.georeference!;
        expect(geo, file).not.toBeNull();
        expect(geo.source).toBe('world-file');
        expect(geo.crs!.epsg).toBe(32633);
        expect(geo.gcpFit).toBeUndefined();
        expect([...geo.geoTransform]).toEqual([300000, 30, 0, 4000030, 0, -30]);
        expect(source.unusableGeoreference).toBeUndefined();
      } finally {
        await source.close();
      }
    }
  });

  it('a plain GeoTIFF says nothing about its georeference being unusable', async () => {
    const source = await openRaster(scene('plain.tif', { epsg: 32633, origin: [500000, 4650000], pixelSize: [10, 10] }));
    try {
      expect(source.georeference!.gcpFit).toBeUndefined();
      expect(source.unusableGeoreference).toBeUndefined();
    } finally {
      await source.close();
    }
  });
});

describeGdal('GeoTIFF ground control points against gdaltransform -order 1', () => {
  /** Pixel-dependent wobble of up to ~0.3 px (10 m pixels): GCPs as picked by hand, not an exact plane. */
  const wobbly = (gt: GeoTransform, metres = 3) => (p: number, l: number): [number, number] => {
    const [x, y] = pixelToCrs(gt, p, l);
    return [x + metres * Math.sin(p / 37 + l / 23), y + metres * Math.cos(p / 29 - l / 41)];
  };

  it('a geographic GCP scene: corners in its CRS and footprint corners in lon/lat', async () => {
    const gt: GeoTransform = [14.2, 0.0001, 0.00001, 52.1, 0.00002, -0.0001];
    const file = scene('geographic-gcps.tif', { epsg: 4326, geographic: true, gcps: gridGcps((p, l) => { const [x, y] = pixelToCrs(gt, p, l); return [x + 1e-6 * Math.sin(p / 31), y + 1e-6 * Math.cos(l / 17)]; }) });
    const geo = (await readGeoreference(file))!;
    expect(geo.crs!.epsg).toBe(4326);
    expectClose(ourCorners(geo), gdaltransform(CORNERS, { file, order: 1 }), 1e-9);
    expectClose(footprintCorners(geo), gdaltransform(CORNERS.slice(0, 4), { file, order: 1, targetSrs: 'EPSG:4326' }), 1e-6);
    expect(geo.gcpFit!.maxResidualPixels).toBeLessThanOrEqual(GCP_RESIDUAL_TOLERANCE_PIXELS);
  });

  it('a projected (UTM 33N) GCP scene: corners in metres and footprint corners in lon/lat', async () => {
    const file = scene('utm-gcps.tif', { epsg: 32633, gcps: gridGcps(wobbly(UTM_GT)) });
    const geo = (await readGeoreference(file))!;
    expect(geo.crs!.name).toBe('WGS 84 / UTM zone 33N');
    expectClose(ourCorners(geo), gdaltransform(CORNERS, { file, order: 1 }), 1e-6);
    expectClose(footprintCorners(geo), gdaltransform(CORNERS.slice(0, 4), { file, order: 1, targetSrs: 'EPSG:4326' }), 1e-6);
    expect(geo.gcpFit!.maxResidualPixels).toBeGreaterThan(0.05);
    expect(geo.gcpFit!.maxResidualPixels).toBeLessThanOrEqual(GCP_RESIDUAL_TOLERANCE_PIXELS);
  });

  it('a warped GCP set: the affine fit is GDAL\'s first order, whatever its residuals', async () => {
    const file = scene('warped-utm-gcps.tif', { epsg: 32633, gcps: gridGcps((p, l) => [500000 + 10 * p + 0.0004 * p * p, 4650000 - 10 * l - 0.0005 * p * l]) });
    const geo = (await readGeoreference(file))!;
    expectClose(ourCorners(geo), gdaltransform(CORNERS, { file, order: 1 }), 1e-6);
    expect(geo.gcpFit!.maxResidualPixels).toBeGreaterThan(GCP_RESIDUAL_TOLERANCE_PIXELS);
  });

  it('geographic GCPs at -180 and 180 (whole world, polar, ±60 band): corners as gdaltransform -order 1 gives them', async () => {
    for (const [name, top, bottom, centre] of [['gdal-world.tif', 90, -90], ['gdal-polar.tif', 90, 80], ['gdal-band60.tif', 60, -60, true]] as const) {
      const gcps: Gcp[] = [[0, 0, -180, top], [WIDTH, 0, 180, top], [0, HEIGHT, -180, bottom], [WIDTH, HEIGHT, 180, bottom], ...(centre ? [[WIDTH / 2, HEIGHT / 2, 0, 0] as Gcp] : [])];
      const file = scene(name, { epsg: 4326, geographic: true, gcps });
      const geo = (await readGeoreference(file))!;
      expect(geo, name).not.toBeNull();
      expectClose(ourCorners(geo), gdaltransform(CORNERS, { file, order: 1 }), 1e-9);
    }
  });

  it('GCPs with a world file (and a .prj of another CRS) beside: placed as gdaltransform places it, by the world file in the GeoKeys\' CRS', async () => {
    const file = scene('gdal-gcps-and-tfw.tif', { epsg: 32618, gcps: gridGcps(wobbly([101985, 300, 0, 2826915, 0, -300])) });
    writeFileSync(file.replace(/\.tif$/, '.tfw'), '30\n0\n0\n-30\n500000\n4000000\n');
    writeFileSync(file.replace(/\.tif$/, '.prj'), 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]');
    const geo = (await readGeoreference(file))!;
    expect(geo.crs!.epsg).toBe(32618);
    expectClose(ourCorners(geo), gdaltransform(CORNERS, { file }), 1e-6);
    expectClose(footprintCorners(geo), gdaltransform(CORNERS.slice(0, 4), { file, targetSrs: 'EPSG:4326' }), 1e-6);
  });

  it('PixelIsPoint GCPs are pixel centres, half a pixel in, as GDAL reads them', async () => {
    const file = scene('point-gcps.tif', { epsg: 32633, pixelIsPoint: true, gcps: gridGcps(wobbly(UTM_GT), 3) });
    const geo = (await readGeoreference(file))!;
    expectClose(ourCorners(geo), gdaltransform(CORNERS, { file, order: 1 }), 1e-6);
    // the same GCPs read as PixelIsArea lie half a pixel (about 7 m) away
    const area = (await readGeoreference(scene('area-gcps.tif', { epsg: 32633, gcps: gridGcps(wobbly(UTM_GT), 3) })))!;
    expect(Math.abs(area.geoTransform[0] - geo.geoTransform[0])).toBeGreaterThan(4);
  });
});
