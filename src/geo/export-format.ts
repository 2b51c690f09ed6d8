/**
 * One entry for the writers: a format name and a file give a streaming row writer.
 */
import { chmod, rename, rm } from 'node:fs/promises';
import { RsclipError } from '../errors.js';
import { descriptorNamed, type Output } from '../output-descriptor.js';
import { namedAsTarget, placedFile, stagingFor, writingPartial } from '../staged-file.js';
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

export function createRowWriter(file: Output, format: ExportFormat, options: ExportOptions = {}): RowWriter {
  switch (format) {
    case 'geoparquet':
      return createParquetWriter(file, { ...options, geo: true });
    case 'parquet':
      return createParquetWriter(file, { ...options, geo: false });
    case 'geojson':
      return createGeoJsonWriter(file, { includeEmbedding: options.includeEmbedding ?? false });
    case 'csv':
      return createCsvWriter(file, { includeEmbedding: options.includeEmbedding ?? false, ranked: options.ranked ?? false });
  }
}

/**
 * Writes all rows (an iterable or async iterable, consumed in batches of 1,000) and returns how
 * many. They go to a file beside `file` that takes its name once complete: an export that fails
 * (a full disk, an error reading the rows) leaves no half-written file, and a file already at that
 * path stays whole until the new one replaces it (a symbolic link keeps leading to it), and the
 * new file takes its permission bits. A name of
 * stdout or stderr (/dev/stdout, /dev/fd/1) is written through that stream,
 * appending where it appends; what is not a file (a named pipe) is written directly.
 */
export async function writeRows(file: string, format: ExportFormat, rows: Iterable<ExportRow> | AsyncIterable<ExportRow>, options: ExportOptions = {}): Promise<number> {
  const descriptor = await descriptorNamed(file);
  if (descriptor !== undefined) return writeAll(createRowWriter(descriptor, format, options), rows);
  const staging = await stagingFor(file);
  if (!staging) return writeAll(createRowWriter(file, format, options), rows);
  const { destination, partial, mode } = staging;
  const written = writingPartial(partial);
  const writer = createRowWriter(partial, format, options);
  try {
    const count = await writeAll(writer, rows);
    if (mode !== undefined) await chmod(partial, mode);
    await rename(partial, destination);
    placedFile();
    return count;
  } catch (error) {
    await writer.abort();
    await rm(partial, { force: true });
    // the file being written is ours: name the one the caller asked for
    throw namedAsTarget(error, [[partial, destination]]);
  } finally {
    written();
  }
}

async function writeAll(writer: RowWriter, rows: Iterable<ExportRow> | AsyncIterable<ExportRow>): Promise<number> {
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
