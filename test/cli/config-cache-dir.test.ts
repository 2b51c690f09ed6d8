/**
 * The settings file's `cacheDir` is where every command that opens a model remembers its file
 * hashes (file-hashes.json), not only where `model fetch` and `up` keep downloads.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

describe('the config file\'s cacheDir', () => {
  let work: string;
  let model: string;
  const project = (): string => path.join(work, 'project');
  const configured = (): string => path.join(work, 'cfgcache');
  const home = (): string => path.join(work, 'home');
  const env = (): NodeJS.ProcessEnv => ({ HOME: home(), XDG_CACHE_HOME: undefined, RSCLIP_CACHE_DIR: undefined, RSCLIP_CONFIG: undefined, RSCLIP_THREADS: '1' });

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-cfgcache-'));
    model = await tinyModelDir();
    mkdirSync(project());
    mkdirSync(home());
    mkdirSync(path.join(work, 'images'));
    for (let i = 0; i < 3; i++) writeFileSync(path.join(work, 'images', `s${i}.png`), makePng(i, 40, 40));
    writeFileSync(path.join(project(), 'rsclip.config.json'), JSON.stringify({ cacheDir: '../cfgcache', model }));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each([
    ['embed', ['embed', '-t', 'river']],
    ['index', ['index', '../images', '--index', '../ix']],
    ['search', ['search', 'river', '--index', '../ix']],
    ['model info', ['model', 'info', '<model>']],
  ] as [string, string[]][])('holds the file hashes of %s', async (_name, args) => {
    rmSync(configured(), { recursive: true, force: true });
    const run = await runCli(args.map((arg) => (arg === '<model>' ? model : arg)), { cwd: project(), env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(path.join(configured(), 'file-hashes.json'))).toBe(true);
    expect(existsSync(path.join(home(), '.cache', 'rsclip', 'file-hashes.json'))).toBe(false);
  });
});
