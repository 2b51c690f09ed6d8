/**
 * The `rsclip` program: its global options and the registration of each command. Each command
 * lives in src/cli/<name>.ts and registers itself on the program.
 */
import { Command } from 'commander';
import { CONFIG_FILE_NAME, ENV_OVERRIDES } from '../config.js';
import { version } from '../version.js';

type Registration = (program: Command) => void;

/** The `model` group: its subcommands live in three files. */
async function modelCommands(): Promise<Registration> {
  const [info, exporting, fetching] = await Promise.all([import('./model.js'), import('./model-export.js'), import('./model-fetch.js')]);
  return (program) => {
    const model = program.command('model').description('inspect, fetch, export and quantise CLIP models');
    info.registerModelCommands(model);
    exporting.registerModelExportCommand(model);
    fetching.registerModelFetchCommand(model);
  };
}

const indexCommands = async (): Promise<Registration> => (await import('./index-cmd.js')).registerIndexCommands;

/**
 * Each top-level command and how to load the file that registers it, in the order help lists them.
 * A run loads only its command's file (and what that imports), not every command's libraries
 * (express, bullmq, the exporters): 0.05-0.2 s less per start on a 2-core machine.
 */
const COMMANDS: Record<string, () => Promise<Registration>> = {
  model: modelCommands,
  embed: async () => (await import('./embed.js')).registerEmbedCommand,
  index: indexCommands,
  doctor: indexCommands,
  errors: indexCommands,
  eval: async () => (await import('./eval.js')).registerEvalCommands,
  search: async () => (await import('./search.js')).registerSearchCommand,
  serve: async () => (await import('./serve.js')).registerServeCommand,
  up: async () => (await import('./up.js')).registerUpCommand,
  bench: async () => (await import('./bench.js')).registerBenchCommand,
  export: async () => (await import('./export.js')).registerExportCommand,
  worker: async () => (await import('./worker.js')).registerWorkerCommand,
  locate: async () => (await import('./locate.js')).registerLocateCommand,
};

/** The command an argument list names: its first word that is neither an option nor the value of --config. */
function commandNameOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') i++;
    else if (!args[i]!.startsWith('-')) return args[i];
  }
  return undefined;
}

/** The program with the commands `argv` needs: its command alone, none for the version, or every one (help, a mistyped name). */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
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
  const args = argv.slice(2);
  const name = commandNameOf(args);
  // the version flag wins over help in commander: it prints the version and exits
  const versionOnly = name === undefined && args.some((arg) => arg === '-V' || arg === '--version');
  const loaders = versionOnly ? [] : name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : [...new Set(Object.values(COMMANDS))];
  for (const register of await Promise.all(loaders.map((load) => load()))) register(program);
  return program;
}
