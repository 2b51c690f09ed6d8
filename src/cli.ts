#!/usr/bin/env node
/**
 * The `rsclip` command: wiring only. The program (src/cli/program.ts) loads the command a run
 * names; errors a user causes are printed on one line.
 */
import { CommanderError } from 'commander';
import { RsclipError } from './errors.js';
import { describeSystemError } from './cli/os-errors.js';
import { buildProgram } from './cli/program.js';

export function printError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed its message
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof RsclipError) {
    process.stderr.write(`rsclip: ${error.toOneLine()}\n`);
    if (process.env.RSCLIP_DEBUG) console.error(error);
    return 1;
  }
  const systemError = describeSystemError(error);
  if (systemError) {
    process.stderr.write(`rsclip: ${systemError}\n`);
    if (process.env.RSCLIP_DEBUG) console.error(error);
    return 1;
  }
  process.stderr.write(`rsclip: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return 70;
}

// a reader that stops early (`rsclip search ... | head`) closes the pipe: the command stops quietly,
// as Unix tools do, instead of dying on an unhandled EPIPE with a stack trace; other write errors
// (a full disk under `> file`) end it with their one line
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`rsclip: cannot write the output: ${describeSystemError(error) ?? error.message}\n`);
  process.exit(1);
});

// rsclip's own warnings (an index converted, a model taken, int8 weights that saturate) are one
// line each, as its errors are; a library caller gets them as Node warnings with their code.
// Node's default printer (removed here) adds its pid and a trace hint to every warning.
process.removeAllListeners('warning');
process.on('warning', (warning: Error & { code?: string }) => {
  const rsclips = warning.code?.startsWith('RSCLIP_') === true;
  process.stderr.write(rsclips ? `rsclip: warning: ${warning.message}\n` : `(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
});

async function main(): Promise<void> {
  try {
    await (await buildProgram(process.argv)).parseAsync(process.argv);
  } catch (error) {
    process.exitCode = printError(error);
  }
}

await main();
