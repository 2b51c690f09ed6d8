/**
 * A worker that may not read a file (another user's, in a folder it may not enter) records
 * "permission denied", as the local indexer does, not the decoder's "unsupported image format"
 * or "file not found". Run as an unprivileged user (nobody, when the tests run as root, which
 * reads everything).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-unreadable-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const READER = `
import { readFileWindows } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/queue/read-windows.js')).href)};
const encoder = { preprocess: async () => { throw new Error('the decoder was reached'); } };
const results = [];
for (const file of process.argv.slice(1)) results.push(await readFileWindows(file, [{ key: 'k', read: { whole: true } }], encoder, 1));
process.stdout.write(JSON.stringify(results));
`;

function readAsAnotherUser(files: string[]): Promise<{ key: string; error?: string }[][]> {
  const asRoot = process.getuid?.() === 0;
  const child = spawn(process.execPath, ['--input-type=module', '-e', READER, ...files], { ...(asRoot ? { uid: 65534, gid: 65534 } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`reader exited ${code}: ${err}`)))));
}

it.skipIf(process.platform === 'win32')('a worker that may not read a file, or enter its folder, records permission denied', async () => {
  chmodSync(work, 0o755);
  const unreadable = path.join(work, 'private.png');
  writeFileSync(unreadable, makePng(1, 8, 8));
  chmodSync(unreadable, 0o000);
  const closed = path.join(work, 'closed');
  mkdirSync(closed);
  writeFileSync(path.join(closed, 'inside.png'), makePng(2, 8, 8));
  chmodSync(closed, 0o000);
  try {
    const [ofFile, ofFolder] = await readAsAnotherUser([unreadable, path.join(closed, 'inside.png')]);
    expect(ofFile).toEqual([{ key: 'k', error: expect.stringMatching(/^cannot read file: .*permission denied/) }]);
    expect(ofFolder).toEqual([{ key: 'k', error: expect.stringMatching(/^cannot read file: .*permission denied/) }]);
  } finally {
    chmodSync(closed, 0o755);
  }
});
