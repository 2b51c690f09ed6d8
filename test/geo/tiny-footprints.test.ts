/**
 * Footprints of windows of 1e-9 degree pixels (a 224 px window is 2e-7 degrees across): areas and
 * orientation computed relative to a vertex, so rounding on absolute lon/lat does not empty them
 * or turn them clockwise; an empty MultiPolygon written as valid WKT.
 */
import { describe, expect, it } from 'vitest';
import { crsFromEpsg, placeOfWindow, planWindows, polygonsOf, type Georeference } from '../../src/geo/index.js';
import { signedArea } from '../../src/geo/lonlat-ring.js';
import { geometryToWkt } from '../../src/geo/wkb.js';

describe('footprints of sub-millimetre pixels', () => {
  it('are one counter-clockwise polygon per window, holding the window centre', () => {
    // as `gdal_translate -a_ullr 12.5 41.9 12.5000006 41.8999995` of a 600 x 500 image
    const geo: Georeference = { crs: crsFromEpsg(4326), geoTransform: [12.5, 1e-9, 0, 41.9, 0, -1e-9], width: 600, height: 500, source: 'geotiff' };
    const windows = planWindows(600, 500, { inputSize: 224 });
    expect(windows.length).toBe(12);
    for (const window of windows) {
      const place = placeOfWindow(geo, window)!;
      expect(place.footprint.type, window.key).toBe('Polygon');
      const [ring] = polygonsOf(place.footprint)[0]!;
      expect(signedArea(ring!) / (224 * 224 * 1e-18), window.key).toBeCloseTo(1, 5);
      const [west, south, east, north] = place.bbox;
      expect(west).toBeLessThan(place.center[0]);
      expect(east).toBeGreaterThan(place.center[0]);
      expect(south).toBeLessThan(place.center[1]);
      expect(north).toBeGreaterThan(place.center[1]);
    }
  });

  it('signedArea of a tiny ring far from the origin keeps its sign and size', () => {
    const x = 12.500000376;
    const y = 41.899999832;
    const d = 2.24e-7;
    const ccw: [number, number][] = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]];
    expect(signedArea(ccw) / (d * d)).toBeCloseTo(1, 6);
    expect(signedArea([...ccw].reverse()) / (d * d)).toBeCloseTo(-1, 6);
  });

  it('an empty MultiPolygon is MULTIPOLYGON EMPTY in WKT', () => {
    expect(geometryToWkt({ type: 'MultiPolygon', coordinates: [] })).toBe('MULTIPOLYGON EMPTY');
    expect(geometryToWkt({ type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]]] })).toBe('MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))');
  });
});
