/**
 * Walks archive roots for image files. Symlinked folders are followed once (loops are
 * cut by real path); unreadable folders are reported and skipped, never fatal.
 */
import { opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { RsclipError } from '../errors.js';

/** Extensions of the formats sharp (libvips) decodes in the prebuilt binaries. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif',
]);

export interface ScannedFile {
  /** Absolute root the file was found under. */
  root: string;
  /** Relative to root, forward slashes. */
  path: string;
  absolutePath: string;
  bytes: number;
  mtimeMs: number;
}

export interface ScanOptions {
  include?: string[];
  exclude?: string[];
  signal?: AbortSignal;
  /** Folders never entered (e.g. the index directory itself). */
  skipDirs?: string[];
}

export interface ScanProblems {
  /** Relative folders that could not be read (their known files are kept, not removed). */
  unreadableFolders: string[];
  /** Relative symlinked folders not entered because their target was already visited. */
  symlinkLoops: string[];
}

function globMatcher(globs: string[] | undefined): ((p: string) => boolean) | undefined {
  if (!globs || globs.length === 0) return undefined;
  const matchers = globs.map((g) => picomatch(g, { dot: true, basename: !g.includes('/') }));
  return (p) => matchers.some((m) => m(p));
}

export function isImagePath(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/** Yields image files under `root` in a stable (sorted per folder) order. */
export async function* scanRoot(root: string, options: ScanOptions, problems: ScanProblems): AsyncGenerator<ScannedFile> {
  const absoluteRoot = path.resolve(root);
  let rootStat;
  try {
    rootStat = await stat(absoluteRoot);
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `archive folder ${absoluteRoot} cannot be read: ${(cause as Error).message}`, {
      hint: 'check the path; nothing was changed in the index',
      cause,
    });
  }
  if (!rootStat.isDirectory()) {
    throw new RsclipError('BAD_INPUT', `expected a folder to index but ${absoluteRoot} is a file`, { hint: 'pass the folder that holds the images' });
  }
  const include = globMatcher(options.include);
  const exclude = globMatcher(options.exclude);
  const skip = new Set((options.skipDirs ?? []).map((d) => path.resolve(d)));
  const visited = new Set<string>([await realpath(absoluteRoot)]);
  const stack: string[] = [''];
  while (stack.length > 0) {
    if (options.signal?.aborted) return;
    const relDir = stack.pop()!;
    const absDir = path.join(absoluteRoot, relDir);
    let entries: { name: string; isDir: boolean; isFile: boolean; isLink: boolean }[] = [];
    try {
      const dir = await opendir(absDir);
      for await (const e of dir) entries.push({ name: e.name, isDir: e.isDirectory(), isFile: e.isFile(), isLink: e.isSymbolicLink() });
    } catch {
      problems.unreadableFolders.push(relDir);
      continue;
    }
    entries = entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const entry of entries) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      const abs = path.join(absoluteRoot, rel);
      let isDir = entry.isDir;
      let isFile = entry.isFile;
      let info;
      if (entry.isLink) {
        try {
          info = await stat(abs);
        } catch {
          continue; // dangling link
        }
        isDir = info.isDirectory();
        isFile = info.isFile();
      }
      if (isDir) {
        if (skip.has(abs)) continue;
        let real: string;
        try {
          real = await realpath(abs);
        } catch {
          problems.unreadableFolders.push(rel);
          continue;
        }
        if (visited.has(real)) {
          problems.symlinkLoops.push(rel);
          continue;
        }
        visited.add(real);
        subdirs.push(rel);
        continue;
      }
      if (!isFile || !isImagePath(entry.name)) continue;
      if (include && !include(rel)) continue;
      if (exclude && exclude(rel)) continue;
      try {
        info ??= await stat(abs);
      } catch {
        continue; // vanished between listing and stat
      }
      yield { root: absoluteRoot, path: rel, absolutePath: abs, bytes: info.size, mtimeMs: info.mtimeMs };
    }
    // reverse so that popping visits folders in name order
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}

/**
 * The files of a given list (relative to `root`, e.g. a STAC catalog's assets) as a scan would
 * find them; a listed file that does not exist is reported as unreadable (its row is kept).
 */
export async function* listedFiles(root: string, relPaths: readonly string[]): AsyncGenerator<ScannedFile> {
  for (const rel of relPaths) {
    const absolutePath = path.join(root, ...rel.split('/'));
    const info = await stat(absolutePath).catch(() => undefined);
    yield { root, path: rel, absolutePath, bytes: info?.isFile() ? info.size : 0, mtimeMs: info?.mtimeMs ?? 0 };
  }
}
