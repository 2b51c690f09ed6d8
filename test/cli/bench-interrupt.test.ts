/**
 * `rsclip bench` mistakes and Ctrl-C: an archive folder that is not there (or holds no images) fails
 * at once, before the minutes of measuring; a bad --seconds is an option error (exit 2) like any
 * other; Ctrl-C stops it (exit 130) without leaving its temporary index and sample behind.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let archive: string;
let modelDir: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-bench-interrupt-'));
  archive = path.join(work, 'archive');
  mkdirSync(archive);
  for (let i = 0; i < 6; i++) writeFileSync(path.join(archive, `tile_${i}.png`), makePng(i + 1, 32, 32));
  modelDir = await tinyModelDir();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const QUICK = ['--variant', 'int8', '--threads', '1', '--queries', '2'];

it('fails at once, before measuring anything, on an archive folder that is not there or holds no images', async () => {
  const missing = path.join(work, 'no-such-folder');
  const empty = path.join(work, 'empty');
  mkdirSync(empty);
  writeFileSync(path.join(empty, 'notes.txt'), 'no images here');
  for (const [folder, message] of [
    [missing, `rsclip: no archive folder at ${missing} (check the path of the image folder to sample, or leave it out to skip the indexing measurement)`],
    [empty, `rsclip: no image files under ${empty} (pass the folder that holds the images)`],
    [path.join(empty, 'notes.txt'), `rsclip: ${path.join(empty, 'notes.txt')} is a file, not an archive folder (pass the folder that holds the images)`],
  ]) {
    // --seconds 30: measuring first would take a minute
    // in a folder without an index at the default place: the queries would be skipped, not refused
    const result = await runCli(['bench', folder!, '--model', modelDir, '--seconds', '30', ...QUICK], { cwd: work });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe(`${message}\n`);
  }
}, 60_000);

it('refuses --seconds 0 as it refuses any other bad option (exit 2)', async () => {
  for (const seconds of ['0', '-1', 'abc']) {
    const result = await runCli(['bench', '--model', modelDir, '--seconds', seconds]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`error: option '--seconds <s>' argument '${seconds}' is invalid. expected a positive number of seconds, got "${seconds}"`);
  }
}, 60_000);

/** Runs `rsclip bench` with its temporary folders in a folder of their own; resolves its exit once `waitFor` is seen on stderr and `act` has run. */
async function benchInterrupted(args: string[], env: Record<string, string>, waitFor: RegExp, act: (child: ReturnType<typeof spawnCli>, temp: string) => Promise<void>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; left: string[] }> {
  const temp = mkdtempSync(path.join(work, 'tmp-'));
  // no index at the default place in `work`: the queries are skipped
  const child = spawnCli(['bench', archive, '--model', modelDir, ...QUICK, ...args], { cwd: work, env: { TMPDIR: temp, ...env } });
  let stderr = '';
  const seen = new Promise<void>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (waitFor.test(stderr)) resolve();
    });
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, signal) => resolve([code, signal])));
  await Promise.race([seen, exited]);
  await act(child, temp);
  const [code, signal] = await exited;
  return { code, signal, stderr, left: readdirSync(temp).filter((name) => name.startsWith('rsclip-bench-')) };
}

it('stops on Ctrl-C during a measurement with exit 130', async () => {
  const result = await benchInterrupted(['--seconds', '60'], {}, /rsclip bench: encoder int8\n/, async (child) => {
    // inside the minute of measuring
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill('SIGINT');
  });
  expect({ code: result.code, signal: result.signal }, result.stderr).toEqual({ code: 130, signal: null });
  expect(result.stderr).toContain('rsclip bench: stopping after the measurement in flight (Ctrl-C again to quit at once)');
  expect(result.stderr).toMatch(/rsclip: bench interrupted: nothing is reported\n$/);
  expect(result.left).toEqual([]);
}, 120_000);

it('removes its temporary index and sample when Ctrl-C comes while it indexes, also on a second Ctrl-C that ends it by SIGINT at once (130 in a shell)', async () => {
  // the indexing of the sample waits at its first scanned file (a test hook): the temporary folder is there then
  const result = await benchInterrupted(['--seconds', '0.05'], { RSCLIP_DEBUG_PAUSE_AT: 'scan' }, /RSCLIP_PAUSED scan\n/, async (child, temp) => {
    expect(readdirSync(temp).filter((name) => name.startsWith('rsclip-bench-'))).toHaveLength(1);
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 500));
    // still waiting where it was paused: the second Ctrl-C quits at once
    child.kill('SIGINT');
  });
  expect({ code: result.code, signal: result.signal }, result.stderr).toEqual({ code: null, signal: 'SIGINT' });
  expect(result.stderr).toContain('rsclip bench: stopping after the measurement in flight (Ctrl-C again to quit at once)');
  expect(result.left).toEqual([]);
}, 120_000);
