/**
 * --crs is the CRS of files that give none: a GeoTIFF's own CRS wins over it, as a world file's
 * `.prj` does, so that --crs for the world files of a mixed folder does not move its GeoTIFFs.
 */
import { describe, expect, it } from 'vitest';
import { crsFromEpsg, georeferenceFromGeoTiff } from '../../src/geo/index.js';

/** GeoTIFF tags of a north-up image: top-left corner (x, y), square pixels of `pixel` metres, the projected CRS `epsg` in the keys (none when undefined). */
function tags(x: number, y: number, pixel: number, epsg?: number) {
  const geoKeys: Record<string, unknown> = epsg === undefined ? { GTRasterTypeGeoKey: 1 } : { GTModelTypeGeoKey: 1, GTRasterTypeGeoKey: 1, ProjectedCSTypeGeoKey: epsg };
  return { modelTiepoint: [0, 0, 0, x, y, 0], modelPixelScale: [pixel, pixel, 0], geoKeys };
}

describe('--crs and a GeoTIFF', () => {
  it('serves a GeoTIFF that gives no CRS and leaves one that gives its own as it is', () => {
    const given = crsFromEpsg(32617);
    expect(georeferenceFromGeoTiff(tags(101985, 2826915, 300, 32618), 791, 718, given)!.crs!.epsg).toBe(32618);
    expect(georeferenceFromGeoTiff(tags(101985, 2826915, 300), 791, 718, given)!.crs!.epsg).toBe(32617);
    expect(georeferenceFromGeoTiff(tags(101985, 2826915, 300), 791, 718)!.crs).toBeNull();
  });
});
