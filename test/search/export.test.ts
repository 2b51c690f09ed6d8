/**
 * Exports read back: the items of an index (a georeferenced mosaic cut into tiles, and a plain
 * PNG without a place) as GeoParquet read by DuckDB with the right geometry and embeddings, as
 * GeoJSON passing RFC 7946 checks, and as CSV; a query's hits with rank and score; the CLI.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogFilterSchema, openIndex, type IndexStore, type ItemRecord } from '../../src/store/index.js';
import { exportHits, exportItems, Searcher } from '../../src/search/index.js';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { writeMosaic } from '../fixtures/mosaic.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

let root: string;
let indexDir: string;
let store: IndexStore;
let items: ItemRecord[];
let vectors: Map<number, Float32Array>;
let duck: DuckDBConnection;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-export-'));
  const archive = path.join(root, 'archive');
  mkdirSync(archive);
  writeMosaic(path.join(root, 'mosaic.tif'));
  copyFileSync(path.join(root, 'mosaic.tif'), path.join(archive, 'mosaic.tif'));
  writeFileSync(path.join(archive, 'plain.png'), makePng(5, 64, 48));
  writeFileSync(path.join(root, 'labels.csv'), 'filename,label\nmosaic.tif,farmland\nplain.png,"quoted, label"\n');
  indexDir = path.join(root, 'index');
  await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder(), fields: path.join(root, 'labels.csv') });
  store = await openIndex(indexDir, { readonly: true });
  items = await store.getItems(await store.listItemIds());
  vectors = await store.getVectors(items.map((i) => i.id));
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  duck = await db.connect();
}, 120_000);
afterAll(async () => {
  duck?.closeSync();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

describe('exporting an index', () => {
  it('writes GeoParquet that DuckDB reads back with the footprints and embeddings', async () => {
    const file = path.join(root, 'items.parquet');
    expect(await exportItems({ store, file, format: 'geoparquet' })).toBe(items.length);
    const [kv] = await query(`select decode(value) as v from parquet_kv_metadata('${file}') where decode(key) = 'geo'`);
    expect(JSON.parse(String(kv!.v))).toMatchObject({ version: '1.1.0', primary_column: 'geometry', columns: { geometry: { encoding: 'WKB', geometry_types: ['Polygon'] } } });
    const back = await query(`select id, path, root, x, y, width, height, scale, center_lon, center_lat, gsd, fields, ST_AsText(geometry) as wkt, embedding::FLOAT[16] as embedding from read_parquet('${file}') order by id`);
    expect(back).toHaveLength(items.length);
    for (const [i, row] of back.entries()) {
      const item = items[i]!;
      expect(Number(row.id)).toBe(item.id);
      expect([row.path, row.root, row.x, row.y, row.width, row.height, row.scale]).toEqual([item.file.path, path.join(root, 'archive'), item.window.x, item.window.y, item.window.width, item.window.height, item.window.scale]);
      expect(Array.from(row.embedding as number[])).toEqual(Array.from(vectors.get(item.id)!));
      if (item.place) {
        const ring = (item.place.footprint.type === 'Polygon' ? item.place.footprint.coordinates[0] : [])!;
        const wkt = String(row.wkt).replace(/^POLYGON \(\(|\)\)$/g, '').split(',').map((pt) => pt.trim().split(/\s+/).map(Number));
        expect(wkt).toEqual(ring);
        expect(row.center_lon).toBe(item.place.center[0]);
        expect(row.gsd).toBe(item.place.gsd);
        expect(JSON.parse(String(row.fields))).toEqual({ label: 'farmland' });
      } else {
        expect([row.wkt, row.center_lon, row.gsd]).toEqual([null, null, null]);
        expect(JSON.parse(String(row.fields))).toEqual({ label: 'quoted, label' });
      }
    }
  });

  it('writes GeoJSON that passes RFC 7946 checks, selected by place', async () => {
    const file = path.join(root, 'west.geojson');
    const filter = catalogFilterSchema.parse({ bbox: [14.9, 41.8, 15.05, 42.1] });
    const expected = await store.countItems({ filter });
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(items.length - 1);
    expect(await exportItems({ store, file, format: 'geojson', selection: { filter }, includeEmbedding: true })).toBe(expected);
    const collection = JSON.parse(readFileSync(file, 'utf8'));
    expect(collection.type).toBe('FeatureCollection');
    expect(collection.bbox).toHaveLength(4);
    expect(collection.features).toHaveLength(expected);
    for (const feature of collection.features) {
      const ring = feature.geometry.coordinates[0] as [number, number][];
      let area = 0;
      for (let i = 0; i + 1 < ring.length; i++) area += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
      expect(area).toBeGreaterThan(0);
      expect(ring[0]).toEqual(ring[ring.length - 1]);
      expect(ring.every(([lon, lat]) => lon > 14.9 && lon < 15.4 && lat > 41.8 && lat < 42.1)).toBe(true);
      expect(feature.bbox[0]).toBeLessThanOrEqual(15.05);
      expect(feature.properties.embedding).toHaveLength(16);
      expect(feature.properties).toMatchObject({ path: 'mosaic.tif', root: path.join(root, 'archive'), window: { width: 224, scale: 1 } });
    }
  });

  it('writes CSV that DuckDB reads with quoting intact', async () => {
    const file = path.join(root, 'items.csv');
    await exportItems({ store, file, format: 'csv' });
    const back = await query(`select id, path, root, footprint_wkt, fields from read_csv('${file}', header = true) order by id`);
    expect(back).toHaveLength(items.length);
    expect(back.every((r) => r.root === path.join(root, 'archive'))).toBe(true);
    const plain = back.find((r) => r.path === 'plain.png')!;
    expect(JSON.parse(String(plain.fields))).toEqual({ label: 'quoted, label' });
    expect(plain.footprint_wkt).toBeNull();
    expect(String(back.find((r) => r.path === 'mosaic.tif')!.footprint_wkt)).toMatch(/^POLYGON \(\((15|14\.9\d+) 42\./);
  });

  it('writes the hits of a query in rank order, with rank and score', async () => {
    const encoder = new FakeEncoder();
    const target = items.find((i) => i.key === 's1:336,504')!;
    const page = await new Searcher(encoder, store, { absolutePaths: true }).search({ terms: [{ kind: 'id', id: target.id, weight: 1 }], k: 5 });
    const file = path.join(root, 'hits.parquet');
    expect(await exportHits(store, page, file, 'geoparquet')).toBe(5);
    const back = await query(`select id, rank, score, fields from read_parquet('${file}')`);
    expect(back.map((r) => Number(r.id))).toEqual(page.hits.map((h) => h.id));
    // the queried tile itself is not a hit of its own query
    expect(page.hits.map((h) => h.id)).not.toContain(target.id);
    expect(back.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(back.map((r) => r.score)).toEqual(page.hits.map((h) => h.score));
    expect(JSON.parse(String(back[0]!.fields))).toEqual({ label: 'farmland' });
    // the same columns in CSV, and rank and score as properties in GeoJSON
    const csv = path.join(root, 'hits.csv');
    await exportHits(store, page, csv, 'csv');
    const csvBack = await query(`select id, rank, score, root, fields from read_csv('${csv}', header = true)`);
    expect(csvBack.every((r) => r.root === path.join(root, 'archive'))).toBe(true);
    expect(csvBack.map((r) => [Number(r.id), Number(r.rank)])).toEqual(page.hits.map((h, i) => [h.id, i + 1]));
    expect(Number(csvBack[0]!.score)).toBeCloseTo(page.hits[0]!.score, 6);
    expect(JSON.parse(String(csvBack[0]!.fields))).toEqual({ label: 'farmland' });
    const geojson = path.join(root, 'hits.geojson');
    await exportHits(store, page, geojson, 'geojson');
    expect(JSON.parse(readFileSync(geojson, 'utf8')).features[0].properties).toMatchObject({ rank: 1, score: page.hits[0]!.score, fields: { label: 'farmland' } });
  });

  it('runs from the CLI, refusing an unknown format with the list', async () => {
    const file = path.join(root, 'cli.geojson');
    const result = await runCli(['export', '--index', indexDir, '--format', 'geojson', '-o', file, '--bbox', '14.9,41.8,15.05,42.1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ file, format: 'geojson', items: expect.any(Number) });
    expect(JSON.parse(readFileSync(file, 'utf8')).features.length).toBe(JSON.parse(result.stdout).items);
    const bad = await runCli(['export', '--index', indexDir, '--format', 'shapefile']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown export format "shapefile".*geoparquet, parquet, geojson, csv/);
  });

  it('writes -o /dev/stdout through stdout: appended under >> log, never replacing the file the shell opened', async () => {
    const log = path.join(root, 'job.log');
    writeFileSync(log, 'line 1 written by an earlier job\n');
    const appending = openSync(log, 'a');
    try {
      const result = await runCli(['export', '--index', indexDir, '--format', 'csv', '-o', '/dev/stdout'], { stdio: ['ignore', appending, 'pipe'] });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/^wrote \d+ items to \/dev\/stdout \(csv\)$/m);
    } finally {
      closeSync(appending);
    }
    const lines = readFileSync(log, 'utf8').split('\r\n');
    expect(lines[0]).toBe('line 1 written by an earlier job\nid,path,root,x,y,width,height,scale,center_lon,center_lat,gsd,footprint_wkt,stac_item,stac_collection,fields');
    expect(lines).toHaveLength(items.length + 2);
  });

  it('takes -o - as stdout (each format), its summary on stderr', async () => {
    const csv = await runCli(['export', '--index', indexDir, '--format', 'csv', '-o', '-'], { cwd: root });
    expect(csv.code, csv.stderr).toBe(0);
    expect(existsSync(path.join(root, '-'))).toBe(false);
    expect(csv.stdout.split('\r\n')).toHaveLength(items.length + 2);
    expect(csv.stderr).toBe(`wrote ${items.length} items to /dev/stdout (csv)\n`);
    const geojson = await runCli(['export', '--index', indexDir, '--format', 'geojson', '-o', '-', '--json'], { cwd: root });
    expect(JSON.parse(geojson.stdout).features).toHaveLength(items.length);
    expect(JSON.parse(geojson.stderr)).toMatchObject({ items: items.length });
    const file = path.join(root, 'same.parquet');
    await runCli(['export', '--index', indexDir, '--format', 'geoparquet', '-o', file]);
    const parquet = await new Promise<Buffer>((resolve, reject) => {
      const child = spawnCli(['export', '--index', indexDir, '--format', 'geoparquet', '-o', '-']);
      const chunks: Buffer[] = [];
      child.stdout!.on('data', (d: Buffer) => chunks.push(d));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks)));
    });
    expect(parquet.equals(readFileSync(file))).toBe(true);
  });

  it('refuses a descriptor other than stdout and stderr: stdin is for reading, and Node holds its own above 2 (libuv\'s signal pipe crashed it)', async () => {
    for (const name of ['/dev/fd/7', '/proc/self/fd/5', '/dev/stdin', '/dev/fd/0']) {
      const result = await runCli(['export', '--index', indexDir, '--format', 'csv', '-o', name]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^rsclip: ${name.replaceAll('/', '\\/')} names descriptor \\d: rsclip writes to a descriptor only as stdout or stderr \\(pass - \\(or /dev/stdout\\)`));
    }
  });

  it('ends quietly with status 0 when the reader of its stdout goes away (| head)', async () => {
    const child = spawnCli(['export', '--index', indexDir, '--format', 'geojson', '--embeddings', '-o', '/dev/stdout']);
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/internal error/);
    expect(code).toBe(0);
  });
});
