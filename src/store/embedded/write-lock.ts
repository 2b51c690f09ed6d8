/**
 * One writer per index: `index.lock` is a small SQLite database whose RESERVED lock (taken by
 * `BEGIN IMMEDIATE` and held until release) is the write lock. The operating system keeps that
 * lock (a POSIX record lock), so:
 * - acquisition is atomic: of any number of processes starting at once, exactly one gets it;
 * - it dies with its process (kill -9, power loss): nothing is ever stale, and a reused pid
 *   (PID 1 in containers, restarted pods) can never keep an index locked.
 * The file itself is never deleted (deleting a lock file others hold open lets two writers
 * lock two different files). It also records who holds the lock, for the refusal message;
 * readers never take it (SQLite WAL lets them read while the writer commits).
 *
 * An `index.lock` of rsclip 0.1 (JSON text: pid, host, since) is honoured while its process
 * lives on this host, and replaced otherwise.
 */
import Database from 'better-sqlite3';
import { readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { processAlive } from '../../process-alive.js';
import './sqlite-uri.js';
import { DISK_FULL_HINT, isDiskFull } from './write-failures.js';

export const LOCK_FILE = 'index.lock';

/** How long the holder waits for lock-holder readers while recording itself (they read for microseconds). */
const RECORD_TIMEOUT_MS = 10_000;

interface Holder {
  pid: number;
  host: string;
  since: string;
}


function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

function unwritable(dir: string, cause: unknown): RsclipError {
  const code = (cause as NodeJS.ErrnoException).code ?? sqliteCode(cause);
  const readOnly = code === 'EROFS' || code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN';
  if (isDiskFull(cause)) return new RsclipError('INDEX_UNWRITABLE', `cannot lock index ${dir} for writing: no space left on the device`, { cause, hint: DISK_FULL_HINT });
  return new RsclipError('INDEX_UNWRITABLE', `cannot lock index ${dir} for writing: ${(cause as Error).message}`, {
    cause,
    hint: readOnly
      ? 'the index folder cannot be written (a read-only disk or no permission): search and serve still work; copy the index to a writable disk to update it'
      : 'check the permissions and free space of the index directory',
  });
}

function lockedBy(dir: string, holder: Holder | undefined): RsclipError {
  const who = holder ? `process ${holder.pid}${holder.host === hostname() ? '' : ` on host ${holder.host}`} (since ${holder.since})` : 'another process';
  return new RsclipError('INDEX_LOCKED', `index ${dir} is being written by ${who}`, {
    hint: 'wait for it to finish, or stop it; the lock is released when that process ends, however it ends',
  });
}

/** A lock file of rsclip 0.1 (JSON): refused while its process lives here, else removed so that the SQLite lock can be made. */
function clearLegacyLock(dir: string, file: string): void {
  let holder: Partial<Holder> | undefined;
  try {
    holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
  } catch {
    holder = undefined; // half-written by a 0.1 writer that died creating it
  }
  if (holder && typeof holder.pid === 'number' && (holder.host === undefined || holder.host === hostname()) && processAlive(holder.pid)) {
    throw lockedBy(dir, { pid: holder.pid, host: holder.host ?? hostname(), since: String(holder.since) });
  }
  if (holder && holder.host !== undefined && holder.host !== hostname()) {
    throw new RsclipError('INDEX_LOCKED', `index ${dir} is locked by process ${holder.pid} on host ${holder.host} (an older rsclip)`, {
      hint: `if no rsclip runs there, delete ${file}`,
    });
  }
  try {
    unlinkSync(file);
  } catch {
    // another process replaced it first
  }
}

export class WriteLock {
  private released = false;

  private constructor(
    readonly file: string,
    /** The connection whose open transaction is the lock; closing it (or exiting) releases it. */
    private readonly db: Database.Database,
  ) {}

  static acquire(dir: string): WriteLock {
    const file = path.join(dir, LOCK_FILE);
    for (let attempt = 0; ; attempt++) {
      let db: Database.Database;
      try {
        db = new Database(file, { timeout: 0 });
      } catch (cause) {
        throw unwritable(dir, cause);
      }
      try {
        return WriteLock.lock(dir, file, db);
      } catch (error) {
        db.close();
        if (sqliteCode(error) === 'SQLITE_NOTADB' && attempt === 0) {
          clearLegacyLock(dir, file);
          continue;
        }
        if (error instanceof RsclipError) throw error;
        throw unwritable(dir, error);
      }
    }
  }

  private static lock(dir: string, file: string, db: Database.Database): WriteLock {
    if (!WriteLock.begin(db)) throw lockedBy(dir, WriteLock.readHolder(db));
    // record who holds it (a committed row others can read while we hold RESERVED), then take it again
    db.exec('CREATE TABLE IF NOT EXISTS holder (one INTEGER PRIMARY KEY CHECK (one = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL)');
    db.prepare('INSERT OR REPLACE INTO holder (one, pid, host, since) VALUES (1, ?, ?, ?)').run(process.pid, hostname(), new Date().toISOString());
    db.pragma(`busy_timeout = ${RECORD_TIMEOUT_MS}`);
    db.exec('COMMIT');
    db.pragma('busy_timeout = 0');
    // between COMMIT and BEGIN another process may take the lock: then it is the writer, and we are not
    if (!WriteLock.begin(db)) throw lockedBy(dir, WriteLock.readHolder(db));
    return new WriteLock(file, db);
  }

  /** BEGIN IMMEDIATE without waiting: true when this connection now holds the write lock. */
  private static begin(db: Database.Database): boolean {
    try {
      db.exec('BEGIN IMMEDIATE');
      return true;
    } catch (error) {
      if (sqliteCode(error)?.startsWith('SQLITE_BUSY')) return false;
      throw error;
    }
  }

  private static readHolder(db: Database.Database): Holder | undefined {
    try {
      db.pragma(`busy_timeout = ${RECORD_TIMEOUT_MS}`);
      return db.prepare('SELECT pid, host, since FROM holder WHERE one = 1').get() as Holder | undefined;
    } catch {
      return undefined; // the holder has not recorded itself yet
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }
}
