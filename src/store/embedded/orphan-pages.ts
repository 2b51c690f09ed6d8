/**
 * Rows on pages that no table reaches any more. When the root or an inner page of a table is
 * damaged, its leaf pages are still whole but SQLite can no longer find them: its integrity check
 * reports them as never used, and a salvage reading through SQLite loses every row on them (one
 * zeroed root page of `files` once lost all 1,093 file rows, and with them every item and vector).
 * Their cells are read here straight from the file, in SQLite's record format
 * (https://sqlite.org/fileformat2.html), and a row is given to a table only where its values fit
 * that table's columns exactly (count, storage classes, NOT NULL).
 */
import type Database from 'better-sqlite3';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Problems the integrity check lists at most while looking for unreached pages. */
const MAX_PROBLEMS = 100_000;
/** The b-tree page type of a table's leaf. */
const TABLE_LEAF = 0x0d;

export interface OrphanRow {
  rowid: number;
  values: unknown[];
}

/** Pages of the catalog that no table, index or free list reaches (integrity_check's "never used"). */
export function unreachedPages(db: Database.Database): number[] {
  // a badly damaged catalog ends the check with an error after the problems it listed: those are kept
  const problems: string[] = [];
  try {
    for (const row of db.prepare(`PRAGMA integrity_check(${MAX_PROBLEMS})`).pluck().iterate()) problems.push(String(row));
  } catch {
    // the problems listed before the error
  }
  return problems.flatMap((line) => line.split('\n')).flatMap((line) => /^Page (\d+)(?::| is) never used$/.exec(line.trim())?.[1] ?? []).map(Number);
}

/** A varint at `at`: its value and length. */
function varint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[at + i]!;
    value = value * 128 + (byte & 0x7f);
    if (byte < 0x80) return [value, i + 1];
  }
  return [value * 256 + bytes[at + 8]!, 9];
}

/** The values of one record (a row's payload); undefined where it does not parse. */
function recordValues(payload: Buffer): unknown[] | undefined {
  const [headerSize, first] = varint(payload, 0);
  if (headerSize > payload.length) return undefined;
  const types: number[] = [];
  for (let at = first; at < headerSize; ) {
    const [type, length] = varint(payload, at);
    types.push(type);
    at += length;
  }
  const values: unknown[] = [];
  let at = headerSize;
  for (const type of types) {
    const size = type >= 12 ? (type - 12) >> 1 : [0, 1, 2, 3, 4, 6, 8, 8, 0, 0][type];
    if (size === undefined || at + size > payload.length) return undefined;
    if (type === 0) values.push(null);
    else if (type <= 6) values.push(Number(BigInt.asIntN(size * 8, BigInt(`0x${payload.toString('hex', at, at + size)}`))));
    else if (type === 7) values.push(payload.readDoubleBE(at));
    else if (type === 8 || type === 9) values.push(type - 8);
    else if (type % 2 === 0) values.push(Buffer.from(payload.subarray(at, at + size)));
    else values.push(payload.toString('utf8', at, at + size));
    at += size;
  }
  return values;
}

/** Reads pages of one catalog file. */
class PageReader {
  private readonly fd: number;
  readonly pageSize: number;
  readonly usable: number;
  readonly pages: number;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
    const header = this.read(0, 100);
    this.pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16);
    this.usable = this.pageSize - header[20]!;
    this.pages = Math.floor(statSync(file).size / this.pageSize);
  }

  read(at: number, length: number): Buffer {
    const bytes = Buffer.alloc(length);
    readSync(this.fd, bytes, 0, length, at);
    return bytes;
  }

  page(number: number): Buffer {
    return this.read((number - 1) * this.pageSize, this.pageSize);
  }

  close(): void {
    closeSync(this.fd);
  }

  /** A cell's payload, followed through its overflow pages; undefined where the chain is broken. */
  payload(page: Buffer, at: number, size: number): Buffer | undefined {
    const maxLocal = this.usable - 35;
    if (size <= maxLocal) return at + size <= page.length ? page.subarray(at, at + size) : undefined;
    const minLocal = Math.floor(((this.usable - 12) * 32) / 255) - 23;
    const spill = minLocal + ((size - minLocal) % (this.usable - 4));
    const local = spill <= maxLocal ? spill : minLocal;
    if (at + local + 4 > page.length) return undefined;
    const parts = [page.subarray(at, at + local)];
    let got = local;
    for (let next = page.readUInt32BE(at + local), hops = 0; got < size; hops++) {
      if (next < 1 || next > this.pages || hops > this.pages) return undefined;
      const overflow = this.page(next);
      const take = Math.min(size - got, this.usable - 4);
      parts.push(overflow.subarray(4, 4 + take));
      got += take;
      next = overflow.readUInt32BE(0);
    }
    return Buffer.concat(parts);
  }
}

/** Every row on the table leaves among `pages` of the catalog `file` (cells that do not parse are stepped over). */
export function* orphanRows(file: string, pages: readonly number[]): Generator<OrphanRow> {
  if (pages.length === 0) return;
  const reader = new PageReader(file);
  try {
    for (const number of pages) {
      if (number > reader.pages) continue;
      const page = reader.page(number);
      const head = number === 1 ? 100 : 0;
      if (page[head] !== TABLE_LEAF) continue;
      const cells = page.readUInt16BE(head + 3);
      for (let cell = 0; cell < cells && head + 8 + 2 * cell + 2 <= page.length; cell++) {
        try {
          let at = page.readUInt16BE(head + 8 + 2 * cell);
          const [size, sizeLength] = varint(page, at);
          at += sizeLength;
          const [rowid, rowidLength] = varint(page, at);
          at += rowidLength;
          const payload = reader.payload(page, at, size);
          const values = payload && recordValues(payload);
          if (values) yield { rowid, values };
        } catch {
          // a cell pointer or length off the page: not a row
        }
      }
    }
  } finally {
    reader.close();
  }
}

export interface TableColumn {
  name: string;
  type: string;
  notnull: number;
  pk: number;
}

/** The columns of `table` in the order its records store them. */
export function tableColumns(db: Database.Database, table: string): TableColumn[] {
  try {
    return db.prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info('${table}') ORDER BY cid`).all() as TableColumn[];
  } catch {
    return [];
  }
}

function fitsColumn(value: unknown, column: TableColumn): boolean {
  if (value === null) return column.notnull === 0;
  const type = column.type.toUpperCase();
  if (type.includes('INT')) return typeof value === 'number' && Number.isInteger(value);
  if (type.includes('CHAR') || type.includes('TEXT') || type.includes('CLOB')) return typeof value === 'string';
  if (type.includes('BLOB')) return Buffer.isBuffer(value);
  if (type.includes('REAL') || type.includes('FLOA') || type.includes('DOUB')) return typeof value === 'number';
  return true;
}

/**
 * The row `row` is, as a row of a table with `columns` (named values, the rowid as `_rowid_`),
 * or undefined where its values do not fit them. A rowid alias (INTEGER PRIMARY KEY) is stored
 * as NULL and takes the rowid.
 */
export function asTableRow(row: OrphanRow, columns: readonly TableColumn[]): Record<string, unknown> | undefined {
  if (row.values.length !== columns.length) return undefined;
  const alias = columns.filter((c) => c.pk > 0).length === 1 ? columns.find((c) => c.pk > 0 && c.type.toUpperCase() === 'INTEGER') : undefined;
  const named: Record<string, unknown> = { _rowid_: row.rowid };
  for (const [i, column] of columns.entries()) {
    const value = column === alias ? row.values[i] ?? row.rowid : row.values[i];
    if (column === alias ? value !== row.rowid : !fitsColumn(value, column)) return undefined;
    named[column.name] = value;
  }
  return named;
}
