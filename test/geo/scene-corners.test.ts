/** The corners of a scene past the antimeridian have longitudes in [-180, 180), as its footprint and bbox. */
import { describe, expect, it } from 'vitest';
import { imageCorners } from '../../src/geo/footprint.js';
import { crsFromEpsg } from '../../src/geo/index.js';

describe('imageCorners', () => {
  it('gives longitudes in [-180, 180), as footprints have them', () => {
    const corners = imageCorners(crsFromEpsg(4326), [180.2, 0.001, 0, 10, 0, -0.001], 600, 500)!;
    expect(corners.map(([lon]) => Number(lon.toFixed(9)))).toEqual([-179.8, -179.2, -179.2, -179.8]);
    expect(corners.map(([, lat]) => lat)).toEqual([10, 10, 9.5, 9.5]);
  });
});
