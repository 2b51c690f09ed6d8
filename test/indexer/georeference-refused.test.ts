/**
 * Georeferences the indexer refuses, with the reason `rsclip errors` lists, rather than indexing
 * the file without a place or with impossible footprints: a geographic GeoTIFF off the Earth, and
 * a scene none of whose windows maps to lon/lat (100 km pixels in UTM). And --crs, the CRS of
 * files that give none, leaves a GeoTIFF's own CRS as it is.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { crsFromEpsg } from '../../src/geo/index.js';
import { openIndex } from '../../src/store/index.js';
import { writeGeoTiff, type GeoTiffFixtureGeo } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from './fake-encoder.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-georef-refused-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let archive: string;
let indexDir: string;
let run = 0;
beforeEach(() => {
  run++;
  archive = path.join(work, `archive-${run}`);
  indexDir = path.join(work, `index-${run}`);
  mkdirSync(archive);
});

function scene(name: string, geo: GeoTiffFixtureGeo): void {
  writeGeoTiff(path.join(archive, name), { width: 600, height: 500, bands: 3, dataType: 'uint8', pixel: (x, y, band) => (x * 3 + y * 5 + band * 70) % 256, geo });
}

async function failures(): Promise<Record<string, string>> {
  const store = await openIndex(indexDir, { readonly: true });
  try {
    return Object.fromEntries((await store.listFiles('error')).map((f) => [f.path, f.error ?? '']));
  } finally {
    await store.close();
  }
}

describe('the indexer', () => {
  it('refuses a geographic GeoTIFF off the Earth and a scene no window of which maps, naming the reason', async () => {
    scene('lat92.tif', { epsg: 4326, geographic: true, origin: [10, 92], pixelSize: [0.05, 0.05] });
    scene('metres_as_degrees.tif', { epsg: 4326, geographic: true, origin: [500000, 4650000], pixelSize: [300, 300] });
    scene('hugepix_utm.tif', { epsg: 32618, origin: [131988.79, 2796910.82], pixelSize: [100000, 100000] });
    scene('fine.tif', { epsg: 32618, origin: [131988.79, 2796910.82], pixelSize: [300, 300] });
    const summary = await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ added: 1, errors: 3 });
    const failed = await failures();
    expect(Object.keys(failed).sort()).toEqual(['hugepix_utm.tif', 'lat92.tif', 'metres_as_degrees.tif']);
    expect(failed['lat92.tif']).toMatch(/^cannot use the georeference of .*lat92\.tif: the GeoTIFF's georeference puts the image's corner at longitude 10, latitude 92 in WGS 84, a geographic CRS: off the Earth \(/);
    expect(failed['metres_as_degrees.tif']).toMatch(/longitude 500000, latitude 4650000 in WGS 84, a geographic CRS: off the Earth/);
    expect(failed['hugepix_utm.tif']).toMatch(/^cannot use the georeference of .*hugepix_utm\.tif: no window of the image maps to longitude\/latitude from WGS 84 \/ UTM zone 18N/);
  });

  it('keeps a GeoTIFF in its own CRS when --crs names another', async () => {
    scene('utm18.tif', { epsg: 32618, origin: [101985, 2826915], pixelSize: [300, 300] });
    expect(await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), crs: crsFromEpsg(32617) })).toMatchObject({ added: 1, errors: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    try {
      const items = await store.getItems(await store.listItemIds());
      expect(items[0]!.file.geo).toMatchObject({ epsg: 32618 });
      // the scene's centre (UTM 18N, not 17N: 6 degrees further west)
      const lons = items.map((i) => i.place!.center[0]);
      expect(Math.min(...lons)).toBeGreaterThan(-79);
    } finally {
      await store.close();
    }
  });
});
