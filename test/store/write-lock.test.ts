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

describe('WriteLock', () => {
  it('holds the pid, host and time of its writer, and removes the file on release (twice is harmless)', () => {
    const lock = WriteLock.acquire(dir);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toEqual({ pid: process.pid, host: hostname(), since: expect.any(String) });
    lock.release();
    lock.release();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('refuses a second writer while the holder lives', () => {
    const lock = WriteLock.acquire(dir);
    expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_LOCKED', message: expect.stringContaining(`process ${process.pid}`) }));
    lock.release();
    WriteLock.acquire(dir).release();
  });

  it('takes over a lock of a dead process and a half-written one', () => {
    for (const content of [JSON.stringify({ pid: DEAD_PID, host: hostname(), since: 'then' }), '{"pid": 12']) {
      writeFileSync(lockFile(), content);
      const lock = WriteLock.acquire(dir);
      expect(JSON.parse(readFileSync(lockFile(), 'utf8')).pid).toBe(process.pid);
      lock.release();
    }
  });

  it('refuses a lock taken on another host, saying which file to delete', () => {
    writeFileSync(lockFile(), JSON.stringify({ pid: DEAD_PID, host: 'elsewhere', since: 'then' }));
    expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_LOCKED', hint: `if no rsclip runs there, delete ${lockFile()}` }));
    expect(existsSync(lockFile())).toBe(true);
  });

  it('leaves a lock that another process took meanwhile', () => {
    const lock = WriteLock.acquire(dir);
    writeFileSync(lockFile(), JSON.stringify({ pid: DEAD_PID, host: hostname(), since: 'later' }));
    lock.release();
    expect(existsSync(lockFile())).toBe(true);
  });

  // root writes anywhere, so permissions cannot refuse it there
  it.skipIf(process.getuid?.() === 0)('says the index cannot be written when its folder refuses the lock file', () => {
    chmodSync(dir, 0o500);
    try {
      expect(() => WriteLock.acquire(dir)).toThrow(expect.objectContaining({ code: 'INDEX_UNWRITABLE', message: expect.stringMatching(/^cannot lock index .*EACCES/) }));
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});
