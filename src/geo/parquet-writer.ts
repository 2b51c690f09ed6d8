/**
 * Parquet and GeoParquet 1.1 output through hyparquet-writer (pure JavaScript, streams row
 * groups to the file, so an export of millions of items stays in bounded memory).
 *
 * Columns: id (INT64), rank (INT32) and score (DOUBLE) for a query's hits, path, root, x, y, width,
 * height, scale (INT32), center_lon, center_lat, gsd (DOUBLE), stac_item, stac_collection, the
 * chosen field columns, `fields` (the other user fields as JSON), the footprint
 * (GeoParquet: `geometry` as WKB with the `geo` metadata; plain Parquet: `footprint_wkt` as text),
 * and `embedding` as a list of FLOAT with exactly `dimension` values a row.
 * GeoParquet metadata: version 1.1.0, primary column `geometry`, WKB, the geometry types present,
 * the bbox, no `crs` (so OGC:CRS84, longitude/latitude on WGS84), and a `bbox` covering column
 * (struct xmin, ymin, xmax, ymax per row) that readers use to skip row groups by place.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ByteWriter, ParquetWriter, fileWriter, type Writer } from 'hyparquet-writer';
import { descriptorStream, writeThrough, type Output } from '../output-descriptor.js';
import { RsclipError } from '../errors.js';
import type { ExportRow, RowWriter } from './export-row.js';
import { polygonsOf, type AreaGeometry } from './geojson-types.js';
import { geometryToWkb, geometryToWkt } from './wkb.js';

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

export type FieldColumnType = 'string' | 'number' | 'boolean';

export interface ParquetExportOptions {
  /** Write GeoParquet (geometry as WKB + `geo` metadata); false writes plain Parquet with WKT. Default true. */
  geo?: boolean;
  /** Fields written as their own columns; the others go to the `fields` JSON column. */
  fieldColumns?: readonly { name: string; type: FieldColumnType }[];
  /** The rows are a query's hits: write rank and score columns. */
  ranked?: boolean;
  /** The embedding dimension; rows without an embedding write null. Omit to write no embedding column. */
  dimension?: number;
  /** Rows per row group; default 10,000. */
  rowGroupSize?: number;
}

const FIXED_COLUMNS = ['id', 'rank', 'score', 'path', 'root', 'x', 'y', 'width', 'height', 'scale', 'center_lon', 'center_lat', 'gsd', 'stac_item', 'stac_collection', 'fields', 'geometry', 'footprint_wkt', 'bbox', 'embedding'];
const BBOX_FIELDS = ['xmin', 'ymin', 'xmax', 'ymax'] as const;

/** Planar [xmin, ymin, xmax, ymax] of a footprint's exterior rings. */
function planarBounds(footprint: AreaGeometry): [number, number, number, number] {
  const b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const rings of polygonsOf(footprint)) {
    for (const [x, y] of rings[0] ?? []) {
      b[0] = Math.min(b[0], x);
      b[1] = Math.min(b[1], y);
      b[2] = Math.max(b[2], x);
      b[3] = Math.max(b[3], y);
    }
  }
  return b;
}

function fieldElement(name: string, type: FieldColumnType): SchemaElement {
  if (type === 'string') return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' };
  if (type === 'number') return { name, type: 'DOUBLE', repetition_type: 'OPTIONAL' };
  return { name, type: 'BOOLEAN', repetition_type: 'OPTIONAL' };
}

function schemaFor(options: ParquetExportOptions): SchemaElement[] {
  const geo = options.geo ?? true;
  const fields = options.fieldColumns ?? [];
  const leaves: SchemaElement[][] = [
    [{ name: 'id', type: 'INT64', repetition_type: 'REQUIRED' }],
    ...(options.ranked ? [[{ name: 'rank', type: 'INT32', repetition_type: 'REQUIRED' }], [{ name: 'score', type: 'DOUBLE', repetition_type: 'REQUIRED' }]] : []) as SchemaElement[][],
    [{ name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }],
    [{ name: 'root', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }],
    ...['x', 'y', 'width', 'height', 'scale'].map((name): SchemaElement[] => [{ name, type: 'INT32', repetition_type: 'REQUIRED' }]),
    ...['center_lon', 'center_lat', 'gsd'].map((name): SchemaElement[] => [{ name, type: 'DOUBLE', repetition_type: 'OPTIONAL' }]),
    ...['stac_item', 'stac_collection'].map((name): SchemaElement[] => [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }]),
    ...fields.map((f) => [fieldElement(f.name, f.type)]),
    [{ name: 'fields', type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type: 'OPTIONAL' }],
    geo ? [{ name: 'geometry', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' }] : [{ name: 'footprint_wkt', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }],
  ];
  if (geo) {
    leaves.push([
      { name: 'bbox', repetition_type: 'OPTIONAL', num_children: 4 },
      ...BBOX_FIELDS.map((name): SchemaElement => ({ name, type: 'DOUBLE', repetition_type: 'REQUIRED' })),
    ]);
  }
  if (options.dimension !== undefined) {
    leaves.push([
      { name: 'embedding', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST', logical_type: { type: 'LIST' } },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
    ]);
  }
  return [{ name: 'schema', num_children: leaves.length }, ...leaves.flat()];
}

interface GeoSummary {
  types: Set<string>;
  bbox: [number, number, number, number];
}

function geoMetadata(summary: GeoSummary): string {
  const finite = summary.bbox.every(Number.isFinite);
  return JSON.stringify({
    version: '1.1.0',
    primary_column: 'geometry',
    columns: {
      geometry: {
        encoding: 'WKB',
        geometry_types: [...summary.types].sort(),
        ...(finite ? { bbox: summary.bbox } : {}),
        covering: { bbox: Object.fromEntries(BBOX_FIELDS.map((f) => [f, ['bbox', f]])) },
      },
    },
  });
}

/** The bytes of the file into `stream` (an open descriptor), each row group's as it completes: the next one waits for the stream to drain. */
function streamWriter(stream: Writable): Writer {
  const writer = new ByteWriter();
  const flush = async (): Promise<void> => {
    const bytes = new Uint8Array(writer.buffer.slice(0, writer.index));
    writer.index = 0;
    if (!stream.write(bytes)) await once(stream, 'drain');
  };
  return Object.assign(writer, {
    flush,
    finish: async () => {
      await flush();
      await writeThrough(stream, '');
    },
  });
}

/** A streaming (Geo)Parquet writer: to a file, or (a number) to an open descriptor. */
export function createParquetWriter(file: Output, options: ParquetExportOptions = {}): RowWriter {
  const geo = options.geo ?? true;
  const fieldColumns = options.fieldColumns ?? [];
  for (const f of fieldColumns) {
    if (FIXED_COLUMNS.includes(f.name)) throw new RsclipError('BAD_INPUT', `field column "${f.name}" clashes with a column rsclip writes`, { hint: `rename it; taken: ${FIXED_COLUMNS.join(', ')}` });
  }
  const dimension = options.dimension;
  const rowGroupSize = options.rowGroupSize ?? 10_000;
  const schema = schemaFor(options);
  const summary: GeoSummary = { types: new Set(), bbox: [Infinity, Infinity, -Infinity, -Infinity] };
  const kvMetadata = [{ key: 'rsclip', value: JSON.stringify({ embedding_dimension: dimension ?? null }) }];
  const writer = new ParquetWriter({ writer: typeof file === 'number' ? streamWriter(descriptorStream(file)) : fileWriter(file), schema, codec: 'SNAPPY', kvMetadata, createdBy: 'rsclip' });
  let pending: ExportRow[] = [];
  let count = 0;

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const rows = pending;
    pending = [];
    const fieldNames = new Set(fieldColumns.map((f) => f.name));
    const columnData = [
      { name: 'id', data: rows.map((r) => BigInt(r.id)) },
      ...(options.ranked ? [{ name: 'rank', data: rows.map((r) => r.rank!) }, { name: 'score', data: rows.map((r) => r.score!) }] : []),
      { name: 'path', data: rows.map((r) => r.path) },
      { name: 'root', data: rows.map((r) => r.root ?? null) },
      ...(['x', 'y', 'width', 'height', 'scale'] as const).map((k) => ({ name: k, data: rows.map((r) => r.window[k]) })),
      { name: 'center_lon', data: rows.map((r) => r.center?.[0] ?? null) },
      { name: 'center_lat', data: rows.map((r) => r.center?.[1] ?? null) },
      { name: 'gsd', data: rows.map((r) => r.gsd ?? null) },
      { name: 'stac_item', data: rows.map((r) => r.stac?.item ?? null) },
      { name: 'stac_collection', data: rows.map((r) => r.stac?.collection ?? null) },
      ...fieldColumns.map((f) => ({
        name: f.name,
        data: rows.map((r) => {
          const v = r.fields?.[f.name];
          return v === undefined || v === null ? null : f.type === 'string' ? String(v) : f.type === 'number' ? Number(v) : Boolean(v);
        }),
      })),
      {
        name: 'fields',
        data: rows.map((r) => {
          const rest = Object.entries(r.fields ?? {}).filter(([k]) => !fieldNames.has(k));
          // hyparquet-writer serialises JSON columns itself.
          return rest.length > 0 ? Object.fromEntries(rest) : null;
        }),
      },
      geo
        ? { name: 'geometry', data: rows.map((r) => (r.footprint ? geometryToWkb(r.footprint) : null)) }
        : { name: 'footprint_wkt', data: rows.map((r) => (r.footprint ? geometryToWkt(r.footprint) : null)) },
    ];
    if (geo) {
      const boxes = rows.map((r) => (r.footprint ? planarBounds(r.footprint) : null));
      rows.forEach((r, i) => {
        const b = boxes[i];
        if (!r.footprint || !b) return;
        summary.types.add(r.footprint.type);
        summary.bbox = [Math.min(summary.bbox[0], b[0]), Math.min(summary.bbox[1], b[1]), Math.max(summary.bbox[2], b[2]), Math.max(summary.bbox[3], b[3])];
      });
      columnData.push({ name: 'bbox', data: boxes.map((b) => (b ? { xmin: b[0], ymin: b[1], xmax: b[2], ymax: b[3] } : null)) } as (typeof columnData)[number]);
    }
    if (dimension !== undefined) {
      columnData.push({
        name: 'embedding',
        data: rows.map((r) => {
          if (!r.embedding) return null;
          if (r.embedding.length !== dimension) {
            throw new RsclipError('BAD_INPUT', `item ${r.id} has an embedding of ${r.embedding.length} values, expected ${dimension}`);
          }
          return Array.from(r.embedding);
        }),
      } as (typeof columnData)[number]);
    }
    await writer.write({ columnData: columnData as Parameters<typeof writer.write>[0]['columnData'], rowGroupSize: rows.length });
  };

  return {
    async write(rows) {
      for (const row of rows) {
        pending.push(row);
        count++;
        if (pending.length >= rowGroupSize) await flush();
      }
    },
    async close() {
      await flush();
      if (geo) writer.kvMetadata = [{ key: 'geo', value: geoMetadata(summary) }, ...kvMetadata];
      await writer.finish();
      return count;
    },
    // its file is written whole at each row group and finish (writeFileSync): nothing stays open
    abort: async () => {},
  };
}
