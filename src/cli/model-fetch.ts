/** `rsclip model fetch [REPO_ID]`: download (and if needed export) a Hub CLIP model into the cache. */
import { InvalidArgumentError, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULT_REPO_ID, DEFAULT_STALL_TIMEOUT_MS, fetchModel, type FetchProgressEvent } from '../model/hub/fetch-model.js';
import type { FetchVariant } from '../model/hub/select-files.js';
import { loadConfig } from '../config.js';
import { reportStopped, stopOnSigint } from './interrupt.js';
import { optionParser, positiveInt, printJson } from './options.js';
import { checkRevision } from '../model/hub/hub-names.js';

const PLAIN_REPORT_INTERVAL_MS = 2000;

function fetchVariant(value: string): FetchVariant {
  if (value !== 'fp32' && value !== 'int8') throw new InvalidArgumentError(`expected fp32 or int8, got "${value}"`);
  return value;
}

const mib = (bytes: number): string => (bytes / (1 << 20)).toFixed(1);

/** A progress bar on a TTY, a line every few seconds (and per file) when piped; both on stderr. */
export function progressReporter(): { onProgress: (e: FetchProgressEvent) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: '{file} |{bar}| {percentage}% {doneMiB}/{totalMiB} MiB {rate} MiB/s ETA {eta_formatted}', stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      onProgress(e) {
        if (e.phase === 'download') {
          const payload = { file: e.file, doneMiB: mib(e.bytesDone), totalMiB: mib(e.bytesTotal), rate: mib(e.bytesPerSecond) };
          if (!started) bar.start(e.bytesTotal, e.bytesDone, payload);
          else bar.update(e.bytesDone, payload);
          started = true;
        } else if (e.phase === 'export') {
          if (started) bar.stop();
          started = false;
          process.stderr.write(`exporting ONNX (${e.variant})...\n`);
        }
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let lastLine = 0;
  let lastFile = '';
  return {
    onProgress(e) {
      if (e.phase === 'resolve') process.stderr.write(`resolving ${e.repoId}@${e.revision}\n`);
      else if (e.phase === 'export') process.stderr.write(`exporting ONNX (${e.variant})\n`);
      else if (e.phase === 'download' && (e.file !== lastFile || Date.now() - lastLine >= PLAIN_REPORT_INTERVAL_MS)) {
        lastFile = e.file;
        lastLine = Date.now();
        process.stderr.write(
          `downloading ${e.file} (${e.filesDone + 1}/${e.filesTotal}): ${mib(e.bytesDone)}/${mib(e.bytesTotal)} MiB, ${mib(e.bytesPerSecond)} MiB/s\n`,
        );
      }
    },
    stop: () => undefined,
  };
}

export function registerModelFetchCommand(model: Command): void {
  model
    .command('fetch')
    .description('download a CLIP model from the Hugging Face Hub into the local cache (exporting it to ONNX when the repository has none)')
    .argument('[repo-id]', 'Hub repository id', DEFAULT_REPO_ID)
    .option('--revision <revision>', 'branch, tag or commit', optionParser((revision: string): string => (checkRevision(revision), revision)), 'main')
    .option('--out <dir>', 'also place the model directory here')
    .option('--variant <variant>', 'fp32, or int8 to also get the quantised ONNX files', fetchVariant, 'fp32')
    .option('--refresh', 'ask the Hub where the revision points now instead of trusting the cached ref, and check the cached files against its listing')
    .option('--stall-timeout <seconds>', `break off and resume a download that receives nothing for this long (default ${DEFAULT_STALL_TIMEOUT_MS / 1000})`, positiveInt)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nEnvironment: HF_ENDPOINT (Hub mirror), HF_TOKEN (gated/private repositories), RSCLIP_CACHE_DIR (cache location).')
    .action(async (repoId: string, opts: { revision: string; out?: string; variant: FetchVariant; refresh?: boolean; stallTimeout?: number; json?: boolean }) => {
      const reporter = progressReporter();
      const sigint = stopOnSigint('rsclip: stopping the model fetch (Ctrl-C again to quit at once)');
      try {
        const { cacheDir } = loadConfig().config;
        const result = await fetchModel({
          repoId,
          ...(cacheDir ? { cacheDir } : {}),
          revision: opts.revision,
          variant: opts.variant,
          refresh: opts.refresh === true,
          // this command has no --model to offer in its hints
          offerLocalModel: false,
          ...(opts.stallTimeout ? { stallTimeoutMs: opts.stallTimeout * 1000 } : {}),
          signal: sigint.signal,
          onProgress: reporter.onProgress,
          ...(opts.out ? { outDir: opts.out } : {}),
        });
        reporter.stop();
        if (opts.json) printJson(result);
        else {
          const how = result.fromCache ? 'from cache' : `${mib(result.downloadedBytes)} MiB downloaded${result.exported ? ', exported to ONNX' : ''}`;
          process.stderr.write(`${repoId}@${result.commit.slice(0, 12)} ready (${how})\n`);
          process.stdout.write(`${result.modelDir}\n`);
        }
      } catch (error) {
        reporter.stop();
        reportStopped(sigint, error);
      } finally {
        reporter.stop();
        sigint.release();
      }
    });
}
