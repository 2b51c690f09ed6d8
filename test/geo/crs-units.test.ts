/**
 * Geographic CRSs whose coordinates are grads (NTF (Paris) and five other EPSG codes): their proj4
 * strings do not say so, and proj4 reads longitude and latitude as degrees. The reference values
 * are `gdaltransform -s_srs EPSG:4807 -t_srs EPSG:4326` (GDAL 3.6, PROJ 9.1.1), which applies the
 * grads, the Paris prime meridian and NTF's shift to WGS 84 (-168,-60,320).
 */
import { describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { crsFromEpsg, crsFromGeoKeys, crsFromWkt, lonLatTransform } from '../../src/geo/index.js';

const DEGREES = 1e-6;

/** NTF (Paris) grads and GDAL's WGS 84 longitude/latitude of them. */
const NTF_PARIS_GDAL: [[number, number], [number, number]][] = [
  [[0, 54], [2.33650924576182, 48.5999322390316]],
  [[0.06, 53.94], [2.39051218619035, 48.5459329361494]],
  [[-1.5, 50], [0.986505027281876, 44.9999664226756]],
];

describe('geographic CRSs in grads', () => {
  it('reads EPSG:4807 (NTF (Paris)) in grads, then its prime meridian and datum, as GDAL does', () => {
    const crs = crsFromEpsg(4807);
    expect(crs.degreesPerUnit).toBe(0.9);
    const transform = lonLatTransform(crs);
    for (const [[x, y], [lon, lat]] of NTF_PARIS_GDAL) {
      const ours = transform.toLonLat(x, y)!;
      expect(Math.abs(ours[0] - lon)).toBeLessThan(DEGREES);
      expect(Math.abs(ours[1] - lat)).toBeLessThan(DEGREES);
      const back = transform.fromLonLat(lon, lat)!;
      expect(Math.abs(back[0] - x)).toBeLessThan(DEGREES);
      expect(Math.abs(back[1] - y)).toBeLessThan(DEGREES);
    }
  });

  it('reads a GeoTIFF whose GeographicTypeGeoKey is 4807 in grads too', () => {
    const [[x, y], [lon, lat]] = NTF_PARIS_GDAL[0]!;
    const ours = lonLatTransform(crsFromGeoKeys({ GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4807 })!).toLonLat(x, y)!;
    expect(Math.abs(ours[0] - lon)).toBeLessThan(DEGREES);
    expect(Math.abs(ours[1] - lat)).toBeLessThan(DEGREES);
  });

  it('keeps degrees for the other geographic and the projected CRSs', () => {
    expect(crsFromEpsg(4326).degreesPerUnit).toBe(1);
    expect(crsFromEpsg(4275).degreesPerUnit).toBe(1);
    expect(crsFromEpsg(27572).degreesPerUnit).toBe(1);
  });

  it('refuses a WKT geographic CRS in grads (proj4 would read degrees), pointing to its EPSG code', () => {
    // `gdalsrsinfo -o wkt_esri EPSG:4807`, as a .prj holds it.
    const esri = 'GEOGCS["GCS_NTF_Paris",DATUM["D_NTF",SPHEROID["Clarke_1880_IGN",6378249.2,293.466021293627]],PRIMEM["Paris",2.33722917],UNIT["Grad",0.0157079632679489]]';
    let error: unknown;
    try {
      crsFromWkt(esri);
    } catch (e) {
      error = e;
    }
    expect(isRsclipError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toBe('the CRS "GCS_NTF_Paris" gives longitude and latitude in grad, and rsclip reads a WKT or proj4 geographic CRS in degrees only');
    expect((error as { hint?: string }).hint).toMatch(/EPSG:4807/);
  });
});
