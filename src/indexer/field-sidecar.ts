/**
 * Reads user fields from a sidecar keyed by file name, for the store's importFields: CSV, TSV
 * (header row) or JSONL (one object per line). The key column is the first of `filename`, `file_name`, `file`,
 * `name`, `path` present; only its base name is used, so a sidecar can be shared by
 * copies of an archive in different places, and two rows for one base name that give different
 * fields are refused. Array values become several values of one field. Whitespace around an
 * unquoted CSV/TSV value is left out; inside quotes it is kept (RFC 4180). A CSV cell that
 * rsclip's own CSV export guarded against spreadsheet formulas (`'+east.jpg`) is read as the text
 * it guarded (`+east.jpg`), so that an exported CSV, with columns added, is a sidecar: its own
 * columns (window, place, scores, the embedding) are left out, and its `fields` column (the user
 * fields as JSON) is read as those fields, so that the tiles of one scene give the same fields.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { delimiterOf, parseDelimited } from '../delimited-records.js';
import { RsclipError } from '../errors.js';
import { CSV_COLUMNS, formulaUnguarded } from '../geo/csv-writer.js';
import type { FieldRecord, FieldValue } from '../store/types.js';

const KEY_NAMES = ['filename', 'file_name', 'file', 'name', 'path'];

function keyOf(names: string[], file: string): string {
  const key = KEY_NAMES.find((k) => names.includes(k));
  if (!key) {
    throw new RsclipError('BAD_INPUT', `sidecar ${file} has no file-name column: expected one of ${KEY_NAMES.join(', ')}, found ${names.join(', ') || 'none'}`, {
      hint: 'add a header row naming the column with the image file names `filename`',
    });
  }
  return key;
}

function baseName(value: string): string {
  return path.posix.basename(value.replace(/\\/g, '/'));
}

function toValues(value: unknown): FieldValue[] {
  if (value === null || value === undefined || value === '') return [];
  if (Array.isArray(value)) return value.flatMap(toValues);
  if (typeof value === 'number' || typeof value === 'string') return [value];
  if (typeof value === 'boolean') return [String(value)];
  return [JSON.stringify(value)];
}

/** A row of a sidecar: the file name it keys, as given and as its base name, and the line it ends on. */
interface SidecarRow extends FieldRecord {
  given: string;
  line: number;
}

/** A row's fields as text, in name order, so that two rows compare by what they say. */
function fieldsText(row: SidecarRow): string {
  return JSON.stringify([...row.fields].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/**
 * One row per base name: the catalog keys fields by file name, so rows for a/x.jpg and b/x.jpg
 * would give both files the fields of the last. Rows that give the same fields say the same thing
 * twice and are kept once.
 */
function oneRowPerName(rows: SidecarRow[], file: string): FieldRecord[] {
  const byName = new Map<string, SidecarRow[]>();
  for (const row of rows) {
    const named = byName.get(row.fileName);
    if (named) named.push(row);
    else byName.set(row.fileName, [row]);
  }
  for (const [name, named] of byName) {
    // only names given more than once are compared (a sidecar of millions of rows names each once)
    if (named.length === 1) continue;
    const first = fieldsText(named[0]!);
    if (named.every((row) => fieldsText(row) === first)) continue;
    const listed = named.map((row) => `line ${row.line}: ${row.given}`).join(', ');
    throw new RsclipError('BAD_INPUT', `fields file ${file} gives different fields to the file name ${name} in ${named.length} rows (${listed}): fields are keyed by file name, so every file named ${name} would take the last row's`, {
      hint: 'give each file name one row (or the same fields in each), or rename the files apart',
    });
  }
  return [...byName.values()].map(([row]) => ({ fileName: row!.fileName, fields: row!.fields }));
}

function jsonlRows(text: string, file: string): SidecarRow[] {
  const rows: SidecarRow[] = [];
  text.split(/\r?\n/).forEach((line, n) => {
    if (line.trim() === '') return;
    let object: Record<string, unknown>;
    try {
      object = JSON.parse(line) as Record<string, unknown>;
    } catch (cause) {
      throw new RsclipError('BAD_INPUT', `fields file ${file} line ${n + 1} is not JSON: ${(cause as Error).message}`, { cause });
    }
    const key = keyOf(Object.keys(object), file);
    const fields = new Map<string, FieldValue[]>();
    for (const [name, value] of Object.entries(object)) {
      if (name !== key) fields.set(name, toValues(value));
    }
    const given = String(object[key]);
    rows.push({ fileName: baseName(given), given, line: n + 1, fields });
  });
  return rows;
}

function delimitedRows(text: string, file: string, delimiter: ',' | '\t'): SidecarRow[] {
  const parsed = parseDelimited(text, `fields file ${file}`, { delimiter, code: 'BAD_INPUT', trimUnquoted: true });
  // rsclip writes CSV, never TSV
  const [first, ...records] = delimiter === ',' ? parsed.map((r) => ({ ...r, cells: r.cells.map(formulaUnguarded) })) : parsed;
  const header = first?.cells ?? [];
  const repeated = header.find((name, i) => header.indexOf(name) !== i);
  if (repeated !== undefined) {
    throw new RsclipError('BAD_INPUT', `fields file ${file} names the column ${JSON.stringify(repeated)} twice in its header`, { hint: 'give each column a name of its own' });
  }
  const keyIndex = header.indexOf(keyOf(header, file));
  const exported = CSV_COLUMNS.every((name) => header.includes(name));
  return records.map(({ cells, line }) => {
    const fields = new Map<string, FieldValue[]>();
    if (exported) for (const [name, value] of exportedFields(cells[header.indexOf('fields')], file, line)) fields.set(name, toValues(value));
    header.forEach((name, i) => {
      if (i !== keyIndex && !(exported && EXPORT_OWN_COLUMNS.has(name))) fields.set(name, toValues(cells[i]));
    });
    const given = cells[keyIndex] ?? '';
    return { fileName: baseName(given), given, line, fields };
  });
}

/** The columns of an rsclip CSV export that are not user fields. */
const EXPORT_OWN_COLUMNS = new Set<string>([...CSV_COLUMNS, 'rank', 'score', 'embedding']);

/** The user fields an rsclip CSV export wrote as JSON in its `fields` cell. */
function exportedFields(cell: string | undefined, file: string, line: number): [string, unknown][] {
  if (cell === undefined || cell === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(cell);
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `fields file ${file} line ${line}: its fields column is not the JSON object rsclip's export writes: ${(cause as Error).message}`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RsclipError('BAD_INPUT', `fields file ${file} line ${line}: its fields column is not the JSON object rsclip's export writes`);
  }
  return Object.entries(parsed);
}

export async function readSidecar(file: string): Promise<FieldRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `cannot read fields file ${file}: ${(cause as Error).message}`, { cause });
  }
  // a byte order mark (Windows editors write one) is not part of the first name or object
  text = text.replace(/^\uFEFF/, '');
  const firstLine = text.split(/\r?\n/).find((l) => l.trim() !== '');
  const ext = path.extname(file).toLowerCase();
  const jsonl = ext === '.jsonl' || ext === '.ndjson' || (ext !== '.csv' && ext !== '.tsv' && firstLine?.trimStart().startsWith('{'));
  return oneRowPerName(jsonl ? jsonlRows(text, file) : delimitedRows(text, file, delimiterOf(file, firstLine)), file);
}
