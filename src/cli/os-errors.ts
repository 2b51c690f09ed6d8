/**
 * Operating-system and SQLite errors that a user can cause (a busy port, a full or read-only disk,
 * a file without permission, a damaged catalog) as one line that says what happened and what to
 * do, instead of "internal error" and a stack trace. The error may be wrapped: the `cause` chain
 * is searched for the first code known here.
 */

interface SystemError {
  code?: unknown;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
  hostname?: string;
  message?: string;
  cause?: unknown;
}

const where = (e: SystemError): string => (e.path ? ` (${e.syscall ? `${e.syscall} ` : ''}${e.path})` : '');
const endpoint = (e: SystemError): string => (e.port !== undefined ? `port ${e.port}${e.address ? ` on ${e.address}` : ''}` : 'the address');
const listening = (e: SystemError): boolean => e.syscall === 'listen' || e.syscall === 'bind';

const DAMAGED_CATALOG = 'check it with `rsclip doctor`, or build the index again into an empty folder';

/** By error code (SQLite codes also match their extended forms, e.g. SQLITE_IOERR_WRITE). */
const EXPLANATIONS: Record<string, (e: SystemError) => string> = {
  EADDRINUSE: (e) => `${endpoint(e)} is already in use by another program (another rsclip serve?): stop it, or pass --port with another port (--port 0 picks a free one)`,
  EADDRNOTAVAIL: (e) => `cannot listen on ${e.address ?? 'that address'}: this machine has no such address; pass --host with one of its own (127.0.0.1 for this machine only)`,
  ENOTFOUND: (e) => `no address found for the host name ${e.hostname ?? ''}: check its spelling and this machine's DNS (an address to listen on is given as it is, e.g. 127.0.0.1, ::1 or 0.0.0.0, without brackets)`,
  EAI_AGAIN: (e) => `the host name ${e.hostname ?? ''} could not be looked up now (DNS did not answer): check the network and run the command again`,
  EACCES: (e) =>
    listening(e)
      ? `no permission to listen on ${endpoint(e)}: ports below 1024 need administrator rights; pass --port with a port above 1023`
      : `permission denied${where(e)}: check who owns that file or folder and its permissions`,
  EPERM: (e) => `operation not permitted${where(e)}: check who owns that file or folder and its permissions`,
  ENOSPC: (e) => `no space left on the device${where(e)}: free some space, or use a folder on another disk, then run the command again`,
  EDQUOT: (e) => `disk quota exceeded${where(e)}: free some space within your quota, then run the command again`,
  EROFS: (e) => `the file system is read-only${where(e)}: use a folder on a writable disk for what this command writes`,
  EMFILE: () => 'too many open files: raise the limit (e.g. `ulimit -n 4096`) and run the command again',
  ENFILE: () => 'the system ran out of file handles: close other programs or raise the system limit, then run the command again',
  ENOENT: (e) => `no such file or folder${where(e)}: check the path`,
  ENOTDIR: (e) => `a part of the path is a file, not a folder${where(e)}: check the path`,
  EISDIR: (e) => `expected a file but found a folder${where(e)}: check the path`,
  ENXIO: (e) => `no such device${where(e)}: a terminal or device that is not there (under cron, or docker without -t, there is no /dev/tty); pass a file, or - for stdout`,
  EPIPE: (e) => `the reader of the output closed it before the end${where(e)}: the output is incomplete`,
  EIO: (e) => `input/output error${where(e)}: the disk or the network file system failed; check it and run the command again`,
  SQLITE_CORRUPT: () => `the index catalog is damaged (SQLite: database disk image is malformed): ${DAMAGED_CATALOG}`,
  SQLITE_NOTADB: () => `the index catalog is not an SQLite database (overwritten or damaged): ${DAMAGED_CATALOG}`,
  SQLITE_FULL: () => 'no space left on the device for the index catalog: free some space, then run the command again',
  SQLITE_READONLY: () => 'the index catalog is read-only: use an index folder you may write to for commands that change it',
  SQLITE_CANTOPEN: () => 'cannot open the index catalog: check that the index folder exists and that you may read and write it',
  SQLITE_IOERR: () => 'the disk failed while reading or writing the index catalog (SQLite I/O error): check the disk and run the command again',
  SQLITE_BUSY: () => 'the index catalog is busy in another process: wait for it to finish and run the command again',
  SQLITE_PERM: () => 'no permission to use the index catalog: check who owns the index folder and its permissions',
};

function explain(e: SystemError): string | undefined {
  if (typeof e.code !== 'string') return undefined;
  const code = e.code;
  const key = code in EXPLANATIONS ? code : Object.keys(EXPLANATIONS).find((k) => k.startsWith('SQLITE_') && code.startsWith(`${k}_`));
  return key ? `${EXPLANATIONS[key]!(e)} [${code}]` : undefined;
}

/** The one-line explanation of the first known OS or SQLite error in `error`'s cause chain, if any. */
export function describeSystemError(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e = error; e !== null && typeof e === 'object' && !seen.has(e); e = (e as SystemError).cause) {
    seen.add(e);
    const line = explain(e as SystemError);
    if (line) return line.replace(/\s*\n\s*/g, ' ');
  }
  return undefined;
}
