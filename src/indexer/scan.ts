/**
 * Walks archive roots for image files. Symbolic links are followed while they stay inside the
 * root (folders once: loops are cut by real path); a link leading outside the root is counted as
 * skipped unless `followLinks` allows it (a link planted in a shared archive must not pull
 * /etc or another user's files into an index that a server then serves). Unreadable folders are
 * reported and skipped, never fatal. Every file seen is either yielded (an image to index) or
 * counted as skipped with its reason: a format sharp cannot read (BMP, JPEG 2000...), not an
 * image, excluded by a glob, a name that is not valid UTF-8, a dangling link, a link leading
 * outside the root, not a regular file, hidden. Hidden files and folders (a name starting with a
 * dot: `.Trash-1000`, macOS's `._x.jpg` resource forks) and the system folders of NAS boxes and
 * other operating systems (Synology's `@eaDir` thumbnails, recycle bins) are not archive content
 * and are skipped unless `includeHidden` asks for them.
 */
import { opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { RsclipError } from '../errors.js';
import { worldFileCandidates } from '../geo/world-file.js';
import { isInside, realPathOrResolved } from '../path-inside.js';
import { oneField, oneFieldOfBytes } from '../one-field.js';

/** Extensions of the formats sharp (libvips) decodes in the prebuilt binaries. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif',
]);

/** Image formats found in archives that the prebuilt sharp cannot decode, by extension. */
const UNREADABLE_IMAGE_FORMATS: ReadonlyMap<string, string> = new Map([
  ['.bmp', 'BMP'], ['.dib', 'BMP'],
  ['.jp2', 'JPEG 2000'], ['.j2k', 'JPEG 2000'], ['.jpf', 'JPEG 2000'], ['.jpx', 'JPEG 2000'],
  ['.svg', 'SVG'], ['.ico', 'ICO'], ['.psd', 'PSD'], ['.tga', 'TGA'], ['.pcx', 'PCX'],
  ['.ppm', 'Netpbm'], ['.pgm', 'Netpbm'], ['.pbm', 'Netpbm'], ['.pnm', 'Netpbm'],
  ['.exr', 'OpenEXR'], ['.hdr', 'Radiance HDR'],
  ['.dng', 'camera raw'], ['.cr2', 'camera raw'], ['.nef', 'camera raw'], ['.arw', 'camera raw'],
  ['.ecw', 'ECW'], ['.sid', 'MrSID'], ['.hdf', 'HDF'], ['.h5', 'HDF'], ['.nc', 'netCDF'],
]);

/** Folders that operating systems and NAS boxes keep beside the user's files (thumbnails, recycle bins, snapshots). */
const SYSTEM_FOLDERS: ReadonlySet<string> = new Set([
  '@eaDir', '#recycle', '#snapshot', '@Recycle', '@Recently-Snapshot', '$RECYCLE.BIN', 'System Volume Information', 'lost+found',
]);

/** Whether an entry is hidden (a name starting with a dot) or a system folder: not archive content. */
export function isHiddenEntry(name: string, isFolder: boolean): boolean {
  return name.startsWith('.') || (isFolder && SYSTEM_FOLDERS.has(name));
}

export const HIDDEN_FOLDER = 'hidden or system folder, not entered (--include-hidden indexes what it holds)';
export const HIDDEN_FILE = 'hidden file (its name starts with a dot; --include-hidden indexes it)';

/** Paths quoted per skip reason. */
const SKIP_EXAMPLES = 3;

export interface ScannedFile {
  /** Absolute root the file was found under. */
  root: string;
  /** Relative to root, forward slashes. */
  path: string;
  absolutePath: string;
  bytes: number;
  mtimeMs: number;
  /** Status change time (a content rewritten with its size and mtime kept, or a file moved over another, still changes it). */
  ctimeMs: number;
  /** The world file the folder's listing holds for it (null: none), so that opening the image need not look. */
  worldFile?: string | null;
}

export interface ScanOptions {
  include?: string[];
  exclude?: string[];
  signal?: AbortSignal;
  /** Folders never entered (e.g. the index directory itself). */
  skipDirs?: string[];
  /** Follow symbolic links that lead outside the root too (default: such links are skipped and counted). */
  followLinks?: boolean;
  /** Index hidden files and enter hidden and system folders too (default: skipped and counted). */
  includeHidden?: boolean;
}

/** The skip reason of a link leading outside its root (the README quotes it). */
export const LINK_OUTSIDE_ROOT = 'symbolic link leading outside the archive folder (not followed; --follow-links indexes it)';


/** Files seen but not indexed, for one reason. */
export interface SkippedFiles {
  reason: string;
  count: number;
  /** The first few, relative to their root, shown as oneField shows names (and bytes that are not UTF-8 as \xHH: oneFieldOfBytes), so that each stays one line and two names never read the same. */
  examples: string[];
}

export interface ScanProblems {
  /** Relative folders that could not be read (their known files are kept, not removed). */
  unreadableFolders: string[];
  /** Relative symlinked folders not entered because their target was already visited. */
  symlinkLoops: string[];
  /** Files seen and not indexed, by reason. */
  skipped: SkippedFiles[];
}

export function newScanProblems(): ScanProblems {
  return { unreadableFolders: [], symlinkLoops: [], skipped: [] };
}

/** Counts a skipped file; `shown`: its path as SkippedFiles.examples shows it. */
function countSkipped(problems: ScanProblems, reason: string, shown: string): void {
  let entry = problems.skipped.find((s) => s.reason === reason);
  if (!entry) {
    entry = { reason, count: 0, examples: [] };
    problems.skipped.push(entry);
  }
  entry.count++;
  if (entry.examples.length < SKIP_EXAMPLES) entry.examples.push(shown);
}

function globMatcher(globs: string[] | undefined): ((p: string) => boolean) | undefined {
  if (!globs || globs.length === 0) return undefined;
  const matchers = globs.map((g) => picomatch(g, { dot: true, basename: !g.includes('/') }));
  return (p) => matchers.some((m) => m(p));
}

export function isImagePath(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/** Why a file that is not an indexable image is skipped. */
function notAnImageReason(name: string): string {
  const format = UNREADABLE_IMAGE_FORMATS.get(path.extname(name).toLowerCase());
  return format ? `image format rsclip cannot read (${format}): convert to PNG, JPEG or TIFF to index it` : 'not an image file (by its extension)';
}

/** A file name as bytes -> its text, or undefined when the bytes are not valid UTF-8 (no path string could open it). */
function utf8Name(raw: Buffer): string | undefined {
  const name = raw.toString('utf8');
  return Buffer.from(name, 'utf8').equals(raw) ? name : undefined;
}

/** Checks that every root is an existing folder, before anything is written; returns them resolved. */
export async function checkArchiveRoots(roots: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  for (const root of roots) {
    const absoluteRoot = path.resolve(root);
    let info;
    try {
      info = await stat(absoluteRoot);
    } catch (cause) {
      const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
      throw new RsclipError('BAD_INPUT', missing ? `archive folder ${absoluteRoot} does not exist` : `archive folder ${absoluteRoot} cannot be read: ${(cause as Error).message}`, {
        hint: 'check the path; nothing was changed in the index',
        cause,
      });
    }
    if (!info.isDirectory()) {
      throw new RsclipError('BAD_INPUT', `expected a folder to index but ${absoluteRoot} is a file`, { hint: 'pass the folder that holds the images; nothing was changed in the index' });
    }
    resolved.push(absoluteRoot);
  }
  return resolved;
}

/**
 * Refuses roots that are one folder, or one inside another, by their real paths (a symbolic link
 * to a folder is that folder): each file would be indexed twice, under two roots. `held`: the
 * roots the index holds files under (but those forgotten in this run), checked the same way
 * against the roots given.
 */
export function checkRootsApart(roots: readonly string[], held: readonly string[] = []): void {
  const given = roots.map((root) => ({ root: path.resolve(root), real: realPathOrResolved(root) }));
  const indexed = held.filter((root) => !given.some((g) => g.root === root)).map((root) => ({ root, real: realPathOrResolved(root) }));
  const unchanged = 'nothing was changed in the index';
  for (const a of given) {
    for (const b of given) {
      if (a === b || !isInside(b.real, a.real)) continue;
      const same = a.real === b.real;
      throw new RsclipError('BAD_INPUT', same ? `archive folders ${b.root} and ${a.root} are the same folder (${a.real})` : `archive folder ${a.root} is inside ${b.root}: its files would be indexed twice`, {
        hint: `index ${b.root} alone; ${unchanged}`,
      });
    }
    for (const b of indexed) {
      // moved under the new name in one run: the forgotten folder's files are removed after the run, and their vectors reused before
      const move = `\`rsclip index ${a.root} --forget ${b.root}\` indexes them under ${a.root} (their vectors are reused)`;
      if (a.real === b.real) throw new RsclipError('BAD_INPUT', `archive folder ${a.root} is the folder the index holds as ${b.root}: its files would be indexed twice`, { hint: `index ${b.root}, or ${move}; ${unchanged}` });
      if (isInside(b.real, a.real)) throw new RsclipError('BAD_INPUT', `archive folder ${a.root} is inside ${b.root}, which the index holds: its files would be indexed twice`, { hint: `index ${b.root} (it includes ${a.root}); ${unchanged}` });
      if (isInside(a.real, b.real)) throw new RsclipError('BAD_INPUT', `archive folder ${a.root} holds ${b.root}, which the index holds as a folder of its own: its files would be indexed twice`, { hint: `${move}; ${unchanged}` });
    }
  }
}

interface Entry {
  raw: Buffer;
  isDir: boolean;
  isFile: boolean;
  isLink: boolean;
}

/** Yields image files under `root` in a stable (sorted per folder) order. */
export async function* scanRoot(root: string, options: ScanOptions, problems: ScanProblems): AsyncGenerator<ScannedFile> {
  const [absoluteRoot] = await checkArchiveRoots([root]);
  const include = globMatcher(options.include);
  const exclude = globMatcher(options.exclude);
  const skip = new Set((options.skipDirs ?? []).map((d) => path.resolve(d)));
  const realRoot = await realpath(absoluteRoot!);
  const visited = new Set<string>([realRoot]);
  const stack: string[] = [''];
  // folders reached through a link, entered once no real folder is left: a real folder claims its
  // real path before any link to it (else it is indexed under the link, and itself called a loop)
  const linked: { rel: string; real: string }[] = [];
  for (;;) {
    if (options.signal?.aborted) return;
    if (stack.length === 0) {
      const link = linked.shift();
      if (!link) break;
      if (visited.has(link.real)) {
        problems.symlinkLoops.push(link.rel);
        continue;
      }
      visited.add(link.real);
      stack.push(link.rel);
    }
    const relDir = stack.pop()!;
    const absDir = path.join(absoluteRoot!, relDir);
    let entries: Entry[] = [];
    try {
      // names as bytes: a name that is not UTF-8 must be seen to be counted
      const dir = await opendir(absDir, { encoding: 'buffer' as BufferEncoding });
      for await (const e of dir) entries.push({ raw: e.name as unknown as Buffer, isDir: e.isDirectory(), isFile: e.isFile(), isLink: e.isSymbolicLink() });
    } catch {
      problems.unreadableFolders.push(relDir);
      continue;
    }
    entries = entries.sort((a, b) => Buffer.compare(a.raw, b.raw));
    const fileNames = new Set(entries.flatMap((e) => (e.isDir ? [] : [e.raw.toString('utf8')])));
    const subdirs: string[] = [];
    for (const entry of entries) {
      const name = utf8Name(entry.raw);
      if (name === undefined) {
        const shown = relDir === '' ? oneFieldOfBytes(entry.raw) : `${oneField(relDir)}/${oneFieldOfBytes(entry.raw)}`;
        countSkipped(problems, entry.isDir ? 'folder name is not valid UTF-8 (rename it to index what it holds)' : 'file name is not valid UTF-8 (rename it to index it)', shown);
        continue;
      }
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (!options.includeHidden && isHiddenEntry(name, entry.isDir)) {
        countSkipped(problems, entry.isDir ? HIDDEN_FOLDER : HIDDEN_FILE, oneField(rel));
        continue;
      }
      const abs = path.join(absoluteRoot!, rel);
      let isDir = entry.isDir;
      let isFile = entry.isFile;
      let info;
      if (entry.isLink) {
        try {
          info = await stat(abs);
        } catch (error) {
          const loop = (error as NodeJS.ErrnoException).code === 'ELOOP';
          countSkipped(problems, loop ? 'symbolic link loop (a link that leads back to itself)' : 'symbolic link to nothing (dangling)', oneField(rel));
          continue;
        }
        isDir = info.isDirectory();
        isFile = info.isFile();
        if (!options.followLinks && !isInside(realRoot, await realpath(abs).catch(() => abs))) {
          countSkipped(problems, LINK_OUTSIDE_ROOT, oneField(rel));
          continue;
        }
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
        if (entry.isLink) {
          linked.push({ rel, real });
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
      if (!isFile) {
        countSkipped(problems, 'not a regular file (a socket, pipe or device)', oneField(rel));
        continue;
      }
      if (!isImagePath(name)) {
        countSkipped(problems, notAnImageReason(name), oneField(rel));
        continue;
      }
      if ((include && !include(rel)) || (exclude && exclude(rel))) {
        countSkipped(problems, 'excluded by --include/--exclude', oneField(rel));
        continue;
      }
      try {
        info ??= await stat(abs);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          countSkipped(problems, 'vanished while the folder was scanned', oneField(rel));
          continue;
        }
        // a folder that may be listed but not entered (no search permission): none of its files
        // can be read, so they are kept as an unreadable folder's are, not taken for vanished
        problems.unreadableFolders.push(relDir);
        break;
      }
      const worldFileName = worldFileCandidates(name).find((candidate) => fileNames.has(candidate));
      yield { root: absoluteRoot!, path: rel, absolutePath: abs, bytes: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, worldFile: worldFileName ? path.join(absDir, worldFileName) : null };
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
  // a path listed twice (a STAC catalog naming one asset from two items) is one file
  for (const rel of new Set(relPaths)) {
    const absolutePath = path.join(root, ...rel.split('/'));
    const info = await stat(absolutePath).catch(() => undefined);
    yield { root, path: rel, absolutePath, bytes: info?.isFile() ? info.size : 0, mtimeMs: info?.mtimeMs ?? 0, ctimeMs: info?.ctimeMs ?? 0 };
  }
}
