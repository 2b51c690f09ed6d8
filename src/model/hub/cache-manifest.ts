/**
 * What a cache entry held when it was made: every file of the model directory with its size and
 * sha256, in `<commit-sha>.files.json` beside the directory. A file cut short or overwritten
 * later (a full disk, a clean-up, a hand edit) no longer matches: its size is checked at every
 * fetch, its bytes when `--refresh` asks; the entry is then downloaded or exported again. The
 * Hub's listing cannot say this of an exported model, whose files are not the repository's. An
 * entry made before these records has none, and is checked as it opens.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256OfFile } from '../../file-sha256.js';

export interface RecordedFile {
  /** Relative to the model directory, with forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

export const manifestFile = (modelDir: string): string => `${modelDir}.files.json`;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort();
}

/** Records the files of `modelDir` (complete, about to be renamed to `entryDir`) as the entry's manifest. */
export async function writeManifest(modelDir: string, entryDir: string): Promise<void> {
  const files: RecordedFile[] = [];
  for (const rel of await filesUnder(modelDir)) {
    const file = path.join(modelDir, rel);
    files.push({ path: rel, size: (await stat(file)).size, sha256: await sha256OfFile(file) });
  }
  const target = manifestFile(entryDir);
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify({ files })}\n`);
  await rename(temp, target);
}

/** The files the manifest of the entry at `entryDir` records; undefined when it has no readable manifest. */
export async function recordedFiles(entryDir: string): Promise<RecordedFile[] | undefined> {
  const file = manifestFile(entryDir);
  if (!existsSync(file)) return undefined;
  try {
    const files = (JSON.parse(await readFile(file, 'utf8')) as { files: RecordedFile[] }).files;
    return Array.isArray(files) ? files : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The files of the entry at `entryDir` that no longer match its manifest: missing, another size,
 * or (with `bytes`) other bytes. Undefined when the entry has no readable manifest.
 */
export async function damagedFiles(entryDir: string, options: { bytes: boolean }): Promise<Set<string> | undefined> {
  const files = await recordedFiles(entryDir);
  if (!files) return undefined;
  const damaged = new Set<string>();
  for (const recorded of files) {
    const local = path.join(entryDir, ...recorded.path.split('/'));
    const info = await stat(local).catch(() => undefined);
    if (!info?.isFile() || info.size !== recorded.size || (options.bytes && (await sha256OfFile(local)) !== recorded.sha256)) damaged.add(recorded.path);
  }
  return damaged;
}
