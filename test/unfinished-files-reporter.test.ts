/**
 * The suite's reporter of unfinished files (test/unfinished-files-reporter.ts), in a run of its
 * own: a worker process that dies mid-test ends vitest's run at once, and the reporter names
 * the file and the test it was running; a run that ends normally gets nothing from it.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/cli.js';

// vitest's command (its package exports no path to it)
const VITEST = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const CONFIG = path.join(REPO_ROOT, 'test/fixtures/dying-worker/vitest.config.ts');

// the `runner` loader reads the config without writing a bundled copy of it next to it
function runFixture(...filters: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG, '--configLoader', 'runner', ...filters], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: run.status, output: run.stdout + run.stderr };
}

const HEADING = '[rsclip tests] the run ended while these test files were running';

describe('the reporter of unfinished test files', () => {
  it('names the file and the test whose worker process died', () => {
    const { status, output } = runFixture();
    expect(status, output).toBe(1);
    const report = output.slice(output.indexOf(HEADING));
    expect(report, output).toMatch(new RegExp(`^\\[rsclip tests\\].*\\n  test/fixtures/dying-worker/dies\\.check\\.ts \\(for \\d+\\.\\d s; running: "side by side > shares its name"\\)\\n$`));
  });

  it('says nothing after a run that ends normally', () => {
    const { status, output } = runFixture('passes');
    expect(status, output).toBe(0);
    expect(output).toContain('1 passed');
    expect(output).not.toContain(HEADING);
  });
});
