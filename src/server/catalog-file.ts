/**
 * The archive files the server hands out (the original and its thumbnails): only a regular file
 * whose real path lies under the real archive root and whose size and modification time are
 * still those the catalog recorded. A file swapped for a symbolic link that leads elsewhere (to
 * /etc/shadow, say) is not followed, a path that became a directory or changed since indexing
 * is refused, each with a re-index hint; a message names the archive-relative path only. An
 * archive indexed with `--follow-links` is served with `--follow-links` too: its files may then
 * lie outside the root, and the size and time checks still hold.
 */
import { constants, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { withPathsRenamed } from '../errors.js';
import { isInside } from '../path-inside.js';
import { HttpError } from './http-error.js';

/** What the catalog knows of a file (a structural subset of the store's record). */
export interface CatalogFile {
  id: number;
  /** Absolute path of the archive root the file was indexed under. */
  root: string;
  /** Path relative to `root`, with forward slashes. */
  path: string;
  absolutePath: string;
  bytes: number;
  mtimeMs: number;
}

const REINDEX_HINT = 'run `rsclip index` on the archive to bring the index up to date';

function gone(file: CatalogFile): HttpError {
  return new HttpError(404, 'NOT_FOUND', `the file ${file.path} is no longer on disk`, {}, REINDEX_HINT);
}

function outsideArchive(file: CatalogFile): HttpError {
  return new HttpError(404, 'NOT_FOUND', `the file ${file.path} now leads outside its archive folder (a symbolic link?), so it is not served`, {}, REINDEX_HINT);
}

function changed(file: CatalogFile, what: string): HttpError {
  return new HttpError(409, 'FILE_CHANGED', `the file ${file.path} ${what} since it was indexed`, {}, REINDEX_HINT);
}

const isMissing = (error: unknown): boolean => ['ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '');

/** The file's real path, after checking that it lies under the real archive root (unless links outside it were followed at index time). */
async function realPathInsideRoot(file: CatalogFile, followLinks: boolean): Promise<string> {
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(file.absolutePath), realpath(file.root)]);
  } catch (error) {
    if (isMissing(error)) throw gone(file);
    throw error;
  }
  if (real === root || (!followLinks && !isInside(root, real))) throw outsideArchive(file);
  return real;
}

function checkUnchanged(file: CatalogFile, info: Stats): void {
  if (!info.isFile()) throw changed(file, `is no longer a regular file (it is ${info.isDirectory() ? 'a directory' : 'a special file'} now)`);
  if (info.size !== file.bytes || info.mtimeMs !== file.mtimeMs) throw changed(file, 'changed on disk');
}

/** An error of a reader that opened `realPath`, naming the file by its archive-relative path instead. */
export function withArchivePath(error: unknown, file: CatalogFile, realPath: string): unknown {
  return withPathsRenamed(error, [
    [realPath, file.path],
    [file.absolutePath, file.path],
  ]);
}

/** The real path of a catalog file that passes every check, for readers that open paths (thumbnails). */
export async function verifiedCatalogPath(file: CatalogFile, followLinks = false): Promise<string> {
  const real = await realPathInsideRoot(file, followLinks);
  checkUnchanged(file, await stat(real));
  return real;
}

/**
 * Sends a catalog file from the very descriptor that was checked: opened without following a
 * final symbolic link, and compared (device and inode) with what the path leads to afterwards,
 * so a swap between the check and the read cannot change what is sent.
 */
export async function sendCatalogFile(file: CatalogFile, req: Request, res: Response, followLinks = false): Promise<void> {
  const real = await realPathInsideRoot(file, followLinks);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO put in a file's place would otherwise wait for a writer, holding
    // one of libuv's four threads, which every other file read of the server shares; on a
    // regular file it changes nothing
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isMissing(error)) throw gone(file);
    throw error;
  }
  let streaming = false;
  try {
    const info = await handle.stat();
    checkUnchanged(file, info);
    const now = await stat(await realPathInsideRoot(file, followLinks)).catch(() => undefined);
    if (!now || now.ino !== info.ino || now.dev !== info.dev) throw changed(file, 'was replaced');
    res.type(path.extname(file.path) || 'application/octet-stream');
    res.set({
      'Content-Length': String(info.size),
      'Last-Modified': info.mtime.toUTCString(),
      ETag: `W/"${info.size.toString(16)}-${Math.trunc(info.mtimeMs).toString(16)}"`,
      'Cache-Control': 'private, max-age=3600',
    });
    if (req.fresh) {
      res.removeHeader('Content-Length');
      res.status(304).end();
    } else if (req.method === 'HEAD') res.end();
    else {
      // the stream owns the descriptor from here and closes it
      streaming = true;
      // a client that goes away mid-file ends the pipeline; nothing is left to answer then
      await pipeline(handle.createReadStream(), res).catch(() => undefined);
    }
  } finally {
    if (!streaming) await handle.close();
  }
}
