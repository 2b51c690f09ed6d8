/**
 * Read-only media: SQLite cannot read a WAL-mode catalog in a folder it cannot write (it needs to
 * create catalog.sqlite-shm) unless the file is opened as immutable, which takes a URI filename.
 * better-sqlite3 turns URI filenames on when SQLITE_USE_URI=1 is set before it loads its native
 * addon (at the first `new Database`); every SQLite handle of rsclip is made under src/store, whose
 * modules import this one first. Plain paths are unaffected (only names starting with `file:` are URIs).
 */
process.env.SQLITE_USE_URI ??= '1';

/** The URI that opens `file` (an absolute path) as immutable: no locks, no WAL, no -shm. */
export function immutableUri(file: string): string {
  return `file:${encodeURI(file).replace(/[?#]/g, encodeURIComponent)}?immutable=1`;
}
