/**
 * The README's ways to get the `rsclip` command (issue 10, item 25), run as written but offline and
 * into a throw-away global prefix: `npm link --ignore-scripts` in the clone puts a working `rsclip`
 * on the PATH for every folder; `npx rsclip` works in the clone and `npx --prefix <clone> rsclip`
 * from anywhere. Needs dist/ (npm test builds it first) and npm on the PATH.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { version } from '../../src/version.js';
import { REPO_ROOT } from '../fixtures/cli.js';

let work: string;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-install-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('getting the rsclip command, as the README says', () => {
  it('the README gives the commands tested here', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm link --ignore-scripts');
    expect(readme).toContain('npx --prefix /path/to/rsclip rsclip');
  });

  it('npm runs in the clone without a warning (no unknown key in a project .npmrc)', async () => {
    const result = await run('npm', ['pkg', 'get', 'name'], REPO_ROOT);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('"rsclip"');
    expect(result.stderr).toBe('');
  });

  it('`npm link --ignore-scripts` in the clone gives an `rsclip` that runs from any folder', async () => {
    const prefix = path.join(work, 'global');
    const linked = await run('npm', ['link', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], REPO_ROOT, { npm_config_prefix: prefix });
    expect(linked.code, linked.stderr).toBe(0);
    expect(linked.stderr).not.toMatch(/npm warn/i);
    const elsewhere = mkdtempSync(path.join(work, 'elsewhere-'));
    const result = await run(path.join(prefix, 'bin', 'rsclip'), ['--version'], elsewhere);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('`npx rsclip` runs in the clone, and `npx --prefix <clone> rsclip` from any folder, without the registry', async () => {
    // npx's first run in an npm cache installs the clone into its own cache, running the clone's
    // prepare and install scripts in the clone (tsc into dist/, node-gyp rebuild of the native
    // addon, which deletes it first) under the test files that run beside this one: a CLI test
    // then read half-written modules; dist/ and the addon are built already
    const noScripts = { npm_config_ignore_scripts: 'true' };
    const inClone = await run('npx', ['--offline', 'rsclip', '--version'], REPO_ROOT, noScripts);
    expect(inClone.code, inClone.stderr).toBe(0);
    expect(inClone.stdout.trim()).toBe(version);
    const fromAnywhere = await run('npx', ['--offline', '--prefix', REPO_ROOT, 'rsclip', '--version'], work, noScripts);
    expect(fromAnywhere.code, fromAnywhere.stderr).toBe(0);
    expect(fromAnywhere.stdout.trim()).toBe(version);
  });
});
