/**
 * A file written beside its target and renamed into place once complete, so that a failed write
 * (a full disk) leaves no half-written file and an earlier file stays whole until replaced: where
 * it is written, and errors that name the target rather than the file written.
 */
import { rmSync } from 'node:fs';
import { readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { withPathsRenamed } from './errors.js';
import { processAlive } from './process-alive.js';

const SUFFIX = '.partial';

/** A partial file untouched this long, of a process no longer running, was left by a kill. */
const LEFT_BEHIND_MS = 10 * 60_000;

export interface Staging {
  /** The file renamed into place: `file`, or the file a symbolic link at `file` leads to (the link keeps leading to it). */
  destination: string;
  /** Hidden beside it: `.<name>.<tag>.partial`. */
  partial: string;
  /** The permission bits of the file replaced (a private 0600 export stays private); undefined for a new file, which keeps the umask's. */
  mode: number | undefined;
}

/**
 * Where `file` is staged (tag: what keeps concurrent writers apart, the pid by default); undefined
 * for what is not a file (a named pipe): written directly. A name of one of the process's
 * descriptors (/dev/stdout: see descriptorNamed) is not for this: it leads to whatever the
 * descriptor is open on, a regular file under `>> job.log`, which staging would replace.
 */
export async function stagingFor(file: string, tag = String(process.pid)): Promise<Staging | undefined> {
  const existing = await stat(file).catch(() => undefined);
  if (existing && !existing.isFile()) return undefined;
  const destination = existing ? await realpath(file) : file;
  await removeLeftBehind(destination);
  return { destination, partial: path.join(path.dirname(destination), `.${path.basename(destination)}.${tag}${SUFFIX}`), mode: existing ? existing.mode & 0o7777 : undefined };
}

/** The partial files this process is writing now: what a signal that ends it must remove first (removeWrittenNow). */
const writtenNow = new Set<string>();

/** Marks `partial` as being written until the returned function is called. */
export function writingPartial(partial: string): () => void {
  writtenNow.add(partial);
  return () => writtenNow.delete(partial);
}

/** How many files this process has put in place (renamed to their names) so far. */
let placed = 0;

/** Counts a file put in place (see placedFiles). */
export function placedFile(): void {
  placed++;
}

export function placedFiles(): number {
  return placed;
}

/** Removes the partial files being written now, at once (the process is about to end by a signal). */
export function removeWrittenNow(): void {
  for (const partial of writtenNow) rmSync(partial, { force: true });
}

/**
 * Removes the partial files of `destination` that killed writers left: their pid (the tag's first
 * part) runs no more and none was written for LEFT_BEHIND_MS (a pid of another machine sharing the
 * folder may look dead here; its file keeps changing while it writes).
 */
async function removeLeftBehind(destination: string): Promise<void> {
  const prefix = `.${path.basename(destination)}.`;
  const folder = path.dirname(destination);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    const tag = name.startsWith(prefix) && name.endsWith(SUFFIX) ? name.slice(prefix.length, -SUFFIX.length) : '';
    // the tags rsclip gives: the pid, or the pid and 8 hex digits (not another file's name and a pid)
    const pid = Number(/^(\d+)(?:\.[0-9a-f]{8})?$/.exec(tag)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    const file = path.join(folder, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile() && Date.now() - info.mtimeMs >= LEFT_BEHIND_MS) await rm(file, { force: true });
  }
}

/** `error` naming, for each [partial, name], the name where it named the partial file (its path and its message). */
export function namedAsTarget(error: unknown, renames: readonly (readonly [partial: string, name: string])[]): unknown {
  const failure = error as NodeJS.ErrnoException;
  for (const [from, to] of renames) {
    if (failure.path === from) failure.path = to;
    if (typeof failure.message === 'string') failure.message = failure.message.replaceAll(from, to);
  }
  return withPathsRenamed(error, renames);
}
