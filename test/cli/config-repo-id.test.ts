/**
 * A Hub repo id as the model (`--model owner/name`, or `"model": "owner/name"` in the settings
 * file) is the fetched copy in the model cache for every command that takes --model, as for
 * `rsclip up`; nothing is downloaded, and a repo id that was never fetched names the fetch to run.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

const COMMIT = 'a'.repeat(40);

describe('a Hub repo id as the model, fetched into the config\'s cacheDir', () => {
  let work: string;
  const project = (): string => path.join(work, 'project');
  // HF_ENDPOINT points nowhere: a command that tried to download would fail
  const env = (): NodeJS.ProcessEnv => ({ HOME: path.join(work, 'home'), XDG_CACHE_HOME: undefined, RSCLIP_CACHE_DIR: undefined, RSCLIP_CONFIG: undefined, RSCLIP_MODEL: undefined, RSCLIP_THREADS: '1', HF_ENDPOINT: 'http://127.0.0.1:9' });

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-repo-id-'));
    // the layout `rsclip model fetch qa/tiny-onnx` leaves (hub/cache.ts)
    const repoDir = path.join(project(), 'cache', 'models', 'qa--tiny-onnx');
    cpSync(await tinyModelDir(), path.join(repoDir, COMMIT), { recursive: true });
    mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
    writeFileSync(path.join(repoDir, 'refs', 'main'), `${COMMIT}\n`);
    mkdirSync(path.join(work, 'home'));
    for (const label of ['river', 'forest']) {
      mkdirSync(path.join(work, 'images', label), { recursive: true });
      for (let i = 0; i < 2; i++) writeFileSync(path.join(work, 'images', label, `${label}_${i}.png`), makePng(i + (label === 'river' ? 0 : 5), 40, 40));
    }
    writeFileSync(path.join(project(), 'rsclip.config.json'), JSON.stringify({ model: 'qa/tiny-onnx', cacheDir: 'cache' }));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each([
    ['embed', ['embed', '--text', 'river']],
    ['model tokenize', ['model', 'tokenize', 'a river']],
    ['model tokenize --model', ['model', 'tokenize', '--model', 'qa/tiny-onnx', 'a river']],
    ['model info', ['model', 'info', 'qa/tiny-onnx']],
    ['eval zero-shot', ['eval', 'zero-shot', '--images', '../images', '--labels-from-folders', '--resamples', '100']],
    ['index', ['index', '../images', '--index', '../ix']],
    ['search (after index)', ['search', 'river', '--index', '../ix', '--model', 'qa/tiny-onnx']],
  ] as [string, string[]][])('%s takes the cached copy', async (_name, args) => {
    const run = await runCli(args, { cwd: project(), env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/not found/);
  });

  it('a repo id that is not in the cache is refused, naming `rsclip model fetch owner/name`', async () => {
    const run = await runCli(['embed', '--model', 'qa/never-fetched', '--text', 'river'], { cwd: project(), env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('qa/never-fetched');
    expect(run.stderr).toContain('`rsclip model fetch qa/never-fetched`');
  });
});
