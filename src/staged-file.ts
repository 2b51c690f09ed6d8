/**
 * A file written beside its target and renamed into place once complete, so that a failed write
 * (a full disk) leaves no half-written file and an earlier file stays whole until replaced: where
 * it is written, and errors that name the target rather than the file written.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { withPathsRenamed } from './errors.js';

export interface Staging {
  /** The file renamed into place: `file`, or the file a symbolic link at `file` leads to (the link keeps leading to it). */
  destination: string;
  /** Hidden beside it: `.<name>.<tag>.partial`. */
  partial: string;
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
  return { destination, partial: path.join(path.dirname(destination), `.${path.basename(destination)}.${tag}.partial`) };
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
