/**
 * One entry for the writers: a format name and a file give a streaming row writer.
 */
import { RsclipError } from '../errors.js';
import { createCsvWriter } from './csv-writer.js';
import type { ExportRow, RowWriter } from './export-row.js';
import { createGeoJsonWriter } from './geojson-writer.js';
import { createParquetWriter, type ParquetExportOptions } from './parquet-writer.js';

export const EXPORT_FORMATS = ['geoparquet', 'parquet', 'geojson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions extends Omit<ParquetExportOptions, 'geo'> {
  /** GeoJSON and CSV: write embeddings (as JSON arrays); Parquet formats write them whenever `dimension` is given. */
  includeEmbedding?: boolean;
}

export function parseExportFormat(text: string): ExportFormat {
  const f = text.trim().toLowerCase();
  if ((EXPORT_FORMATS as readonly string[]).includes(f)) return f as ExportFormat;
  throw new RsclipError('BAD_INPUT', `unknown export format ${JSON.stringify(text)}`, { hint: `use one of ${EXPORT_FORMATS.join(', ')}` });
}

export function createRowWriter(file: string, format: ExportFormat, options: ExportOptions = {}): RowWriter {
  switch (format) {
    case 'geoparquet':
      return createParquetWriter(file, { ...options, geo: true });
    case 'parquet':
      return createParquetWriter(file, { ...options, geo: false });
    case 'geojson':
      return createGeoJsonWriter(file, { includeEmbedding: options.includeEmbedding ?? false });
    case 'csv':
      return createCsvWriter(file, { includeEmbedding: options.includeEmbedding ?? false });
  }
}

/** Writes all rows (an iterable or async iterable, consumed in batches of 1,000) and returns how many. */
export async function writeRows(file: string, format: ExportFormat, rows: Iterable<ExportRow> | AsyncIterable<ExportRow>, options: ExportOptions = {}): Promise<number> {
  const writer = createRowWriter(file, format, options);
  let batch: ExportRow[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= 1000) {
      await writer.write(batch);
      batch = [];
    }
  }
  await writer.write(batch);
  return writer.close();
}
