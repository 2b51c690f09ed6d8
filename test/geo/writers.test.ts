/**
 * The writers read back by an independent reader (DuckDB, which understands GeoParquet's `geo`
 * metadata and WKB), and the GeoJSON checked against RFC 7946's rules.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crsFromEpsg, featureCollection, placeOfWindow, polygonsOf, writeRows, type AreaGeometry, type ExportRow, type Georeference } from '../../src/geo/index.js';
import { seededRandom } from './random-footprints.js';

const DIM = 16;
const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-writers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scene(epsg: number, x0: number, y0: number, pixel: number): Georeference {
  return { crs: crsFromEpsg(epsg), geoTransform: [x0, pixel, 0, y0, 0, -pixel], width: 4096, height: 4096, source: 'geotiff' };
}

/** 300 rows: tiles of a UTM scene, of a scene across the antimeridian, of one around the pole, and items without a place. */
function makeRows(): ExportRow[] {
  const rand = seededRandom(5);
  const scenes = [scene(32633, 400_000, 5_000_000, 10), scene(32660, 600_000, 6_000_000, 50), scene(3413, -100_000, 100_000, 50)];
  const rows: ExportRow[] = [];
  for (let id = 1; id <= 300; id++) {
    const window = { x: 224 * (id % 18), y: 224 * Math.floor(id / 18) % 4000, width: 224, height: 224, scale: 1 };
    const embedding = new Float32Array(DIM).map(() => rand() * 2 - 1);
    const geo = id % 10 === 0 ? null : scenes[id % 3]!;
    const place = geo ? placeOfWindow(geo, id % 7 === 0 ? { x: 0, y: 0, width: 4096, height: 4096 } : window) : null;
    rows.push({
      id,
      path: `scenes/s,"${id % 3}".tif`,
      window,
      footprint: place?.footprint ?? null,
      center: place?.center ?? null,
      gsd: place?.gsd ?? null,
      fields: { label: `class ${id % 4}`, cloud: id / 10, ...(id % 2 ? { note: 'odd' } : {}) },
      embedding: id % 25 === 0 ? null : embedding,
    });
  }
  return rows;
}

const rows = makeRows();
let duck: DuckDBConnection;

beforeAll(async () => {
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  duck = await db.connect();
});
afterAll(() => duck?.closeSync());

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

/** Parses WKT (as DuckDB prints it) back into polygons. */
function parseWkt(wkt: string): number[][][][] {
  const body = wkt.replace(/^(MULTI)?POLYGON\s*/, '');
  const polygons = wkt.startsWith('MULTI') ? body.slice(1, -1).split(/\)\)\s*,\s*\(\(/) : [body.slice(1, -1)];
  return polygons.map((p) => p.replace(/^\(+|\)+$/g, '').split(/\)\s*,\s*\(/).map((ring) => ring.split(',').map((pt) => pt.trim().split(/\s+/).map(Number))));
}

function coordinates(g: AreaGeometry): number[][][][] {
  return polygonsOf(g) as number[][][][];
}

describe('GeoParquet', () => {
  const file = path.join(dir, 'items.parquet');
  beforeAll(async () => {
    // Small row groups so that several are written.
    expect(await writeRows(file, 'geoparquet', rows, { dimension: DIM, fieldColumns: [{ name: 'label', type: 'string' }], rowGroupSize: 64 })).toBe(300);
  });

  it('carries valid GeoParquet 1.1 metadata that DuckDB understands', async () => {
    const [kv] = await query(`select decode(value) as v from parquet_kv_metadata('${file}') where decode(key) = 'geo'`);
    const geo = JSON.parse(String(kv!.v));
    expect(geo.version).toBe('1.1.0');
    expect(geo.primary_column).toBe('geometry');
    expect(geo.columns.geometry.encoding).toBe('WKB');
    expect(geo.columns.geometry.geometry_types).toEqual(['MultiPolygon', 'Polygon']);
    const [xmin, ymin, xmax, ymax] = geo.columns.geometry.bbox;
    const all = rows.flatMap((r) => (r.footprint ? coordinates(r.footprint).flat(2) : []));
    expect([xmin, ymin, xmax, ymax]).toEqual([Math.min(...all.map((p) => p[0]!)), Math.min(...all.map((p) => p[1]!)), Math.max(...all.map((p) => p[0]!)), Math.max(...all.map((p) => p[1]!))]);
    expect(geo.columns.geometry.covering).toEqual({ bbox: { xmin: ['bbox', 'xmin'], ymin: ['bbox', 'ymin'], xmax: ['bbox', 'xmax'], ymax: ['bbox', 'ymax'] } });
    const [t] = await query(`select typeof(geometry) as t from read_parquet('${file}') limit 1`);
    expect(t!.t).toBe("GEOMETRY('OGC:CRS84')");
    // The covering column holds each row's bounds.
    const boxes = await query(`select id, bbox.xmin as xmin, bbox.ymax as ymax from read_parquet('${file}') order by id`);
    boxes.forEach((b, i) => {
      const r = rows[i]!;
      if (!r.footprint) return expect(b.xmin).toBeNull();
      const pts = coordinates(r.footprint).flatMap((p) => p[0]!);
      expect(b.xmin).toBe(Math.min(...pts.map((p) => p[0]!)));
      expect(b.ymax).toBe(Math.max(...pts.map((p) => p[1]!)));
    });
  });

  it('reads back ids, windows, fields, geometry and embeddings exactly', async () => {
    const back = await query(`select id, path, x, y, width, height, scale, center_lon, center_lat, gsd, label, fields, ST_AsText(geometry) as wkt, embedding from read_parquet('${file}') order by id`);
    expect(back).toHaveLength(300);
    back.forEach((b, i) => {
      const r = rows[i]!;
      expect(Number(b.id)).toBe(r.id);
      expect(b.path).toBe(r.path);
      expect([b.x, b.y, b.width, b.height, b.scale]).toEqual([r.window.x, r.window.y, r.window.width, r.window.height, r.window.scale]);
      expect(b.center_lon).toBe(r.center?.[0] ?? null);
      expect(b.gsd).toBe(r.gsd ?? null);
      expect(b.label).toBe(r.fields!.label);
      const rest = { ...r.fields };
      delete rest.label;
      expect(JSON.parse(String(b.fields))).toEqual(rest);
      if (r.footprint) expect(parseWkt(String(b.wkt))).toEqual(coordinates(r.footprint));
      else expect(b.wkt).toBeNull();
      if (r.embedding) expect(b.embedding).toEqual(Array.from(r.embedding));
      else expect(b.embedding).toBeNull();
    });
    const [fixed] = await query(`select embedding::FLOAT[${DIM}] as e from read_parquet('${file}') where id = 1`);
    expect(Array.from(fixed!.e as number[])).toEqual(Array.from(rows[0]!.embedding!));
  });
});

describe('plain Parquet and CSV', () => {
  it('plain Parquet has the footprint as WKT and no geo metadata', async () => {
    const file = path.join(dir, 'plain.parquet');
    await writeRows(file, 'parquet', rows, { dimension: DIM });
    const kv = await query(`select decode(key) as k from parquet_kv_metadata('${file}')`);
    expect(kv.map((k) => k.k)).not.toContain('geo');
    const back = await query(`select id, footprint_wkt, embedding from read_parquet('${file}') order by id`);
    back.forEach((b, i) => {
      const r = rows[i]!;
      if (r.footprint) expect(parseWkt(String(b.footprint_wkt))).toEqual(coordinates(r.footprint));
      if (r.embedding) expect(b.embedding).toEqual(Array.from(r.embedding));
    });
  });

  it('CSV reads back in DuckDB with quoting intact', async () => {
    const file = path.join(dir, 'items.csv');
    await writeRows(file, 'csv', rows, { includeEmbedding: true });
    const back = await query(`select * from read_csv('${file}', header = true, all_varchar = true) order by cast(id as integer)`);
    expect(back).toHaveLength(300);
    back.forEach((b, i) => {
      const r = rows[i]!;
      expect(b.path).toBe(r.path);
      expect(Number(b.width)).toBe(224);
      if (r.center) expect(Number(b.center_lat)).toBe(r.center[1]);
      if (r.footprint) expect(parseWkt(String(b.footprint_wkt))).toEqual(coordinates(r.footprint));
      expect(JSON.parse(String(b.fields))).toEqual(r.fields);
      if (r.embedding) expect(JSON.parse(String(b.embedding))).toEqual(Array.from(r.embedding));
    });
  });

  it('CSV writes a text cell that a spreadsheet would run as a formula with a leading quote, and negative numbers as they are', async () => {
    const file = path.join(dir, 'formulas.csv');
    const names = ['=HYPERLINK("http://x","y").jpg', '+1.jpg', '-2.jpg', '@SUM(A1).jpg', '\tx.jpg', '\ry.jpg', 'plain=.jpg'];
    const row = rows.find((r) => r.center && r.center[0] < 0 && r.embedding)!;
    await writeRows(file, 'csv', names.map((name, i) => ({ ...row, id: i + 1, path: name, stac: { item: '-item', collection: '=c' } })));
    const back = await query(`select path, stac_item, stac_collection, center_lon from read_csv('${file}', header = true, all_varchar = true) order by cast(id as integer)`);
    expect(back.map((b) => b.path)).toEqual([...names.slice(0, 6).map((n) => `'${n}`), 'plain=.jpg']);
    expect(back.every((b) => b.stac_item === "'-item" && b.stac_collection === "'=c")).toBe(true);
    expect(Number(back[0]!.center_lon)).toBe(row.center![0]);
  });
});

/** RFC 7946 checks: lon/lat ranges, closed rings, exterior counter-clockwise and holes clockwise, no edge across the antimeridian (cut there), bbox members that hold the coordinates. */
function checkRfc7946(fc: { type: string; bbox?: number[]; features: { type: string; bbox?: number[]; geometry: AreaGeometry | null }[] }): void {
  expect(fc.type).toBe('FeatureCollection');
  expect(fc.bbox).toHaveLength(4);
  const inBox = (b: number[], lon: number, lat: number) => lat >= b[1]! && lat <= b[3]! && (b[0]! <= b[2]! ? lon >= b[0]! && lon <= b[2]! : lon >= b[0]! || lon <= b[2]!);
  for (const f of fc.features) {
    expect(f.type).toBe('Feature');
    if (!f.geometry) continue;
    expect(f.bbox).toHaveLength(4);
    for (const rings of polygonsOf(f.geometry)) {
      rings.forEach((ring, k) => {
        expect(ring.length).toBeGreaterThanOrEqual(4);
        expect(ring[0]).toEqual(ring[ring.length - 1]);
        let area = 0;
        for (let i = 0; i + 1 < ring.length; i++) {
          const [x1, y1] = ring[i]!;
          const [x2, y2] = ring[i + 1]!;
          area += x1 * y2 - x2 * y1;
          // Only an edge along a pole may span the whole antimeridian-cut range.
          if (Math.abs(y1) !== 90 || y1 !== y2) expect(Math.abs(x2 - x1)).toBeLessThan(180);
        }
        expect(k === 0 ? area > 0 : area < 0).toBe(true);
        for (const [lon, lat] of ring) {
          expect(lon).toBeGreaterThanOrEqual(-180);
          expect(lon).toBeLessThanOrEqual(180);
          expect(Math.abs(lat)).toBeLessThanOrEqual(90);
          expect(inBox(f.bbox!, lon, lat)).toBe(true);
          expect(inBox(fc.bbox!, lon, lat)).toBe(true);
        }
      });
    }
  }
}

describe('a failed export', () => {
  it.each(['geoparquet', 'geojson', 'csv'] as const)('leaves no half-written %s file, and the file it was to replace whole', async (format) => {
    const file = path.join(dir, `failed.${format}`);
    writeFileSync(file, 'an earlier export');
    async function* failing(): AsyncGenerator<ExportRow> {
      yield* rows.slice(0, 1500);
      throw new Error('the store went away');
    }
    await expect(writeRows(file, format, failing(), { dimension: DIM })).rejects.toThrow('the store went away');
    expect(readFileSync(file, 'utf8')).toBe('an earlier export');
    expect(readdirSync(dir).filter((name) => name.includes(`failed.${format}`))).toEqual([`failed.${format}`]);
  });

  it.each(['geojson', 'csv'] as const)('into a missing folder, with rows that come after a pause (as from PostgreSQL), fails with the open error: %s', async (format) => {
    async function* late(): AsyncGenerator<ExportRow> {
      await new Promise((resolve) => setTimeout(resolve, 50));
      yield* rows.slice(0, 3);
    }
    const file = path.join(dir, 'no-such-folder', `x.${format}`);
    // the error names the file asked for, not the temporary one beside it
    await expect(writeRows(file, format, late())).rejects.toMatchObject({ code: 'ENOENT', path: file, message: expect.not.stringContaining('.partial') });
  });

  it.skipIf(process.platform === 'win32')('replaces the file a symbolic link leads to, and writes to what is no file (/dev/stdout, a pipe) directly', async () => {
    const target = path.join(dir, 'target.csv');
    const link = path.join(dir, 'link.csv');
    writeFileSync(target, 'an earlier export');
    symlinkSync(target, link);
    expect(await writeRows(link, 'csv', rows.slice(0, 3))).toBe(3);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8').split('\r\n')).toHaveLength(5);
    expect(await writeRows('/dev/null', 'geojson', rows.slice(0, 3))).toBe(3);
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});

describe('GeoJSON', () => {
  it('the streamed file follows RFC 7946 and keeps every row', async () => {
    const file = path.join(dir, 'items.geojson');
    await writeRows(file, 'geojson', rows);
    const fc = JSON.parse(readFileSync(file, 'utf8'));
    checkRfc7946(fc);
    expect(fc.features).toHaveLength(300);
    const crossing = fc.features.find((f: { geometry: AreaGeometry | null }) => f.geometry?.type === 'MultiPolygon');
    expect(crossing.bbox[0]).toBeGreaterThan(crossing.bbox[2]);
    expect(fc.features[0].properties).toMatchObject({ path: rows[0]!.path, window: rows[0]!.window, fields: { label: 'class 1' } });
  });

  it('rewinds clockwise input rings and computes a crossing collection bbox', () => {
    const cw: AreaGeometry = { type: 'Polygon', coordinates: [[[170, 0], [170, 10], [179, 10], [179, 0], [170, 0]], [[172, 2], [174, 2], [174, 4], [172, 4], [172, 2]]] };
    const east: AreaGeometry = { type: 'Polygon', coordinates: [[[-179, 0], [-170, 0], [-170, 5], [-179, 5], [-179, 0]]] };
    const fc = featureCollection([
      { id: 1, path: 'a', window: { x: 0, y: 0, width: 1, height: 1, scale: 1 }, footprint: cw },
      { id: 2, path: 'b', window: { x: 0, y: 0, width: 1, height: 1, scale: 1 }, footprint: east },
    ]);
    checkRfc7946(fc);
    expect(fc.bbox).toEqual([170, 0, -170, 10]);
  });
});
