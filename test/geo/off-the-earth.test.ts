/**
 * A georeference whose corners lie off the Earth in its geographic CRS (latitudes past the poles,
 * projected metres tagged as degrees) is refused alike from GeoTIFF keys and from a world file, by
 * one check with one message; longitudes past ±180 and an edge half a pixel past a pole are taken.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { crsFromEpsg, georeferenceFromGeoTiff, placeOfWindow, polygonsOf, readWorldFileGeoreference } from '../../src/geo/index.js';
import { thrown } from '../fixtures/errors.js';

/** GeoTIFF tags of a north-up image: top-left corner (x, y), square pixels of `pixel` units, the CRS `epsg` in the keys (none when undefined). */
function tags(x: number, y: number, pixel: number, epsg?: number, pixelIsPoint = false) {
  const geographic = epsg === 4326;
  const geoKeys: Record<string, unknown> = { GTRasterTypeGeoKey: pixelIsPoint ? 2 : 1 };
  if (epsg !== undefined) Object.assign(geoKeys, geographic ? { GTModelTypeGeoKey: 2, GeographicTypeGeoKey: epsg } : { GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: epsg });
  return { modelTiepoint: [0, 0, 0, x, y, 0], modelPixelScale: [pixel, pixel, 0], geoKeys };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rsclip-off-earth-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a geographic georeference off the Earth', () => {
  it('is refused from GeoTIFF keys as from a world file, with the same message', async () => {
    const error = thrown(() => georeferenceFromGeoTiff(tags(10, 92, 0.05, 4326), 600, 500));
    expect(isRsclipError(error, 'BAD_INPUT')).toBe(true);
    expect(error.message).toBe("the GeoTIFF's georeference puts the image's corner at longitude 10, latitude 92 in WGS 84, a geographic CRS: off the Earth");
    // the same corners as a world file and a .prj of EPSG:4326
    const image = path.join(dir, 'lat92.png');
    writeFileSync(path.join(dir, 'lat92.pgw'), '0.05\n0\n0\n-0.05\n10.025\n91.975\n');
    const fromWorld = (await readWorldFileGeoreference(image, 600, 500, { crs: crsFromEpsg(4326) }).catch((e: unknown) => e)) as Error;
    expect(fromWorld.message).toBe(`world file ${path.join(dir, 'lat92.pgw')} puts the image's corner at longitude 10, latitude 92 in WGS 84, a geographic CRS: off the Earth`);
  });

  it('is refused for projected metres tagged as degrees, naming the fix', () => {
    const error = thrown(() => georeferenceFromGeoTiff(tags(500000, 4650000, 300, 4326), 600, 500)) as Error & { hint?: string };
    expect(error.message).toMatch(/corner at longitude 500000, latitude 4650000 in WGS 84, a geographic CRS: off the Earth/);
    expect(error.hint).toMatch(/gdal_edit\.py -a_srs/);
    // without CRS keys, the --crs that made them degrees is named
    const withCrs = thrown(() => georeferenceFromGeoTiff(tags(500000, 4650000, 300), 600, 500, crsFromEpsg(4326))) as Error & { hint?: string };
    expect(withCrs.hint).toMatch(/give --crs EPSG:<code> of that projection/);
  });

  it('takes longitudes past ±180 (across the antimeridian, or 0..360) and a pole half a pixel inside the edge', async () => {
    expect(georeferenceFromGeoTiff(tags(-180.3, 10, 0.001, 4326), 600, 500)!.crs!.epsg).toBe(4326);
    expect(georeferenceFromGeoTiff(tags(180.2, 10, 0.001, 4326), 600, 500)).not.toBeNull();
    expect(georeferenceFromGeoTiff(tags(0, 90, 0.5, 4326), 720, 360)).not.toBeNull();
    // pixel centres on the poles (PixelIsPoint): the image's edge is half a pixel past them
    const centresOnPoles = georeferenceFromGeoTiff(tags(-180, 90, 0.25, 4326, true), 1440, 721)!;
    expect(centresOnPoles.geoTransform[3]).toBe(90.125);
    // and its footprints stop at the pole
    const top = placeOfWindow(centresOnPoles, { x: 0, y: 0, width: 224, height: 224 })!;
    expect(top.bbox[3]).toBe(90);
    expect(polygonsOf(top.footprint).flatMap((rings) => rings[0]!.map(([, lat]) => lat)).every((lat) => lat <= 90)).toBe(true);
    const image = path.join(dir, 'era.png');
    writeFileSync(path.join(dir, 'era.pgw'), '0.25\n0\n0\n-0.25\n-180\n90\n');
    expect(await readWorldFileGeoreference(image, 1440, 721, { crs: crsFromEpsg(4326) })).not.toBeNull();
    // but not a whole pixel past a pole, nor a longitude a turn and more away
    expect(thrown(() => georeferenceFromGeoTiff(tags(0, 90.5, 0.5, 4326), 720, 360)).message).toMatch(/latitude 90\.5 .*off the Earth/);
    expect(thrown(() => georeferenceFromGeoTiff(tags(-400, 10, 0.001, 4326), 600, 500)).message).toMatch(/longitude -400, .*off the Earth/);
  });
});
