/** Where an image's world file is looked for: the folder listing's answer first, the disk where there is none or it is stale. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findWorldFile } from '../../src/geo/index.js';

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
