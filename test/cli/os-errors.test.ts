/**
 * Errors a user can cause through the operating system (issue 10, item 15) print one line that
 * says what to do, never "internal error" and a stack trace; `up` finds a busy port before it
 * indexes anything.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSystemError } from '../../src/cli/os-errors.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

/** An OS error as node raises it (code, syscall, path, address, port). */
function systemError(code: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${code}: ${String(fields.syscall ?? 'op')} failed`), { code, ...fields });
}

function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rsclip: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/internal error|\n\s+at /);
}

describe('describeSystemError', () => {
  it('explains the OS and SQLite errors a user can cause, in one line with what to do', () => {
    const cases: [Error, RegExp][] = [
      [systemError('EADDRINUSE', { syscall: 'listen', address: '127.0.0.1', port: 8080 }), /^port 8080 on 127\.0\.0\.1 is already in use .*pass --port .*\[EADDRINUSE\]$/],
      [systemError('EACCES', { syscall: 'listen', address: '0.0.0.0', port: 80 }), /port 80 on 0\.0\.0\.0: ports below 1024 need administrator rights/],
      [systemError('EACCES', { syscall: 'open', path: '/data/index/catalog.sqlite' }), /^permission denied \(open \/data\/index\/catalog\.sqlite\): check who owns/],
      [systemError('ENOSPC', { syscall: 'write', path: '/data/index/vectors.hnsw.tmp' }), /^no space left on the device \(write \/data\/index\/vectors\.hnsw\.tmp\): free some space/],
      [systemError('EROFS', { syscall: 'mkdir', path: '/mnt/cdrom/index' }), /^the file system is read-only \(mkdir \/mnt\/cdrom\/index\): use a folder on a writable disk/],
      [systemError('SQLITE_CORRUPT'), /^the index catalog is damaged .*rsclip doctor.*\[SQLITE_CORRUPT\]$/],
      [systemError('SQLITE_IOERR_WRITE'), /disk failed .* \[SQLITE_IOERR_WRITE\]$/],
      [systemError('SQLITE_FULL'), /no space left on the device for the index catalog/],
      [systemError('EMFILE'), /too many open files: raise the limit/],
      [systemError('ENOTFOUND', { syscall: 'getaddrinfo', hostname: 'nosuchhost.invalid' }), /^no address found for the host name nosuchhost\.invalid: check its spelling .*without brackets\) \[ENOTFOUND\]$/],
      [systemError('EAI_AGAIN', { syscall: 'getaddrinfo', hostname: 'tiles.example' }), /^the host name tiles\.example could not be looked up now/],
      [systemError('ENXIO', { syscall: 'open', path: '/dev/tty' }), /^no such device \(open \/dev\/tty\): a terminal or device that is not there .*\[ENXIO\]$/],
      [systemError('EPIPE', { syscall: 'write', path: '/tmp/fifo' }), /^the reader of the output closed it before the end \(write \/tmp\/fifo\): the output is incomplete \[EPIPE\]$/],
    ];
    for (const [error, pattern] of cases) {
      const line = describeSystemError(error);
      expect(line, String(error)).toMatch(pattern);
      expect(line).not.toContain('\n');
    }
  });

  it('finds the OS error through a chain of causes, and leaves programming errors alone', () => {
    const wrapped = new Error('saving the graph failed', { cause: new Error('write failed', { cause: systemError('ENOSPC', { syscall: 'write', path: '/x' }) }) });
    expect(describeSystemError(wrapped)).toMatch(/^no space left on the device/);
    expect(describeSystemError(new TypeError('undefined is not a function'))).toBeUndefined();
    expect(describeSystemError(systemError('ERR_SOMETHING_INTERNAL'))).toBeUndefined();
    const loop: { code?: string; cause?: unknown } = {};
    loop.cause = loop;
    expect(describeSystemError(loop)).toBeUndefined();
  });
});

describe('a busy port or an unknown host', () => {
  let root: string;
  let busy: Server;
  let port: number;
  let modelDir: string;
  const images = (): string => path.join(root, 'images');

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-busy-port-'));
    mkdirSync(images());
    for (let i = 0; i < 3; i++) writeFileSync(path.join(images(), `tile-${i}.png`), makePng(500 + i, 40, 40));
    modelDir = await tinyModelDir();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  }, 120_000);
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  it('stops `rsclip up` before it indexes anything, with one line', async () => {
    const index = path.join(root, 'up-index');
    const result = await runCli(['up', images(), '--model', modelDir, '--index', index, '--port', String(port), '--threads', '1']);
    expect(result.code).toBe(1);
    expectOneLine(result.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    expect(existsSync(index)).toBe(false);
  });

  it('stops `rsclip serve` with one line', async () => {
    const index = path.join(root, 'serve-index');
    const indexed = await runCli(['index', images(), '--model', modelDir, '--index', index, '--threads', '1']);
    expect(indexed.code, indexed.stderr).toBe(0);
    const result = await runCli(['serve', '--index', index, '--port', String(port), '--threads', '1']);
    expect(result.code).toBe(1);
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('rsclip:') || /internal error|^\s+at /.test(l));
    expectOneLine(errors.join('\n'), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    // before the model was loaded: it never logged that it was ready
    expect(result.stderr).not.toMatch(/warmed up/);
  });

  it('stops `rsclip serve` on a host name that does not resolve with one line (it was an internal error)', async () => {
    const result = await runCli(['serve', '--index', path.join(root, 'serve-index'), '--host', 'nosuchhost.invalid', '--port', String(port), '--token', 't']);
    expect(result.code).toBe(1);
    expectOneLine(result.stderr, /no address found for the host name nosuchhost\.invalid: .*\[ENOTFOUND\]$/);
  });
});
