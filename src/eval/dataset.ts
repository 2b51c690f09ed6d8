/**
 * Reading evaluation data: an image folder, RSICD-style captions (JSONL, one
 * `{"filename", "captions": [...]}` per line) and `filename<TAB>label` files, with the
 * checksums a report records so that two runs can be shown to use the same data.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { isImagePath } from '../indexer/scan.js';

const FILENAME_HEADERS = new Set(['filename', 'file_name', 'file', 'name', 'image']);

/** A text file's content, without the byte order mark an editor may have put first (JSON.parse refuses one). */
export async function readText(file: string, what: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (cause) {
    throw new RsclipError('NOT_FOUND', `cannot read ${what} ${file}: ${(cause as Error).message}`, { cause });
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256Hex(await readFile(file));
}

/** sha256 of the sorted file names joined by newlines: identifies the image set, not the bytes. */
export function imageListChecksum(fileNames: readonly string[]): string {
  return sha256Hex([...fileNames].sort().join('\n'));
}

/** Image file names directly inside `dir`, sorted by code unit (as Python's `sorted`). */
export async function listImageFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    throw new RsclipError('NOT_FOUND', `cannot read the images folder ${dir}: ${(cause as Error).message}`, { cause });
  }
  const names = (await filesAmong(entries)).filter((e) => isImagePath(e.name)).map((e) => e.name);
  if (names.length === 0) throw new RsclipError('DATASET_INVALID', `no images in ${dir}: expected .jpg/.png/.tif files directly in the folder`);
  return names.sort(compareCodeUnits);
}

/** The entries of a folder's listing that are files, or symbolic links to files (a dataset linked into place). */
export async function filesAmong(entries: readonly Dirent[]): Promise<Dirent[]> {
  const isFile = await Promise.all(
    entries.map(async (e) => e.isFile() || (e.isSymbolicLink() && (await stat(path.join(e.parentPath, e.name)).catch(() => undefined))?.isFile() === true)),
  );
  return entries.filter((_, i) => isFile[i]);
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Captions per file name from a JSONL file; the order of captions is kept (repeats included). */
export async function readCaptions(file: string): Promise<Map<string, string[]>> {
  return parseCaptionsJsonl(await readText(file, 'captions file'), file);
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

/** Labels per file name from `filename<TAB>label` lines (CSV with commas also accepted); a header line is skipped. */
export async function readLabels(file: string): Promise<Map<string, string>> {
  const text = await readText(file, 'labels file');
  const labels = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const cols = (line.includes('\t') ? line.split('\t') : line.split(',')).map((c) => c.trim());
    if (labels.size === 0 && FILENAME_HEADERS.has(cols[0]!.toLowerCase())) continue;
    if (cols.length < 2 || cols[0] === '' || cols[1] === '') {
      throw new RsclipError('DATASET_INVALID', `${file}:${index + 1}: expected filename<TAB>label, got ${JSON.stringify(line.slice(0, 120))}`);
    }
    const previous = labels.get(cols[0]!);
    if (previous !== undefined && previous !== cols[1]) {
      throw new RsclipError('DATASET_INVALID', `${file}:${index + 1}: ${cols[0]} is labelled both ${previous} and ${cols[1]}`);
    }
    labels.set(cols[0]!, cols[1]!);
  }
  if (labels.size === 0) throw new RsclipError('DATASET_INVALID', `${file} holds no labels: expected filename<TAB>label lines`);
  return labels;
}
