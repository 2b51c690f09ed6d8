/**
 * startServer's signal handling (handleSignals, default true) in a program of its own: the server
 * closes on SIGTERM; the process then ends with status 0 unless the program listens for the
 * signal itself, whose own cleanup then runs to its end (rsclip used to exit under it).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/cli.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

let served: ServedIndex;
beforeAll(async () => {
  served = await buildServedIndex('server-signals', 2);
}, 120_000);
afterAll(() => served.remove());

const PROGRAM = `
const { startServer } = await import(process.env.RSCLIP_ENTRY);
const running = await startServer({ index: process.env.INDEX, model: process.env.MODEL_DIR, port: 0, threads: 1 });
if (process.env.OWN_CLEANUP) {
  process[process.env.LISTEN_ONCE ? 'once' : 'on']('SIGTERM', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    (await import('node:fs')).writeFileSync(process.env.OWN_CLEANUP, 'done');
    process.exit(3);
  });
}
await running.ready;
process.stdout.write('ready\\n');
`;

/** Starts the program, sends SIGTERM once it is ready, and gives its exit status. */
function statusAfterSigterm(ownCleanup: string | undefined, listenOnce = false): Promise<number | null> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', PROGRAM], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, RSCLIP_ENTRY: pathToFileURL(path.join(REPO_ROOT, 'dist/index.js')).href, INDEX: served.index, MODEL_DIR: served.modelDir, ...(ownCleanup ? { OWN_CLEANUP: ownCleanup } : {}), ...(listenOnce ? { LISTEN_ONCE: '1' } : {}) },
  });
  child.stdout!.on('data', (d: Buffer) => {
    if (d.toString().includes('ready')) child.kill('SIGTERM');
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('startServer on SIGTERM', () => {
  it('closes and ends the process with status 0 when the program does not listen for the signal', async () => {
    expect(await statusAfterSigterm(undefined)).toBe(0);
  }, 60_000);

  it.each([false, true])("closes and leaves the ending to the program's own handler (added with once: %s), whose cleanup runs to its end", async (listenOnce) => {
    const marker = path.join(served.root, `cleaned-up-${listenOnce}`);
    expect(await statusAfterSigterm(marker, listenOnce)).toBe(3);
    expect(existsSync(marker)).toBe(true);
  }, 60_000);
});
