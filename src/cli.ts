#!/usr/bin/env node
/**
 * The `rsclip` command: wiring only. Each command lives in src/cli/<name>.ts and
 * registers itself on the program; errors a user causes are printed on one line.
 */
import { Command, CommanderError } from 'commander';
import { CONFIG_FILE_NAME, ENV_OVERRIDES } from './config.js';
import { RsclipError } from './errors.js';
import { describeSystemError } from './cli/os-errors.js';
import { version } from './version.js';
// command registrations: one import per command file
import { registerSearchCommand } from './cli/search.js';
import { registerServeCommand } from './cli/serve.js';
import { registerEvalCommands } from './cli/eval.js';
import { registerIndexCommands } from './cli/index-cmd.js';
import { registerModelCommands } from './cli/model.js';
import { registerModelFetchCommand } from './cli/model-fetch.js';
import { registerModelExportCommand } from './cli/model-export.js';
import { registerEmbedCommand } from './cli/embed.js';
import { registerUpCommand } from './cli/up.js';
import { registerBenchCommand } from './cli/bench.js';
import { registerExportCommand } from './cli/export.js';
import { registerWorkerCommand } from './cli/worker.js';
import { registerLocateCommand } from './cli/locate.js';

export function buildProgram(): Command {
  const program = new Command('rsclip')
    .description('Search remote-sensing image archives by text or example image (CLIP + HNSW + SQLite).')
    .version(version, '-V, --version')
    .option('--config <file>', `settings file (default: ./${CONFIG_FILE_NAME} if present; also RSCLIP_CONFIG)`)
    .hook('preAction', (command) => {
      // every command reads its settings through loadConfig(), which honours RSCLIP_CONFIG
      const file = command.opts<{ config?: string }>().config;
      if (file) process.env.RSCLIP_CONFIG = file;
    })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `\nSettings: flags override environment variables (${Object.keys(ENV_OVERRIDES).join(', ')}), which override ${CONFIG_FILE_NAME}.\nRun \`rsclip <command> --help\` for a command's options.`,
    );
  const model = program.command('model').description('inspect, fetch, export and quantise CLIP models');
  registerModelCommands(model);
  registerModelExportCommand(model);
  registerModelFetchCommand(model);
  registerEmbedCommand(program);
  registerIndexCommands(program);
  registerEvalCommands(program);
  registerSearchCommand(program);
  registerServeCommand(program);
  registerUpCommand(program);
  registerBenchCommand(program);
  registerExportCommand(program);
  registerWorkerCommand(program);
  registerLocateCommand(program);
  // more registrations go here, one line per command file
  return program;
}

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

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    process.exitCode = printError(error);
  }
}

await main();
