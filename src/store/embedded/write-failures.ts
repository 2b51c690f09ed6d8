/**
 * Writes that fail because of the disk (full, read-only, failing) become one RsclipError line
 * that says what happened and what was kept: the catalog commits atomically and the graph file
 * is replaced only after it was checked on the disk, so a failed write never loses anything
 * committed before it.
 */
import { statfsSync } from 'node:fs';
import { open, statfs } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';

/** Below this much free space, a short graph file is blamed on a full disk. */
const NEARLY_FULL_BYTES = 1 << 20;

const GRAPH_KEPT = 'the catalog keeps every commit and the previous graph file was kept';
const CATALOG_KEPT = 'this change was not written; every earlier commit is kept';

type DiskProblem = 'full' | 'read-only' | 'failing' | undefined;

function errorCode(error: unknown): string | undefined {
  for (let e = error; e !== null && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function diskProblem(code: string | undefined): DiskProblem {
  if (code === undefined) return undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return 'full';
  if (code === 'EROFS' || code.startsWith('SQLITE_READONLY')) return 'read-only';
  if (code === 'EIO' || code.startsWith('SQLITE_IOERR')) return 'failing';
  return undefined;
}

/** What each disk problem is, and what to do about it in the index directory `dir`. */
export const DISK_FULL_HINT = 'free some space (or move the index to a larger disk) and run the command again (an indexing run or a copy continues where it stopped)';

/** Whether `error` (or its cause) says the disk is full. */
export function isDiskFull(error: unknown): boolean {
  return diskProblem(errorCode(error)) === 'full';
}

const DISK_WORDS: Record<Exclude<DiskProblem, undefined>, { what: string; hint: (dir: string) => string }> = {
  full: { what: 'no space left on the device', hint: () => DISK_FULL_HINT },
  'read-only': { what: 'the file system is read-only', hint: () => 'search and serve work on a read-only index; copy it to a writable disk to update it' },
  failing: { what: 'the disk reported an input/output error', hint: (dir) => `check the disk, then run \`rsclip doctor --index ${dir}\`` },
};

export interface WriteFailure {
  problem: DiskProblem;
  detail: string;
}

/** Why a graph file write failed: the error's own code, or a nearly full disk for a short file. */
export async function describeWriteFailure(dir: string, error: unknown): Promise<WriteFailure> {
  const detail = (error as Error)?.message ?? String(error);
  let problem = diskProblem(errorCode(error));
  if (!problem) {
    const free = await statfs(dir).then(
      (s) => s.bavail * s.bsize,
      () => undefined,
    );
    if (free !== undefined && free < NEARLY_FULL_BYTES) problem = 'full';
  }
  return { problem, detail };
}

/** INDEX_UNWRITABLE for a graph file that could not be written. */
export function graphNotWritten(file: string, failure: WriteFailure, cause: unknown): RsclipError {
  if (failure.problem) {
    const words = DISK_WORDS[failure.problem];
    return new RsclipError('INDEX_UNWRITABLE', `cannot write the HNSW graph ${file}: ${words.what}; ${GRAPH_KEPT}`, { cause, hint: words.hint(path.dirname(file)) });
  }
  return new RsclipError('INDEX_UNWRITABLE', `cannot write the HNSW graph ${file}: ${failure.detail}; ${GRAPH_KEPT}`, {
    cause,
    hint: 'check the free space and permissions of the index directory',
  });
}

/**
 * An SQLite error of a catalog read or write as an RsclipError (a full, read-only or failing
 * disk, a damaged catalog); anything else is returned unchanged.
 */
export function catalogError(file: string, error: unknown, reading = false): unknown {
  if (error instanceof RsclipError) return error;
  const code = errorCode(error);
  let problem = diskProblem(code);
  // SQLite says "disk I/O error" where a full disk fails it in some places (sizing its WAL index, say)
  if (problem === 'failing' && nearlyFull(path.dirname(file))) problem = 'full';
  if (problem) {
    const words = DISK_WORDS[problem];
    // a reader changes nothing, but SQLite writes beside the catalog to open it (its WAL index)
    if (reading) return new RsclipError('INDEX_UNWRITABLE', `cannot open ${file} to read it: ${words.what} (SQLite needs a few kilobytes beside a catalog to read it)`, { cause: error, hint: words.hint(path.dirname(file)) });
    return new RsclipError('INDEX_UNWRITABLE', `cannot write ${file}: ${words.what}; ${CATALOG_KEPT}`, { cause: error, hint: words.hint(path.dirname(file)) });
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT_')) {
    return new RsclipError('INDEX_CORRUPT', `${file} is damaged (${(error as Error).message})`, { cause: error, hint: `run \`rsclip doctor --repair --index ${path.dirname(file)}\`` });
  }
  return error;
}

function nearlyFull(dir: string): boolean {
  try {
    const { bavail, bsize } = statfsSync(dir);
    return bavail * bsize < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}

/** Makes a rename in `dir` durable; file systems that cannot sync a directory are left as they are. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // EINVAL/EISDIR on some file systems: the rename itself is still atomic
  }
}
