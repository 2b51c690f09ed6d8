import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readStac } from '../../src/geo/index.js';

function write(file: string, json: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json, null, 1));
}

function item(id: string, properties: Record<string, unknown>, assets: Record<string, unknown>) {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    collection: 'scenes',
    geometry: { type: 'Polygon', coordinates: [[[10, 40], [11, 40], [11, 41], [10, 41], [10, 40]]] },
    bbox: [10, 40, 11, 41],
    properties,
    assets,
    links: [{ rel: 'parent', href: '../collection.json' }],
  };
}

/** catalog.json -> scenes/collection.json -> three items (relative hrefs), one with band assets. */
function makeCatalog(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'rsclip-stac-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  write(path.join(root, 'catalog.json'), { type: 'Catalog', stac_version: '1.0.0', id: 'root', description: 'test', links: [{ rel: 'self', href: './catalog.json' }, { rel: 'child', href: './scenes/collection.json' }] });
  write(path.join(root, 'scenes/collection.json'), {
    type: 'Collection', stac_version: '1.0.0', id: 'scenes', description: 'test', license: 'CC0-1.0', extent: {},
    links: [{ rel: 'root', href: '../catalog.json' }, { rel: 'item', href: './a/a.json' }, { rel: 'item', href: './b/b.json' }, { rel: 'item', href: './c/c.json' }, { rel: 'item', href: './a/a.json' }],
  });
  write(path.join(root, 'scenes/a/a.json'), item('scene-a', { datetime: '2023-06-01T10:30:00Z', platform: 'sentinel-2a', 'eo:cloud_cover': 12.5 }, {
    visual: { href: './visual.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized', roles: ['visual'] },
    B04: { href: './B04.tif', type: 'image/tiff', roles: ['data'], 'eo:bands': [{ name: 'B04', common_name: 'red' }] },
    B03: { href: './B03.tif', type: 'image/tiff', roles: ['data'], 'eo:bands': [{ name: 'B03', common_name: 'green' }] },
    B02: { href: './B02.tif', type: 'image/tiff', roles: ['data'], 'eo:bands': [{ name: 'B02', common_name: 'blue' }] },
    thumbnail: { href: 'https://example.invalid/thumb.png', type: 'image/png', roles: ['thumbnail'] },
  }));
  write(path.join(root, 'scenes/b/b.json'), item('scene-b', { datetime: null, start_datetime: '2022-01-01T00:00:00Z', end_datetime: '2022-01-31T23:59:59Z' }, {
    image: { href: 'image.tif', type: 'image/tiff', roles: ['data'] },
    metadata: { href: 'meta.xml', type: 'application/xml', roles: ['metadata'] },
  }));
  write(path.join(root, 'scenes/c/c.json'), item('scene-c', { datetime: '2024-02-29T00:00:00Z' }, { visual: { href: `file://${path.join(root, 'scenes/c/c.jpg')}`, type: 'image/jpeg' } }));
  return root;
}

describe('readStac', () => {
  it('follows child and item links once each and reads items with their datetime, properties and local assets', async () => {
    const root = makeCatalog();
    const items = await readStac(path.join(root, 'catalog.json'));
    expect(items.map((i) => i.id)).toEqual(['scene-a', 'scene-b', 'scene-c']);
    const [a, b, c] = items;
    expect(a!.datetime).toBe('2023-06-01T10:30:00Z');
    expect(a!.properties['eo:cloud_cover']).toBe(12.5);
    expect(a!.collection).toBe('scenes');
    expect(a!.geometry?.type).toBe('Polygon');
    expect(a!.bbox).toEqual([10, 40, 11, 41]);
    expect(a!.imagePaths).toEqual([path.join(root, 'scenes/a/visual.tif')]);
    expect(b!.datetime).toBeNull();
    expect([b!.startDatetime, b!.endDatetime]).toEqual(['2022-01-01T00:00:00Z', '2022-01-31T23:59:59Z']);
    expect(b!.imageAssets).toEqual(['image']);
    expect(c!.imagePaths).toEqual([path.join(root, 'scenes/c/c.jpg')]);
    // An item file alone works too.
    expect((await readStac(path.join(root, 'scenes/b/b.json'))).map((i) => i.id)).toEqual(['scene-b']);
  });

  it('picks band assets by common name or key, in the order asked', async () => {
    const root = makeCatalog();
    const [a] = await readStac(path.join(root, 'scenes/a/a.json'), { bands: ['red', 'green', 'B02'] });
    expect(a!.imageAssets).toEqual(['B04', 'B03', 'B02']);
    await expect(readStac(path.join(root, 'scenes/a/a.json'), { bands: ['nir'] })).rejects.toThrow(/has no asset or band named "nir" \(assets: visual, B04, B03, B02, thumbnail\)/);
    await expect(readStac(path.join(root, 'scenes/a/a.json'), { asset: 'thumbnail' })).rejects.toThrow(/asset "thumbnail" of item scene-a in .*a.json is remote \(https:\/\/example.invalid\/thumb.png\); rsclip indexes local STAC catalogs only/);
  });

  it('gives clear errors for remote links, malformed JSON and items without a datetime', async () => {
    const root = makeCatalog();
    write(path.join(root, 'remote.json'), { type: 'Catalog', id: 'r', links: [{ rel: 'child', href: 'https://example.invalid/catalog.json' }] });
    await expect(readStac(path.join(root, 'remote.json'))).rejects.toThrow(/child link in .*remote.json is remote \(https:\/\/example.invalid\/catalog.json\)/);
    write(path.join(root, 'scenes/b/b.json'), '{"type": "Feature", "id": ');
    await expect(readStac(path.join(root, 'catalog.json'))).rejects.toThrow(/STAC file .*b.json is not valid JSON/);
    write(path.join(root, 'scenes/b/b.json'), item('scene-b', {}, { image: { href: 'image.tif', type: 'image/tiff' } }));
    await expect(readStac(path.join(root, 'catalog.json'))).rejects.toThrow(/has neither a datetime nor a start_datetime and end_datetime/);
    await expect(readStac(path.join(root, 'missing.json'))).rejects.toThrow(/cannot read STAC file .*missing.json: file not found/);
    write(path.join(root, 'scenes/b/b.json'), item('scene-b', { datetime: '2022-13-45' }, { image: { href: 'image.tif', type: 'image/tiff' } }));
    await expect(readStac(path.join(root, 'catalog.json'))).rejects.toThrow(/invalid datetime: "2022-13-45"/);
  });

  it('refuses datetimes that are not RFC 3339 with an offset and a real date, and ranges that end before they start', async () => {
    const root = makeCatalog();
    const itemFile = path.join(root, 'scenes/b/b.json');
    const image = { image: { href: 'image.tif', type: 'image/tiff' } };
    for (const datetime of ['1', '2023-02-30T00:00:00Z', '2023-06-01T10:30:00', '2023-06-01', '2023-06-01T10:30:00+0200']) {
      write(itemFile, item('scene-b', { datetime }, image));
      await expect(readStac(itemFile), datetime).rejects.toThrow(`STAC item scene-b in ${itemFile} has an invalid datetime: ${JSON.stringify(datetime)} is not an RFC 3339 date-time`);
    }
    write(itemFile, item('scene-b', { datetime: null, start_datetime: '2023-12-01T00:00:00Z', end_datetime: '2023-01-01T00:00:00Z' }, image));
    await expect(readStac(itemFile)).rejects.toThrow(`STAC item scene-b in ${itemFile} has a start_datetime 2023-12-01T00:00:00Z after its end_datetime 2023-01-01T00:00:00Z`);
    write(itemFile, item('scene-b', { datetime: null, start_datetime: '2023-12-01T00:00:00Z', end_datetime: '2023-12-02T00:00:00+02:00' }, image));
    await expect(readStac(itemFile)).resolves.toHaveLength(1);
    for (const datetime of ['2024-02-29T23:59:59.123456Z', '2023-06-01t10:30:00z', '2023-06-01T12:30:00-03:30']) {
      write(itemFile, item('scene-b', { datetime }, image));
      expect((await readStac(itemFile))[0]!.datetime, datetime).toBe(datetime);
    }
  });
});
