/**
 * `rsclip up <dirs...>`: the first-run command. Checks that the port is free, resolves the model
 * (fetch + export on first use, the cache afterwards), indexes the folders incrementally, then
 * serves the web page.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_INDEX_DIR, DEFAULT_MODEL_ID, loadConfig } from '../config.js';
import { RsclipError } from '../errors.js';
import { indexArchive } from '../indexer/index-archive.js';
import { chooseIndexingThreads, indexingEncoderOptions } from '../indexer/indexing-threads.js';
import { openClip } from '../model/encoder.js';
import { MODEL_VARIANTS, openModelDirectory, type ModelVariant } from '../model/model-dir.js';
import { resolveModel } from '../model/resolve-model.js';
import { recordedModel, recordedModelGone, type RecordedModel } from '../search/open-encoder.js';
import type { LogFormat } from '../server/log-format.js';
import { assertPortAvailable } from '../server/port-check.js';
import type { EngineChoice } from '../store/engines.js';
import { modelMatches } from '../store/model-binding.js';
import { openIndex, readIndexMeta } from '../store/open-index.js';
import type { IndexMeta } from '../store/types.js';
import { hidePassword } from '../url-password.js';
import { printIndexSummary, progressDisplay } from './index-cmd.js';
import { progressReporter } from './model-fetch.js';
import { cacheDirOption, chosenLogFormat, collect, ENGINE_HELP, engineChoice, engineKeptNote, listenPort, LOG_FORMAT_HELP, logFormat, positiveInt } from './options.js';

interface UpOptions {
  model?: string;
  index?: string;
  fp32?: boolean;
  host?: string;
  port?: number;
  token?: string;
  allowedHost?: string[];
  threads?: number;
  open?: boolean;
  logFormat?: LogFormat;
  verbose?: boolean;
  engine?: EngineChoice;
  followLinks?: boolean;
  includeHidden?: boolean;
}

function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => process.stderr.write(`rsclip: could not start ${command}; open ${url} yourself\n`));
  child.unref();
}

function stage(text: string): void {
  process.stderr.write(`\n== ${text}\n`);
}

/** Whether `given` (a --model value or the settings' model) names the index's recorded model: its folder, or the Hub repo it was fetched from. */
function isRecordedModel(given: string, recorded: RecordedModel): boolean {
  return given === recorded.repoId || path.resolve(given) === path.resolve(recorded.dir);
}

/**
 * Throws, naming the variants, when the index was built with another variant of the model in
 * `modelDir` than the one `up` chose; returns when the model itself differs (openIndex says so).
 */
async function refuseOtherVariant(index: string, meta: IndexMeta, modelDir: string, chosen: { variant: ModelVariant; by: string | undefined }, cacheDir: { cacheDir?: string }): Promise<void> {
  const built = MODEL_VARIANTS.find((v) => v === meta.modelVariant);
  if (!built || built === chosen.variant || !hasVariant(modelDir, built)) return;
  const other = await openClip(modelDir, { variant: built, ...cacheDir });
  const matches = modelMatches(meta, other.info);
  await other.close();
  if (!matches) return;
  const why = chosen.by ? `, as ${chosen.by} asks` : '';
  throw new RsclipError('INDEX_INCOMPATIBLE', `index ${hidePassword(index)} was built with the ${built} variant of ${modelDir}; \`rsclip up\` chose ${chosen.variant}${why}`, {
    hint: built === 'fp32' ? 'pass --fp32' : `leave out ${chosen.by ?? '--fp32'} (the index uses ${built})`,
  });
}

function hasVariant(modelDir: string, variant: ModelVariant): boolean {
  try {
    openModelDirectory(modelDir, { variant });
    return true;
  } catch {
    return false;
  }
}

/**
 * The variant `up` runs: the one asked for (--fp32, or "variant" in the settings), else int8 when
 * the model has it and fp32 when it does not; with the words that say which and why.
 */
function chooseVariant(modelDir: string, requested: { variant: ModelVariant; by: string } | undefined): { variant: ModelVariant; note: string } {
  if (requested) {
    if (!hasVariant(modelDir, requested.variant)) {
      const present = MODEL_VARIANTS.filter((v) => hasVariant(modelDir, v));
      if (present.length > 0) {
        throw new RsclipError('MODEL_INVALID', `the model in ${modelDir} has no ${requested.variant} files, which ${requested.by} asks for (present: ${present.join(', ')})`, {
          hint: requested.by === '--fp32' ? 'leave out --fp32 to use the variant present' : `remove ${requested.by} to let \`rsclip up\` use the variant present`,
        });
      }
    }
    return { variant: requested.variant, note: `${requested.variant}, as ${requested.by} asks` };
  }
  if (hasVariant(modelDir, 'int8')) return { variant: 'int8', note: 'int8' };
  return { variant: 'fp32', note: 'fp32: the model has no int8 files' };
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('fetch the model, index the folders and serve the web page: everything a first run needs')
    .argument('<dirs...>', 'image folders to index (recursively)')
    .option('-m, --model <id|dir>', `Hub repo id or model directory (default: config "model" or ${DEFAULT_MODEL_ID})`)
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('--fp32', 'use the full-precision model instead of the int8 one')
    .option('--host <host>', 'address to bind (default 127.0.0.1: this machine only)')
    .option('-p, --port <n>', 'port, 0 to 65535 (default 8080; 0 picks a free one)', listenPort)
    .option('--token <token>', 'require this token (Authorization: Bearer, or ?token=) everywhere but /healthz and the page files')
    .option('--allowed-host <name>', 'a name this server answers for when it has no token (repeatable; IP addresses, localhost and this machine\'s name always; "*" for any): a page elsewhere cannot reach it through a name of its own (DNS rebinding)', collect)
    .option('--threads <n>', 'onnxruntime threads (default: every core up to 3, then three quarters of them, as rsclip index)', positiveInt)
    .option('--open', 'open the page in a browser')
    .option('--log-format <format>', LOG_FORMAT_HELP, logFormat)
    .option('--verbose', 'also log thumbnail requests')
    .option('--engine <engine>', ENGINE_HELP, engineChoice)
    .option('--follow-links', 'also index and serve files behind symbolic links that lead outside the folders')
    .option('--include-hidden', 'also index hidden files and what hidden and system folders hold (.name, @eaDir, $RECYCLE.BIN)')
    .addHelpText('after', '\nEnvironment: HF_ENDPOINT (Hub mirror), HF_TOKEN, RSCLIP_CACHE_DIR (model cache), RSCLIP_* config overrides.')
    .action(async (dirs: string[], opts: UpOptions) => {
      const { config } = loadConfig();
      const index = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
      const followLinks = opts.followLinks ?? config.followLinks ?? false;
      // an existing index's model and variant are the default (the one rule of openEncoderForIndex)
      const meta = await readIndexMeta(index);
      const recorded = meta && recordedModel(meta);
      const given = opts.model ?? config.model;
      if (meta && recorded && !recorded.present && !given) {
        throw recordedModelGone(meta, recorded.repoId ? `pass --model ${recorded.repoId} to fetch it again` : undefined);
      }
      const indexModel = recorded && (!given || isRecordedModel(given, recorded)) ? recorded : undefined;
      const modelSpec = given ?? indexModel?.dir ?? DEFAULT_MODEL_ID;
      const requested = opts.fp32
        ? { variant: 'fp32' as const, by: '--fp32' }
        : config.variant
          ? { variant: config.variant, by: 'the "variant" setting (config file or RSCLIP_VARIANT)' }
          : indexModel?.variant
            ? { variant: indexModel.variant, by: 'the index' }
            : undefined;
      const threads = opts.threads ?? config.threads;
      const host = opts.host ?? config.host ?? '127.0.0.1';
      const port = opts.port ?? config.port ?? 8080;
      // a busy port is found now, not after indexing the whole folder
      if (port !== 0) await assertPortAvailable(host, port);

      stage(`model ${modelSpec}`);
      const reporter = progressReporter();
      let modelDir: string;
      let variant: ModelVariant;
      try {
        const resolved = await resolveModel(modelSpec, {
          variant: requested?.variant === 'fp32' ? 'fp32' : 'int8',
          // with no variant asked for, a repository without int8 files gives fp32, as a local directory does
          acceptFp32: requested === undefined,
          onProgress: reporter.onProgress,
          ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
        });
        modelDir = resolved.modelDir;
        const chosen = chooseVariant(modelDir, requested);
        variant = chosen.variant;
        const how = indexModel && !given ? "the index's model" : !resolved.fetched ? 'local directory' : resolved.fetched.fromCache ? 'cached' : 'downloaded';
        process.stderr.write(`model ready (${how}, ${chosen.note}): ${modelDir}\n`);
      } finally {
        reporter.stop();
      }

      stage(`index ${dirs.join(', ')} -> ${hidePassword(index)}`);
      // the machine shared as `rsclip index` shares it
      const machine = chooseIndexingThreads({ onnxThreads: threads, batchSize: config.batch });
      const encoder = await openClip(modelDir, { variant, ...indexingEncoderOptions(machine), ...cacheDirOption(config) });
      const display = progressDisplay(false, index);
      try {
        if (meta && !modelMatches(meta, encoder.info)) await refuseOtherVariant(index, meta, modelDir, { variant, by: requested?.by }, cacheDirOption(config));
        const store = await openIndex(index, { model: encoder.info, create: true, ...(opts.engine ? { engine: opts.engine } : {}) });
        const note = engineKeptNote(store.meta.engine, opts.engine);
        if (note) process.stderr.write(note);
        try {
          const summary = await indexArchive({
            roots: dirs,
            store,
            encoder,
            include: config.include,
            exclude: config.exclude,
            followLinks,
            includeHidden: opts.includeHidden ?? config.includeHidden,
            batchSize: machine.batchSize,
            decodeThreads: machine.decodeThreads,
            onProgress: display.update,
          });
          display.stop();
          printIndexSummary(summary);
        } finally {
          await store.close();
        }
      } catch (error) {
        display.stop();
        await encoder.close();
        throw error;
      }

      stage('serve');
      // the encoder that indexed also answers queries: the model is loaded and fingerprinted once
      const { startServer } = await import('../server/start-server.js');
      const running = await startServer({
        index,
        encoder,
        host,
        port,
        ...((opts.token ?? config.token) ? { token: opts.token ?? config.token } : {}),
        ...((opts.allowedHost ?? config.allowedHosts) ? { allowedHosts: opts.allowedHost ?? config.allowedHosts } : {}),
        logFormat: chosenLogFormat(opts.logFormat),
        verbose: opts.verbose === true,
        followLinks,
      });
      await running.ready;
      process.stdout.write(`rsclip is serving ${running.url} (Ctrl-C to stop)\n`);
      if (opts.open) openInBrowser(running.url);
    });
}
