/**
 * A small local STAC catalog made here (a collection of three items: two PNGs without a
 * georeference of their own, one tiled GeoTIFF) indexes with each item's datetime (or range),
 * properties and geometry; --since / --until and the properties filter it; hits link back to
 * their STAC item. Once through the library, once through `rsclip index --stac` and search.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stacFiles } from '../../src/indexer/index.js';
import { catalogFilterSchema, openIndex } from '../../src/store/index.js';
import type { SearchPage } from '../../src/search/index.js';
import { runCli } from '../fixtures/cli.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { FakeEncoder } from './fake-encoder.js';

let root: string;
let catalog: string;

function write(file: string, json: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(json, null, 1));
}

const square = (lon: number, lat: number, d: number) => ({ type: 'Polygon', coordinates: [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]] });

function item(id: string, properties: Record<string, unknown>, geometry: ReturnType<typeof square>, href: string) {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    collection: 'scenes',
    geometry,
    bbox: [geometry.coordinates[0]![0]![0], geometry.coordinates[0]![0]![1], geometry.coordinates[0]![2]![0], geometry.coordinates[0]![2]![1]],
    properties,
    assets: { visual: { href, type: 'image/png', roles: ['visual'] }, thumbnail: { href: 'https://example.invalid/t.png', type: 'image/png', roles: ['thumbnail'] } },
    links: [],
  };
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-stac-index-'));
  catalog = path.join(root, 'catalog.json');
  write(catalog, { type: 'Catalog', stac_version: '1.0.0', id: 'root', description: 'test', links: [{ rel: 'child', href: './scenes/collection.json' }] });
  write(path.join(root, 'scenes/collection.json'), {
    type: 'Collection', stac_version: '1.0.0', id: 'scenes', description: 'test', license: 'CC0-1.0', extent: {},
    links: ['a', 'b', 'c'].map((n) => ({ rel: 'item', href: `./${n}/${n}.json` })),
  });
  write(path.join(root, 'scenes/a/a.json'), item('s2-a', { datetime: '2023-06-01T10:30:00Z', platform: 'sentinel-2a', 'eo:cloud_cover': 12.5 }, square(12, 41, 0.1), './visual.png'));
  write(path.join(root, 'scenes/b/b.json'), item('s2-b', { datetime: null, start_datetime: '2022-01-01T00:00:00Z', end_datetime: '2022-01-31T23:59:59Z', platform: 'sentinel-2b', 'eo:cloud_cover': 40 }, square(20, -10, 0.1), './visual.png'));
  write(path.join(root, 'scenes/c/c.json'), item('s2-c', { datetime: '2024-02-29T00:00:00Z', platform: 'sentinel-2a', 'eo:cloud_cover': 3 }, square(15, 45, 0.1), './visual.tif'));
  writeFileSync(path.join(root, 'scenes/a/visual.png'), makePng(1, 96, 80));
  writeFileSync(path.join(root, 'scenes/b/visual.png'), makePng(2, 96, 80));
  writeGeoTiff(path.join(root, 'scenes/c/visual.tif'), {
    width: 600, height: 600, bands: 3, dataType: 'uint8', tile: 256,
    geo: { epsg: 32633, origin: [500_000, 4_990_000], pixelSize: [10, 10] },
    pixel: (x, y, b) => (x * 3 + y * 7 + b * 50 + ((x * y) % 13)) % 256,
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a local STAC catalog', () => {
  it('indexes its visual assets with datetime, properties and geometry as facts to filter on', async () => {
    const files = await stacFiles(catalog);
    expect(files.root).toBe(root);
    expect(files.files.map((f) => f.path)).toEqual(['scenes/a/visual.png', 'scenes/b/visual.png', 'scenes/c/visual.tif']);
    const indexDir = path.join(root, 'index-lib');
    const summary = await indexInto({ roots: [], files, index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ scanned: 3, added: 3, errors: 0 });
    const store = await openIndex(indexDir, { readonly: true });
    const all = await store.getItems(await store.listItemIds());
    const stacOf = (ids: number[]) => [...new Set(all.filter((i) => ids.includes(i.id)).map((i) => i.file.stac!.item))].sort();
    const ids = async (json: Record<string, unknown>) => store.listItemIds({ filter: catalogFilterSchema.parse(json) });
    expect(stacOf(await ids({ since: '2023-01-01' }))).toEqual(['s2-a', 's2-c']);
    expect(stacOf(await ids({ until: '2022-12-31' }))).toEqual(['s2-b']);
    expect(stacOf(await ids({ since: '2022-01-15', until: '2022-01-20' }))).toEqual(['s2-b']);
    // a date alone given to until takes in the whole day: s2-a is at 2023-06-01T10:30Z
    expect(stacOf(await ids({ since: '2023-06-01', until: '2023-06-01' }))).toEqual(['s2-a']);
    expect(stacOf(await ids({ fields: { 'eo:cloud_cover': { max: 20 }, platform: 'sentinel-2a' } }))).toEqual(['s2-a', 's2-c']);
    // an image without a georeference of its own takes its item's geometry; the GeoTIFF keeps its own
    expect(stacOf(await ids({ bbox: [12.02, 41.02, 12.03, 41.03] }))).toEqual(['s2-a']);
    const a = all.find((i) => i.file.stac!.item === 's2-a')!;
    expect(a.place!.footprint).toEqual(square(12, 41, 0.1));
    expect(a.file.stac).toEqual({ item: 's2-a', collection: 'scenes', start: '2023-06-01T10:30:00.000Z', end: '2023-06-01T10:30:00.000Z' });
    expect((await store.getFields([a.id])).get(a.id)).toMatchObject({ platform: 'sentinel-2a', 'eo:cloud_cover': 12.5, datetime: '2023-06-01T10:30:00Z' });
    const c = all.filter((i) => i.file.stac!.item === 's2-c');
    expect(c.length).toBeGreaterThan(1);
    expect(c[0]!.place!.center[0]).toBeGreaterThan(15);
    await store.close();
  });

  it('fails the file of an item whose asset does not exist, with the reason, and indexes the others', async () => {
    const dir = path.join(root, 'missing-asset');
    const items = path.join(dir, 'items.json');
    write(items, { type: 'FeatureCollection', features: [item('present', { datetime: '2023-01-01T00:00:00Z' }, square(1, 1, 0.1), './present.png'), item('absent', { datetime: '2023-01-01T00:00:00Z' }, square(2, 2, 0.1), './absent.png')] });
    writeFileSync(path.join(dir, 'present.png'), makePng(5, 96, 80));
    const indexDir = path.join(dir, 'index');
    const summary = await indexInto({ roots: [], files: await stacFiles(items), index: indexDir, model: new FakeEncoder() });
    expect(summary).toMatchObject({ scanned: 2, added: 1, errors: 1 });
    const store = await openIndex(indexDir, { readonly: true });
    expect((await store.listFiles('error')).map((f) => [f.path, f.error])).toEqual([['absent.png', 'file not found: STAC item absent names it as its asset']]);
    await store.close();
    // still missing at the next run: still failed, not removed
    await indexInto({ roots: [], files: await stacFiles(items), index: indexDir, model: new FakeEncoder() });
    const again = await openIndex(indexDir, { readonly: true });
    expect((await again.listFiles('error')).map((f) => f.path)).toEqual(['absent.png']);
    await again.close();
  });

  it('indexes with `rsclip index --stac` and filters searches with --since/--until, hits naming their item', async () => {
    const modelDir = await tinyModelDir();
    const indexDir = path.join(root, 'index-cli');
    const indexed = await runCli(['index', '--stac', catalog, '--index', indexDir, '--model', modelDir, '--threads', '1', '--json']);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(JSON.parse(indexed.stdout)).toMatchObject({ added: 3, errors: 0 });
    const search = await runCli(['search', 'a field', '--index', indexDir, '--threads', '1', '--since', '2024-01-01', '-k', '50', '--json']);
    expect(search.code, search.stderr).toBe(0);
    const page = JSON.parse(search.stdout) as SearchPage;
    expect(page.hits.length).toBeGreaterThan(0);
    expect(new Set(page.hits.map((h) => h.stac?.item))).toEqual(new Set(['s2-c']));
    const until = await runCli(['search', 'a field', '--index', indexDir, '--threads', '1', '--until', '2023-01-01', '--json']);
    expect((JSON.parse(until.stdout) as SearchPage).hits.map((h) => h.stac)).toEqual([{ item: 's2-b', collection: 'scenes' }]);
    // the text lines name the item too
    const text = await runCli(['search', 'a field', '--index', indexDir, '--threads', '1', '--until', '2023-01-01']);
    expect(text.stdout.trim()).toMatch(/\tstac:scenes\/s2-b\t-$/);
    const both = await runCli(['index', root, '--stac', catalog, '--index', indexDir, '--model', modelDir]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/give archive folders or --stac, not both/);
  });
});
