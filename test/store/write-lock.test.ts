import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, WriteLock } from '../../src/store/embedded/write-lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rsclip-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lockFile = () => path.join(dir, LOCK_FILE);
const DEAD_PID = 2 ** 22 + 4321;

/** The holder row as another process would read it. */
function recordedHolder(): unknown {
  const db = new Database(lockFile(), { readonly: true });
  try {
    return db.prepare('SELECT pid, host, since FROM holder').get();
  } finally {
    db.close();
  }
}

describe('WriteLock', () => {
  it('records its holder, and is free again after release (twice is harmless); the file stays', () => {
    const lock = WriteLock.acquire(dir);
    expect(recordedHolder()).toEqual({ pid: process.pid, host: hostname(), since: expect.any(String) });
    lock.release();
    lock.release();
    expect(existsSync(lockFile())).toBe(true);
    WriteLock.acquire(dir).release();
  });

  it('refuses a second writer while the holder lives, naming it', () => {
    const lock = WriteLock.acquire(dir);
    expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_LOCKED', message: expect.stringContaining(`process ${process.pid} (since `) }));
    lock.release();
    WriteLock.acquire(dir).release();
  });

  it('is free as soon as its process dies, whatever the recorded pid now belongs to (pid reuse)', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      import { WriteLock } from ${JSON.stringify(path.resolve('src/store/embedded/write-lock.ts'))};
      WriteLock.acquire(${JSON.stringify(dir)});
      process.kill(process.pid, 'SIGKILL');
    `], { encoding: 'utf8' });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    // the dead writer's row now names a live process (as when PID 1 is reused in a container)
    const db = new Database(lockFile());
    db.prepare('UPDATE holder SET pid = ?').run(process.pid);
    db.close();
    const lock = WriteLock.acquire(dir);
    expect(recordedHolder()).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('replaces a lock file of rsclip 0.1 left by a dead process or half-written, and honours one whose process lives', () => {
    for (const content of [JSON.stringify({ pid: DEAD_PID, host: hostname(), since: 'then' }), '{"pid": 12', '']) {
      writeFileSync(lockFile(), content);
      const lock = WriteLock.acquire(dir);
      expect(recordedHolder()).toMatchObject({ pid: process.pid });
      lock.release();
      rmSync(lockFile());
    }
    writeFileSync(lockFile(), JSON.stringify({ pid: process.pid, host: hostname(), since: 'then' }));
    expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_LOCKED', message: expect.stringContaining(`process ${process.pid}`) }));
    writeFileSync(lockFile(), JSON.stringify({ pid: DEAD_PID, host: 'elsewhere', since: 'then' }));
    expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_LOCKED', hint: `if no rsclip runs there, delete ${lockFile()}` }));
    expect(readFileSync(lockFile(), 'utf8')).toContain('elsewhere');
  });

  // root writes anywhere, so permissions cannot refuse it there
  it.skipIf(process.getuid?.() === 0)('says the index cannot be written when its folder refuses the lock file', () => {
    chmodSync(dir, 0o500);
    try {
      expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_UNWRITABLE', message: expect.stringMatching(/^cannot lock index .* for writing/) }));
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});
