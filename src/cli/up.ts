/**
 * `rsclip up <dirs...>`: the first-run command. Resolves the model (fetch + export on first
 * use, the cache afterwards), indexes the folders incrementally, then serves the web page.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { DEFAULT_INDEX_DIR, DEFAULT_MODEL_ID, loadConfig } from '../config.js';
import { indexArchive } from '../indexer/index.js';
import { openClip, resolveModel, type ModelVariant } from '../model/index.js';
import { startServer } from '../server/index.js';
import { openIndex } from '../store/index.js';
import { printIndexSummary, progressDisplay } from './index-cmd.js';
import { progressReporter } from './model-fetch.js';
import { nonNegativeInt, positiveInt } from './options.js';

interface UpOptions {
  model?: string;
  index?: string;
  fp32?: boolean;
  host?: string;
  port?: number;
  token?: string;
  threads?: number;
  open?: boolean;
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

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('fetch the model, index the folders and serve the web page: everything a first run needs')
    .argument('<dirs...>', 'image folders to index (recursively)')
    .option('-m, --model <id|dir>', `Hub repo id or model directory (default: config "model" or ${DEFAULT_MODEL_ID})`)
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('--fp32', 'use the full-precision model instead of the int8 one')
    .option('--host <host>', 'address to bind (default 127.0.0.1: this machine only)')
    .option('-p, --port <n>', 'port (default 8080; 0 picks a free one)', nonNegativeInt)
    .option('--token <token>', 'require this bearer token on the API')
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--open', 'open the page in a browser')
    .addHelpText('after', '\nEnvironment: HF_ENDPOINT (Hub mirror), HF_TOKEN, RSCLIP_CACHE_DIR (model cache), RSCLIP_* config overrides.')
    .action(async (dirs: string[], opts: UpOptions) => {
      const { config } = loadConfig();
      const modelSpec = opts.model ?? config.model ?? DEFAULT_MODEL_ID;
      const index = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
      const variant: ModelVariant = opts.fp32 ? 'fp32' : (config.variant ?? 'int8');
      const threads = opts.threads ?? config.threads;

      stage(`model ${modelSpec} (${variant})`);
      const reporter = progressReporter();
      let modelDir: string;
      try {
        const resolved = await resolveModel(modelSpec, {
          variant: variant === 'int8' ? 'int8' : 'fp32',
          onProgress: reporter.onProgress,
          ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
        });
        modelDir = resolved.modelDir;
        const how = !resolved.fetched ? 'local directory' : resolved.fetched.fromCache ? 'cached' : 'downloaded';
        process.stderr.write(`model ready (${how}): ${modelDir}\n`);
      } finally {
        reporter.stop();
      }

      stage(`index ${dirs.join(', ')} -> ${index}`);
      const encoder = await openClip(modelDir, { variant, ...(threads ? { threads } : {}) });
      const display = progressDisplay(false);
      try {
        const store = await openIndex(index, { model: encoder.info, create: true });
        try {
          const summary = await indexArchive({
            roots: dirs,
            store,
            encoder,
            include: config.include,
            exclude: config.exclude,
            batchSize: config.batch,
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
      const running = await startServer({
        index,
        encoder,
        host: opts.host ?? config.host ?? '127.0.0.1',
        port: opts.port ?? config.port ?? 8080,
        ...((opts.token ?? config.token) ? { token: opts.token ?? config.token } : {}),
      });
      await running.ready;
      process.stdout.write(`rsclip is serving ${running.url} (Ctrl-C to stop)\n`);
      if (opts.open) openInBrowser(running.url);
    });
}
