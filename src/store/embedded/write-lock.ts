/**
 * One writer per index: `index.lock` holds the writer's pid. A lock whose process is gone
 * (kill -9, power loss) is stale and taken over; readers never take it (SQLite WAL lets
 * them read while the writer commits).
 */
import { openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { RsclipError } from '../../errors.js';

export const LOCK_FILE = 'index.lock';

interface LockContent {
  pid: number;
  host: string;
  since: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockContent | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
}

export class WriteLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly file: string) {
    process.once('exit', this.onExit);
  }

  static acquire(dir: string): WriteLock {
    const file = path.join(dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        const content: LockContent = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
        writeSync(fd, JSON.stringify(content));
        closeSync(fd);
        return new WriteLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new RsclipError('INDEX_UNWRITABLE', `cannot lock index ${dir}: ${(error as Error).message}`, { cause: error, hint: 'check the permissions of the index directory' });
        }
      }
      const holder = readLock(file);
      const sameHost = holder?.host === undefined || holder.host === hostname();
      if (holder && sameHost && processAlive(holder.pid)) {
        throw new RsclipError('INDEX_LOCKED', `index ${dir} is being written by process ${holder.pid} (since ${holder.since})`, {
          hint: 'wait for it to finish, or stop it; a lock left by a dead process is taken over automatically',
        });
      }
      if (holder && !sameHost) {
        throw new RsclipError('INDEX_LOCKED', `index ${dir} is locked by process ${holder.pid} on host ${holder.host}`, {
          hint: `if no rsclip runs there, delete ${file}`,
        });
      }
      // stale: a dead pid, or a half-written lock from a writer killed while creating it
      try {
        unlinkSync(file);
      } catch {
        // someone else removed it first
      }
    }
    throw new RsclipError('INDEX_LOCKED', `could not lock index ${dir}: ${file} keeps reappearing`, {
      hint: 'another rsclip is starting on this index; retry when it is done',
    });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    const holder = readLock(this.file);
    if (holder?.pid === process.pid) {
      try {
        unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }
}
