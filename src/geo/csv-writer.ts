/**
 * CSV output of the same rows (RFC 4180 quoting): id, rank and score (a query's hits), path, root, x,
 * y, width, height, scale, center_lon, center_lat, gsd, footprint_wkt, stac_item,
 * stac_collection, fields (the user fields as JSON), and optionally the embedding as a JSON array.
 * A text cell that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a
 * carriage return: a file named `=HYPERLINK(...).jpg`) is written with a leading `'`, as OWASP
 * advises, and so is one that starts so after quotes of its own (`'=x.jpg`), so that reading
 * back (formulaUnguarded) gives every text as it was; numbers are written as they are.
 */
import type { Output } from '../output-descriptor.js';
import { TextFileStream, type ExportRow, type RowWriter } from './export-row.js';
import { geometryToWkt } from './wkb.js';

export interface CsvExportOptions {
  includeEmbedding?: boolean;
  /** The rows are a query's hits: write rank and score columns. */
  ranked?: boolean;
}

export const CSV_COLUMNS = ['id', 'path', 'root', 'x', 'y', 'width', 'height', 'scale', 'center_lon', 'center_lat', 'gsd', 'footprint_wkt', 'stac_item', 'stac_collection', 'fields'] as const;

/** A text a spreadsheet would run as a formula, after any quotes of its own. */
const FORMULA_START = /^'*[=+\-@\t\r]/;

/** `text` as a CSV cell holds it: with a leading `'` where it would start a formula. */
export function formulaGuarded(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** A CSV cell written by formulaGuarded as the text it was: a leading `'` before = + - @ TAB or CR (after any more quotes) left out; any other cell as it is. */
export function formulaUnguarded(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell) ? cell.slice(1) : cell;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? formulaGuarded(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvLine(row: ExportRow, includeEmbedding: boolean, ranked: boolean): string {
  const fields = row.fields && Object.keys(row.fields).length > 0 ? JSON.stringify(row.fields) : null;
  const place = [row.center?.[0], row.center?.[1], row.gsd, row.footprint ? geometryToWkt(row.footprint) : null];
  const cells = [row.id, ...(ranked ? [row.rank, row.score] : []), row.path, row.root, row.window.x, row.window.y, row.window.width, row.window.height, row.window.scale, ...place, row.stac?.item, row.stac?.collection, fields];
  if (includeEmbedding) cells.push(row.embedding ? JSON.stringify(Array.from(row.embedding)) : null);
  return `${cells.map(cell).join(',')}\r\n`;
}

export function createCsvWriter(file: Output, options: CsvExportOptions = {}): RowWriter {
  const includeEmbedding = options.includeEmbedding ?? false;
  const ranked = options.ranked ?? false;
  const stream = new TextFileStream(file);
  let count = 0;
  const columns = [CSV_COLUMNS[0], ...(ranked ? ['rank', 'score'] : []), ...CSV_COLUMNS.slice(1), ...(includeEmbedding ? ['embedding'] : [])];
  let header = `${columns.join(',')}\r\n`;
  return {
    async write(rows) {
      let text = header;
      header = '';
      for (const row of rows) text += csvLine(row, includeEmbedding, ranked);
      count += rows.length;
      await stream.write(text);
    },
    async close() {
      await stream.end(header);
      return count;
    },
    abort: () => stream.abort(),
  };
}
