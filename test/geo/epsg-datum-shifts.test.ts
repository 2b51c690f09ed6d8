/**
 * Datum shifts of EPSG codes whose `epsg-index` `+towgs84` carries Coordinate Frame or
 * Molodensky-Badekas parameters (or rotations in microradians): rsclip uses the Position Vector
 * transformation that means the same (src/geo/epsg-datum-shift-fixes.ts), so places agree with
 * gdaltransform where epsg-index's put them 56-305 m away. Codes epsg-index writes with no shift
 * where PROJ has one Helmert transformation (NTF (Paris), 53 m) get it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { epsgDatumShiftFixes, findProjDb, formatTowgs84, positionVectorOf, renderFixesModule } from '../../scripts/epsg-datum-shift-source.js';
import { EPSG_INDEX_DIR } from '../../src/geo/crs.js';
import { crsFromEpsg, crsFromGeoKeys, lonLatTransform } from '../../src/geo/index.js';
import { describeGdal, gdaltransform } from '../fixtures/gdal.js';

const ARC_SECOND = Math.PI / (180 * 3600);

function towgs84Of(definition: string): number[] {
  return /\+towgs84=(\S+)/.exec(definition)![1]!.split(',').map(Number);
}

describe('Position Vector parameters of EPSG transformations', () => {
  const helmert = { tx: 0, ty: 0, tz: 0, rx: null, ry: null, rz: null, ds: null, px: null, py: null, pz: null, translationUnit: 1, rotationUnit: ARC_SECOND, scaleUnit: 1e-6, pivotUnit: 1 };

  it('turns the rotations of a Coordinate Frame transformation (RT90 to WGS 84, EPSG:1896)', () => {
    const row = { ...helmert, code: 1896, method: 'Coordinate Frame rotation (geog2D domain)', tx: 414.1, ty: 41.3, tz: 603.1, rx: 0.855, ry: -2.141, rz: 7.023, ds: 0 };
    expect(formatTowgs84(positionVectorOf(row))).toBe('414.1,41.3,603.1,-0.855,2.141,-7.023,0');
  });

  it('reads microradians as arc-seconds (Amersfoort to WGS 84 (4), EPSG:4833)', () => {
    const row = { ...helmert, code: 4833, method: 'Coordinate Frame rotation (geog2D domain)', tx: 565.4171, ty: 50.3319, tz: 465.5524, rx: 1.9342, ry: -1.6677, rz: 9.1019, ds: 4.0725, rotationUnit: 1e-6 };
    const [, , , rx, ry, rz, ds] = positionVectorOf(row);
    expect(rx).toBeCloseTo(-0.398957, 6);
    expect(ry).toBeCloseTo(0.343988, 6);
    expect(rz).toBeCloseTo(-1.877402, 6);
    expect(ds).toBe(4.0725);
  });

  it('moves a Molodensky-Badekas pivot into the translations (LUREF: EPSG:5484 equals EPSG:5486 within a millimetre)', () => {
    const badekas = { ...helmert, code: 5484, method: 'Molodensky-Badekas (CF geog2D domain)', tx: -265.8867, ty: 76.9851, tz: 20.2667, rx: 0.33746, ry: 3.09264, rz: -2.53861, ds: 0.4598, px: 4103620.3943, py: 440486.4235, pz: 4846923.4558 };
    const [tx, ty, tz, ...rest] = positionVectorOf(badekas);
    // EPSG:5486, the same transformation as Coordinate Frame parameters about the earth's centre.
    expect(Math.hypot(tx - -189.6806, ty - 18.3463, tz - -42.7695)).toBeLessThan(0.002);
    expect(rest).toEqual([-0.33746, -3.09264, 2.53861, 0.4598]);
  });
});

describe('EPSG definitions with a corrected datum shift', () => {
  it('replaces epsg-index +towgs84 and WKT TOWGS84 by the Position Vector parameters', () => {
    const raw = JSON.parse(readFileSync(path.join(EPSG_INDEX_DIR, '3021.json'), 'utf8')) as { proj4: string };
    expect(towgs84Of(raw.proj4)).toEqual([414.1, 41.3, 603.1, 0.855, -2.141, 7.023, 0]);
    const crs = crsFromEpsg(3021);
    expect(towgs84Of(crs.definition)).toEqual([414.1, 41.3, 603.1, -0.855, 2.141, -7.023, 0]);
    expect(crs.wkt).toContain('TOWGS84[414.1,41.3,603.1,-0.855,2.141,-7.023,0]');
    expect(crs.definition.replace(/\+towgs84=\S+/, '')).toBe(raw.proj4.replace(/\+towgs84=\S+/, ''));
  });

  it('adds the shift epsg-index leaves out: NTF (Paris) / Lambert zone II takes NTF to WGS 84 (1), as GDAL does', () => {
    const raw = JSON.parse(readFileSync(path.join(EPSG_INDEX_DIR, '27572.json'), 'utf8')) as { proj4: string };
    expect(raw.proj4).not.toMatch(/\+towgs84=/);
    const crs = crsFromEpsg(27572);
    expect(towgs84Of(crs.definition)).toEqual([-168, -60, 320, 0, 0, 0, 0]);
    // `gdaltransform -s_srs EPSG:27572 -t_srs EPSG:4326` (GDAL 3.6, PROJ 9.1.1); without the shift rsclip was 53 m off.
    const gdal = [
      [[600000, 2430000], [2.33650540352806, 48.8683214186735]],
      [[606000, 2424000], [2.418160311245, 48.8143686584192]],
    ] as const;
    const transform = lonLatTransform(crs);
    for (const [[x, y], [lon, lat]] of gdal) {
      const [ourLon, ourLat] = transform.toLonLat(x, y)!;
      expect(Math.abs(ourLon - lon)).toBeLessThan(1e-6);
      expect(Math.abs(ourLat - lat)).toBeLessThan(1e-6);
    }
  });

  it('leaves a code whose shift epsg-index writes right as it is (ETRS89 / UTM 32N; QND95 / Qatar National Grid, a Position Vector transformation)', () => {
    for (const code of [25832, 2932]) {
      const raw = JSON.parse(readFileSync(path.join(EPSG_INDEX_DIR, `${code}.json`), 'utf8')) as { proj4: string };
      expect(crsFromEpsg(code).definition).toBe(raw.proj4);
    }
  });

  const projDb = findProjDb();
  if (!projDb) console.warn("[rsclip tests] skipping the comparison with PROJ's database: no proj.db in PROJ's folders (apt-get install proj-data)");
  it.skipIf(!projDb)("are those PROJ's database gives (scripts/epsg-datum-shifts.ts --check)", () => {
    const { fixes, projVersion, epsgVersion } = epsgDatumShiftFixes(projDb!);
    const committed = readFileSync(path.resolve(import.meta.dirname, '../../src/geo/epsg-datum-shift-fixes.ts'), 'utf8');
    const madeFrom = /from PROJ (\S+)'s database \(EPSG (\S+)\)/.exec(committed)!;
    if (madeFrom[1] !== projVersion || madeFrom[2] !== epsgVersion) {
      // Another PROJ release: its registry may differ; the codes named in the README must still be fixed alike.
      for (const code of [28992, 31370, 2039, 2169, 3021, 27572]) expect(fixes.get(code)).toBeDefined();
      return;
    }
    expect(renderFixesModule(fixes, { projVersion, epsgVersion })).toBe(committed);
  });
});

describeGdal('EPSG datum shifts agree with gdaltransform', () => {
  // National grids whose epsg-index shift put places 56-305 m from GDAL's, and NTF (Paris) (in
  // metres and in grads), NGO 1948 (Oslo) and Makassar (Jakarta), which it wrote without one (33-327 m).
  const codes = [28992, 31370, 2039, 2169, 3021, 2326, 2393, 27572, 27574, 4807, 27391, 4804];
  for (const code of codes) {
    it(`EPSG:${code}`, () => {
      const entry = JSON.parse(readFileSync(path.join(EPSG_INDEX_DIR, `${code}.json`), 'utf8')) as { bbox: [number, number, number, number] };
      const [north, west, south, east] = entry.bbox;
      const points: [number, number][] = [
        [(west + east) / 2, (north + south) / 2],
        [west + (east - west) / 4, south + (north - south) / 4],
        [east - (east - west) / 4, north - (north - south) / 4],
      ];
      const projected = gdaltransform(points, { sourceSrs: 'EPSG:4326', targetSrs: `EPSG:${code}` });
      const transform = lonLatTransform(crsFromEpsg(code));
      projected.forEach((xy, i) => {
        const ours = transform.toLonLat(xy![0], xy![1])!;
        const [lon, lat] = points[i]!;
        const metres = Math.hypot((ours[0] - lon) * Math.cos((lat * Math.PI) / 180), ours[1] - lat) * 111_320;
        expect(metres).toBeLessThan(0.1);
      });
    });
  }

  // Transverse Mercator projections written as user-defined GeoKeys on an EPSG geographic CRS:
  // the converter copies RT90's Coordinate Frame shift as it is, and writes Hong Kong 1980 none
  const userDefined = [
    { datum: 'RT90', geographic: 4124, as: 3021, origin: [0, 15.8082777777778], falseXY: [1_500_000, 0], points: [[1_500_000, 6_600_000], [1_450_000, 6_300_000]] },
    { datum: 'Hong Kong 1980', geographic: 4611, as: 2326, origin: [22.3121333333333, 114.178555555556], falseXY: [836694.05, 819069.8], points: [[836_000, 819_000], [830_000, 825_000]] },
  ] as const;
  for (const { datum, geographic, as, origin, falseXY, points } of userDefined) {
    it(`a user-defined projection on ${datum} (GeoKeys) shifts its datum as EPSG:${as} does`, () => {
      const keys = {
        GTModelTypeGeoKey: 1, GeographicTypeGeoKey: geographic, ProjectedCSTypeGeoKey: 32767, ProjectionGeoKey: 32767, ProjCoordTransGeoKey: 1, ProjLinearUnitsGeoKey: 9001,
        ProjNatOriginLatGeoKey: origin[0], ProjNatOriginLongGeoKey: origin[1], ProjScaleAtNatOriginGeoKey: 1, ProjFalseEastingGeoKey: falseXY[0], ProjFalseNorthingGeoKey: falseXY[1],
      };
      const gdal = gdaltransform(points.map(([x, y]) => [x, y]), { sourceSrs: `EPSG:${as}`, targetSrs: 'EPSG:4326' });
      const transform = lonLatTransform(crsFromGeoKeys(keys)!);
      points.forEach(([x, y], i) => {
        const [lon, lat] = transform.toLonLat(x, y)!;
        expect(Math.abs(lon - gdal[i]![0])).toBeLessThan(1e-6);
        expect(Math.abs(lat - gdal[i]![1])).toBeLessThan(1e-6);
      });
    });
  }
});
