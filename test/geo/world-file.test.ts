/**
 * Where an image's world file is looked for (the folder listing's answer first, the disk where
 * there is none or it is stale), which CRS it takes (its .prj, else --crs), and world files off the Earth.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { findWorldFile, parseCrs, readWorldFileGeoreference } from '../../src/geo/index.js';

const WORLD = '10\n0\n0\n-10\n500005\n4199995\n';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rsclip-world-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('findWorldFile', () => {
  it("looks on the disk without a listing, reads the listed file with one, and trusts a listing's 'none'", async () => {
    const image = path.join(dir, 'a.png');
    writeFileSync(path.join(dir, 'a.wld'), WORLD);
    expect(await findWorldFile(image)).toEqual({ file: path.join(dir, 'a.wld'), text: WORLD });
    expect(await findWorldFile(image, path.join(dir, 'a.wld'))).toEqual({ file: path.join(dir, 'a.wld'), text: WORLD });
    expect(await findWorldFile(image, null)).toBeUndefined();
  });

  it('falls back to the disk when the listed world file is gone', async () => {
    const image = path.join(dir, 'a.png');
    writeFileSync(path.join(dir, 'a.PGW'), WORLD);
    expect(await findWorldFile(image, path.join(dir, 'a.pgw'))).toEqual({ file: path.join(dir, 'a.PGW'), text: WORLD });
  });
});

describe('readWorldFileGeoreference', () => {
  /** UTM zone 33N as `gdalsrsinfo -o wkt_esri EPSG:32633` writes it. */
  const UTM_33N_ESRI =
    'PROJCS["WGS_1984_UTM_Zone_33N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],' +
    'PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",15.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]';

  it('takes the CRS of the .prj beside the image over --crs, which serves world files without one', async () => {
    const image = path.join(dir, 'utm.png');
    writeFileSync(path.join(dir, 'utm.pgw'), WORLD);
    writeFileSync(path.join(dir, 'utm.prj'), UTM_33N_ESRI);
    const withPrj = await readWorldFileGeoreference(image, 600, 600, { crs: parseCrs('EPSG:4326') });
    expect(withPrj!.crs!.name).toBe('WGS_1984_UTM_Zone_33N');
    const other = path.join(dir, 'other.png');
    writeFileSync(path.join(dir, 'other.pgw'), WORLD);
    expect((await readWorldFileGeoreference(other, 600, 600, { crs: parseCrs('EPSG:32633') }))!.crs!.epsg).toBe(32633);
  });

  it('refuses a world file whose corners are off the Earth in its geographic CRS (UTM metres read as degrees)', async () => {
    const image = path.join(dir, 'utm.png');
    writeFileSync(path.join(dir, 'utm.pgw'), WORLD);
    const error = await readWorldFileGeoreference(image, 600, 600, { crs: parseCrs('EPSG:4326') }).catch((e: unknown) => e);
    expect(isRsclipError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/utm\.pgw puts the image's corner at longitude 500000, latitude 4200000 in WGS 84, a geographic CRS: off the Earth/);
    // Degrees on the Earth, longitudes 0..360 included, are taken.
    writeFileSync(path.join(dir, 'utm.pgw'), '0.5\n0\n0\n-0.5\n0.25\n89.75\n');
    expect((await readWorldFileGeoreference(image, 720, 360, { crs: parseCrs('EPSG:4326') }))!.crs!.epsg).toBe(4326);
  });
});
