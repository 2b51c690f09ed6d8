/** Why a file a run indexed has no place, as the run's summary names it. */
import { describe, expect, it } from 'vitest';
import { crsFromEpsg, type Georeference } from '../../src/geo/index.js';
import { whyNoPlace, type IndexedFilePlace } from '../../src/indexer/run-places.js';

const file = (georeference: Georeference | null, more: Partial<IndexedFilePlace> = {}): IndexedFilePlace => ({ path: 'a.tif', absolutePath: '/x/a.tif', georeference, stacFootprint: false, ...more });
const geo = (more: Partial<Georeference>): Georeference => ({ crs: null, geoTransform: [0, 1, 0, 0, 0, -1], width: 10, height: 10, source: 'geotiff', ...more });

describe('whyNoPlace', () => {
  it('names what the file lacks, and nothing for a placed file', () => {
    expect(whyNoPlace(file(geo({ crs: crsFromEpsg(32633) })))).toBeNull();
    expect(whyNoPlace(file(null, { stacFootprint: true }))).toBeNull();
    expect(whyNoPlace(file(null))).toBe('no georeference');
    expect(whyNoPlace(file(null, { unusableGeoreference: 'ground control points that cannot be fitted: 2 ground control points, an affine fit needs 3 not on one line' }))).toMatch(/^ground control points that cannot be fitted/);
    expect(whyNoPlace(file(geo({ source: 'world-file' })))).toBe('a world file without a .prj, and no --crs');
    expect(whyNoPlace(file(geo({})))).toBe('a GeoTIFF transform without a CRS in its GeoKeys, and no --crs');
    expect(whyNoPlace(file(geo({ gcpFit: { gcps: 4, maxResidualPixels: 0.1, rmsResidualPixels: 0.1 } })))).toBe('GeoTIFF ground control points without a CRS in its GeoKeys, and no --crs');
  });
});
