/**
 * Datum grids (`+nadgrids=`): found in PROJ's folders (PROJ_DATA first) and applied by proj4js,
 * or, when missing, the CRS refused at once with the grid's name and where it was looked for
 * (proj4js would otherwise map no point of it, silently). A grid the test writes (NTv2, a constant
 * shift) shows the loading; with Debian's proj-data and GDAL installed, DHDN / 3-degree
 * Gauss-Krüger zone 3 (EPSG:31467, grid BETA2007.gsb) agrees with gdaltransform.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { crsFromEpsg, crsFromProj4, lonLatTransform } from '../../src/geo/crs.js';
import { gridFolders } from '../../src/geo/datum-grids.js';
import { describeGdal, gdaltransform } from '../fixtures/gdal.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-datum-grids-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const savedProjData = process.env.PROJ_DATA;
afterEach(() => {
  if (savedProjData === undefined) delete process.env.PROJ_DATA;
  else process.env.PROJ_DATA = savedProjData;
});

/** An NTv2 grid (little-endian) over 10 W - 10 E, 40 - 60 N, every node shifting by `latSeconds` north and `lonWestSeconds` west. */
function ntv2Grid(latSeconds: number, lonWestSeconds: number): Buffer {
  const record = (key: string, value: number | string, kind: 'int' | 'double' | 'text') => {
    const bytes = Buffer.alloc(16);
    bytes.write(key.padEnd(8), 0, 'latin1');
    if (kind === 'int') bytes.writeInt32LE(value as number, 8);
    else if (kind === 'double') bytes.writeDoubleLE(value as number, 8);
    else bytes.write(String(value).padEnd(8), 8, 'latin1');
    return bytes;
  };
  const step = 5 * 3600;
  const [south, north, east, west] = [40 * 3600, 60 * 3600, -10 * 3600, 10 * 3600];
  const nodes = ((north - south) / step + 1) * ((west - east) / step + 1);
  const values = Buffer.alloc(nodes * 16);
  for (let i = 0; i < nodes; i++) {
    values.writeFloatLE(latSeconds, i * 16);
    values.writeFloatLE(lonWestSeconds, i * 16 + 4);
  }
  return Buffer.concat([
    record('NUM_OREC', 11, 'int'), record('NUM_SREC', 11, 'int'), record('NUM_FILE', 1, 'int'), record('GS_TYPE', 'SECONDS', 'text'),
    record('VERSION', 'NTv2.0', 'text'), record('SYSTEM_F', 'TEST', 'text'), record('SYSTEM_T', 'WGS84', 'text'),
    record('MAJOR_F', 6378206.4, 'double'), record('MINOR_F', 6356583.8, 'double'), record('MAJOR_T', 6378137, 'double'), record('MINOR_T', 6356752.314, 'double'),
    record('SUB_NAME', 'ALL', 'text'), record('PARENT', 'NONE', 'text'), record('CREATED', '20261206', 'text'), record('UPDATED', '20261206', 'text'),
    record('S_LAT', south, 'double'), record('N_LAT', north, 'double'), record('E_LONG', east, 'double'), record('W_LONG', west, 'double'),
    record('LAT_INC', step, 'double'), record('LONG_INC', step, 'double'), record('GS_COUNT', nodes, 'int'),
    values,
    record('END', 0, 'double'),
  ]);
}

describe('datum grids', () => {
  it('looks for grids in PROJ_DATA and PROJ_LIB first, then in PROJ\'s user and system folders', () => {
    expect(gridFolders({ PROJ_DATA: `/a${path.delimiter}/b`, PROJ_LIB: '/c', XDG_DATA_HOME: '/x' })).toEqual(['/a', '/b', '/c', '/x/proj', '/usr/local/share/proj', '/usr/share/proj']);
  });

  it('applies a grid found in PROJ_DATA', () => {
    const grid = 'rsclip-test-shift.gsb';
    writeFileSync(path.join(work, grid), ntv2Grid(2, 3));
    process.env.PROJ_DATA = work;
    const shifted = lonLatTransform(crsFromProj4(`+proj=longlat +ellps=clrk66 +nadgrids=${grid} +no_defs`)).toLonLat(5, 50)!;
    const unshifted = lonLatTransform(crsFromProj4('+proj=longlat +ellps=clrk66 +nadgrids=@null +no_defs')).toLonLat(5, 50)!;
    // NTv2 counts longitude shifts positive west
    expect(shifted[0] - unshifted[0]).toBeCloseTo(-3 / 3600, 9);
    expect(shifted[1] - unshifted[1]).toBeCloseTo(2 / 3600, 9);
  });

  it('refuses a CRS whose grid is nowhere, naming the grid and the folders, and takes an optional grid list with a fallback', () => {
    process.env.PROJ_DATA = path.join(work, 'empty');
    expect(() => crsFromProj4('+proj=longlat +ellps=clrk66 +nadgrids=rsclip-test-nowhere.gsb +no_defs')).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringContaining(`shifts its datum with the grid rsclip-test-nowhere.gsb, which was not found as an NTv2 file (looked in ${path.join(work, 'empty')}, `),
        hint: expect.stringContaining('PROJ_DATA'),
      }),
    );
    expect(crsFromProj4('+proj=longlat +ellps=clrk66 +nadgrids=@rsclip-test-nowhere.gsb,@null +no_defs').geographic).toBe(true);
  });
});

const beta2007 = gridFolders().map((dir) => path.join(dir, 'BETA2007.gsb')).find((file) => existsSync(file));
describeGdal('datum grids against GDAL', () => {
  if (!beta2007) console.warn('[rsclip tests] skipping "EPSG:31467 with its grid": BETA2007.gsb is not installed (apt-get install proj-data)');
  it.skipIf(!beta2007)('EPSG:31467 (DHDN, grid BETA2007.gsb) maps points as gdaltransform does', () => {
    const points: [number, number][] = [[3500000, 5500000], [3503000, 5497500], [3520000, 5300000]];
    const gdal = gdaltransform(points, { sourceSrs: 'EPSG:31467', targetSrs: 'EPSG:4326' });
    const ours = points.map(([x, y]) => lonLatTransform(crsFromEpsg(31467)).toLonLat(x, y));
    ours.forEach((p, i) => {
      expect(Math.abs(p![0] - gdal[i]![0])).toBeLessThan(1e-8);
      expect(Math.abs(p![1] - gdal[i]![1])).toBeLessThan(1e-8);
    });
  });
});
