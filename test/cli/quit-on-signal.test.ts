/**
 * An export's signal handling (quitOnSignal): Ctrl-C or SIGTERM ends the process by the signal
 * after removing what it was writing, until the command's result is in place; a signal after
 * that is let go and the command ends with its own status (an export whose file had replaced the
 * old one exited 130, saying it had not been written).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../fixtures/cli.js';

const PROGRAM = `
const { quitOnSignal } = await import(process.env.INTERRUPT_MODULE);
const done = process.env.DONE === 'yes';
const release = quitOnSignal(() => process.stdout.write('cleaned up\\n'), () => done);
process.kill(process.pid, process.env.SIGNAL);
await new Promise((resolve) => setTimeout(resolve, 300));
release();
process.stdout.write('finished\\n');
`;

function run(signal: 'SIGINT' | 'SIGTERM', done: boolean): { status: number | null; signal: NodeJS.Signals | null; stdout: string } {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', PROGRAM], {
    encoding: 'utf8',
    env: { ...process.env, INTERRUPT_MODULE: pathToFileURL(path.join(REPO_ROOT, 'dist/cli/interrupt.js')).href, DONE: done ? 'yes' : 'no', SIGNAL: signal },
  });
  return { status: child.status, signal: child.signal, stdout: child.stdout };
}

describe('quitOnSignal', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('ends the process by %s after cleaning up while the work is not in place', (signal) => {
    const result = run(signal, false);
    expect(result.stdout).toBe('cleaned up\n');
    expect(result.signal).toBe(signal);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('lets %s go once the work is in place: the command finishes with its own status', (signal) => {
    expect(run(signal, true)).toEqual({ status: 0, signal: null, stdout: 'finished\n' });
  });
});
