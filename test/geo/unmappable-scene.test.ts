/**
 * A scene none of whose windows maps to lon/lat (100 km pixels in UTM) is refused; one where some
 * windows map (a geostationary full disk, its corners beyond the limb) is taken.
 */
import { describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { checkSomeWindowMaps, placeOfWindow } from '../../src/geo/footprint.js';
import { crsFromEpsg, planWindows, type Georeference } from '../../src/geo/index.js';
import { thrown } from '../fixtures/errors.js';

describe('checkSomeWindowMaps', () => {
  it('refuses a scene none of whose windows maps (100 km pixels in UTM), and takes one where some do', () => {
    const huge: Georeference = { crs: crsFromEpsg(32618), geoTransform: [131988.79, 100000, 0, 2796910.82, 0, -100000], width: 600, height: 500, source: 'geotiff' };
    const windows = planWindows(600, 500, { inputSize: 224 });
    const error = thrown(() => checkSomeWindowMaps(huge, windows)) as Error & { hint?: string };
    expect(isRsclipError(error, 'BAD_INPUT')).toBe(true);
    expect(error.message).toBe('no window of the image maps to longitude/latitude from WGS 84 / UTM zone 18N: its corners are at 131988.79, 2796910.82 and 60131988.79, -47203089.18 (pixels of 100000 x 100000 units)');
    expect(() => checkSomeWindowMaps(huge, [{ x: 0, y: 0, width: 600, height: 500 }])).toThrow(/no window of the image maps/);
    // a geostationary full disk: its corner windows are beyond the limb, its centre ones are not
    const geos = crsFromEpsg(4326);
    const disk: Georeference = { crs: { ...geos, name: 'GEOS', epsg: null, definition: '+proj=geos +h=35785831 +lon_0=0 +datum=WGS84 +units=m +no_defs', geographic: false }, geoTransform: [-5568000, 3000, 0, 5568000, 0, -3000], width: 3712, height: 3712, source: 'geotiff' };
    const diskWindows = planWindows(3712, 3712, { inputSize: 224 });
    expect(placeOfWindow(disk, diskWindows[0]!)).toBeNull();
    expect(() => checkSomeWindowMaps(disk, diskWindows)).not.toThrow();
    // no CRS: no place to look for
    expect(() => checkSomeWindowMaps({ ...huge, crs: null }, windows)).not.toThrow();
  });
});
