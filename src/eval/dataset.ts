/**
 * Reading evaluation data: an image folder, RSICD-style captions (JSONL, one
 * `{"filename", "captions": [...]}` per line) and `filename<TAB>label` files, with the
 * checksums a report records so that two runs can be shown to use the same data.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RsclipError } from '../errors.js';
import { delimiterOf, parseDelimited } from '../delimited-records.js';

const FILENAME_HEADERS = new Set(['filename', 'file_name', 'file', 'name', 'image']);

/** Why a file could not be read, in words (a missing file, a folder, no permission), else the system's message. */
function unreadableReason(cause: unknown): string {
  switch ((cause as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'does not exist';
    case 'EISDIR':
      return 'is a folder, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read: permission denied';
    default:
      return `cannot be read: ${(cause as Error).message}`;
  }
}

/**
 * A text file's content, without the byte order mark an editor may have put first (JSON.parse
 * refuses one). A file that cannot be read is named with the option that gave it (`--captions`).
 */
export async function readText(file: string, what: string, option?: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (cause) {
    throw new RsclipError('NOT_FOUND', `${what} ${file}${option ? ` (${option})` : ''} ${unreadableReason(cause)}`, {
      cause,
      hint: option ? `check the path given to ${option}` : 'check the path',
    });
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of the sorted file names joined by newlines: identifies the image set, not the bytes. */
export function imageListChecksum(fileNames: readonly string[]): string {
  return sha256Hex([...fileNames].sort().join('\n'));
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Captions per file name from a JSONL file; the order of captions is kept (repeats included). */
export async function readCaptions(file: string): Promise<Map<string, string[]>> {
  return parseCaptionsJsonl(await readText(file, 'captions file', '--captions'), file);
}

/** JSONL captions, one `{"filename", "captions": [...]}` per line; `file` names the source in errors. */
export function parseCaptionsJsonl(text: string, file: string): Map<string, string[]> {
  const captions = new Map<string, string[]>();
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (cause) {
      throw new RsclipError('DATASET_INVALID', `${file}:${index + 1} is not JSON: ${(cause as Error).message}`, { cause });
    }
    const { filename, captions: list } = (record ?? {}) as { filename?: unknown; captions?: unknown };
    if (typeof filename !== 'string' || !Array.isArray(list) || !list.every((c) => typeof c === 'string')) {
      throw new RsclipError('DATASET_INVALID', `${file}:${index + 1}: expected {"filename": string, "captions": [strings]}`);
    }
    if (captions.has(filename)) throw new RsclipError('DATASET_INVALID', `${file}:${index + 1}: ${filename} is listed twice`);
    captions.set(filename, list as string[]);
  }
  if (captions.size === 0) throw new RsclipError('DATASET_INVALID', `${file} holds no captions: expected one JSON line per image`);
  return captions;
}

/**
 * Labels per file name from `filename<TAB>label` lines, or CSV (RFC 4180: a quoted field may hold
 * commas, tabs and line breaks), told apart as the indexer's field sidecars are (delimiterOf: a
 * .csv or .tsv extension, else a tab outside quotes in the first line); a header line naming the
 * file column is skipped. A third column is refused: a label holding the separator would otherwise
 * be cut silently.
 */
export async function readLabels(file: string): Promise<Map<string, string>> {
  const text = await readText(file, 'labels file', '--labels');
  const records = delimiterOf(file, text.split(/\r?\n/).find((line) => line.trim() !== '')) === '\t'
    ? text.split(/\r?\n/).flatMap((raw, index) => (raw.trim() === '' ? [] : [{ cells: raw.trim().split('\t'), line: index + 1 }]))
    : parseDelimited(text, file, { delimiter: ',', code: 'DATASET_INVALID' });
  const labels = new Map<string, string>();
  for (const [index, { cells: raw, line }] of records.entries()) {
    const cols = raw.map((c) => c.trim());
    if (index === 0 && FILENAME_HEADERS.has(cols[0]!.toLowerCase())) continue;
    while (cols.length > 2 && cols[cols.length - 1] === '') cols.pop();
    if (cols.length !== 2 || cols[0] === '' || cols[1] === '') {
      throw new RsclipError('DATASET_INVALID', `${file}:${line}: expected filename<TAB>label (or two CSV fields), got ${cols.length} field(s): ${JSON.stringify(raw.join(' | ').slice(0, 120))}`, {
        hint: cols.length > 2 ? 'a label holding a comma must be quoted in CSV ("airport, large"), or use a tab-separated file' : undefined,
      });
    }
    const [name, label] = cols as [string, string];
    const previous = labels.get(name);
    if (previous !== undefined && previous !== label) {
      throw new RsclipError('DATASET_INVALID', `${file}:${line}: ${name} is labelled both ${previous} and ${label}`);
    }
    labels.set(name, label);
  }
  if (labels.size === 0) throw new RsclipError('DATASET_INVALID', `${file} holds no labels: expected filename<TAB>label lines`);
  return labels;
}
