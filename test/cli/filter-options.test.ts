import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filterFromOptions } from '../../src/cli/filter-options.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-filter-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('filterFromOptions', () => {
  it('names the --within file in its errors, rather than quoting what it holds', async () => {
    const metres = path.join(dir, 'merc.geojson');
    const polygon = { type: 'Polygon', coordinates: [[[1669792, 5160979], [1702000, 5160979], [1702000, 5200000], [1669792, 5160979]]] };
    writeFileSync(metres, `${JSON.stringify({ type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::3857' } }, features: [{ type: 'Feature', properties: {}, geometry: polygon }] })}\n`);
    await expect(filterFromOptions({ within: metres })).rejects.toMatchObject({
      code: 'BAD_QUERY',
      message: expect.stringMatching(new RegExp(`^invalid --within ${metres.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the area has a crs member \\(urn:ogc:def:crs:EPSG::3857\\): rsclip reads GeoJSON in lon/lat WGS84`)),
    });
    const broken = path.join(dir, 'broken.geojson');
    writeFileSync(broken, '{"type": "Polygon",\n');
    await expect(filterFromOptions({ within: broken })).rejects.toMatchObject({ code: 'BAD_QUERY', message: `invalid --within ${broken}: expected GeoJSON text, e.g. within={"type":"Polygon","coordinates":[[[12,41],[13,41],[13,42],[12,41]]]}` });
    const square = path.join(dir, 'square.geojson');
    writeFileSync(square, JSON.stringify({ type: 'Polygon', coordinates: [[[12, 41], [13, 41], [13, 42], [12, 41]]] }));
    expect(await filterFromOptions({ within: square, filter: ['folder=a'], near: '12.5,41.5' })).toMatchObject({ folder: 'a', within: { kind: 'within' }, near: { kind: 'near', lon: 12.5 } });
  });
});
