/**
 * Reads user fields from a sidecar keyed by file name, for the store's importFields: CSV, TSV
 * (header row) or JSONL (one object per line). The key column is the first of `filename`, `file_name`, `file`,
 * `name`, `path` present; only its base name is used, so a sidecar can be shared by
 * copies of an archive in different places. Array values become several values of one field.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDelimited } from '../delimited-records.js';
import { RsclipError } from '../errors.js';
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

export async function readSidecar(file: string): Promise<FieldRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `cannot read fields file ${file}: ${(cause as Error).message}`, { cause });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || (ext !== '.csv' && ext !== '.tsv' && lines[0]?.trimStart().startsWith('{'))) {
    return lines.map((line, n) => {
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
      return { fileName: baseName(String(object[key])), fields };
    });
  }
  const delimiter = ext === '.tsv' || (ext !== '.csv' && lines[0]?.includes('\t')) ? '\t' : ',';
  const [first, ...rows] = parseDelimited(text, `fields file ${file}`, { delimiter, code: 'BAD_INPUT' });
  const header = (first?.cells ?? []).map((h) => h.trim());
  const keyIndex = header.indexOf(keyOf(header, file));
  return rows.map(({ cells }) => {
    const fields = new Map<string, FieldValue[]>();
    header.forEach((name, i) => {
      if (i !== keyIndex) fields.set(name, toValues(cells[i]?.trim()));
    });
    return { fileName: baseName(cells[keyIndex] ?? ''), fields };
  });
}
