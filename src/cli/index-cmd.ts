/** `rsclip index` (build or update an index from archive folders) and `rsclip doctor` (check and repair one). */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig, DEFAULT_INDEX_DIR } from '../config.js';
import { RsclipError } from '../errors.js';
import { indexArchive, type IndexProgress, type IndexSummary } from '../indexer/index.js';
import { openClip } from '../model/index.js';
import { openIndex, type VerifyReport } from '../store/index.js';
import { collect, ENGINE_HELP, engineChoice, engineKeptNote, modelVariant, positiveInt, printJson } from './options.js';

interface IndexCommandOptions {
  index?: string;
  model?: string;
  variant?: ReturnType<typeof modelVariant>;
  include?: string[];
  exclude?: string[];
  batch?: number;
  threads?: number;
  decoders?: number;
  maxInputPixels?: number;
  fields?: string;
  json?: boolean;
  verify?: boolean;
  engine?: ReturnType<typeof engineChoice>;
}

const PLAIN_PROGRESS_INTERVAL_MS = 5000;

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

/** A bar on a TTY; a plain line every few seconds when piped; nothing when quiet (--json). Also used by `rsclip up`. */
export function progressDisplay(quiet: boolean): { update: (p: IndexProgress) => void; stop: () => void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: 'indexing |{bar}| {value}/{total} | {rate} images/s | ETA {remaining} | {errors} errors',
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        const payload = { rate: p.imagesPerSecond.toFixed(1), remaining: formatSeconds(p.etaSeconds), errors: p.errors };
        if (p.phase === 'scan') {
          process.stderr.write(`\rscanning: ${p.scanned} images found`);
          return;
        }
        if (!started) {
          process.stderr.write('\n');
          bar.start(p.total, p.done, payload);
          started = true;
        }
        bar.setTotal(p.total);
        bar.update(p.done, payload);
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      // the summary follows the last batch; an index run with nothing to do prints no progress
      if (p.phase === 'finish' || (p.phase === 'index' && p.total === 0) || now - last < PLAIN_PROGRESS_INTERVAL_MS) return;
      last = now;
      if (p.phase === 'scan') process.stderr.write(`scanning: ${p.scanned} images found\n`);
      else {
        const share = p.total > 0 ? ` (${Math.floor((100 * p.done) / p.total)}%)` : '';
        process.stderr.write(`indexed ${p.done}/${p.total}${share}, ${p.imagesPerSecond.toFixed(1)} images/s, ETA ${formatSeconds(p.etaSeconds)}, ${p.errors} errors\n`);
      }
    },
    stop: () => undefined,
  };
}

/** The human summary of an index run on stdout. */
export function printIndexSummary(s: IndexSummary): void {
  const lines = [
    `index ${s.index}: ${s.scanned} images scanned in ${s.seconds.toFixed(1)}s`,
    `  added ${s.added}, updated ${s.updated}, removed ${s.removed}, reused ${s.reused}, unchanged ${s.unchanged}, errors ${s.errors}`,
    `  embedded ${s.embedded} (${s.imagesPerSecond.toFixed(1)} images/s)`,
  ];
  if (s.unreadableFolders.length > 0) lines.push(`  unreadable folders (their files were kept): ${s.unreadableFolders.join(', ')}`);
  if (s.symlinkLoops.length > 0) lines.push(`  symlinked folders already scanned, skipped: ${s.symlinkLoops.join(', ')}`);
  if (s.fields) lines.push(`  fields: ${s.fields.records} records (${s.fields.fields.join(', ')}), ${s.fields.unmatched} match no image`);
  if (s.interrupted) lines.push('  interrupted: run the same command again to finish');
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printVerify(report: VerifyReport): void {
  const { checked } = report;
  process.stdout.write(`checked ${checked.images} images, ${checked.vectors} vectors, ${checked.hnswLabels} HNSW labels: ${report.ok ? 'ok' : 'PROBLEMS LEFT'}\n`);
  for (const line of report.repaired) process.stdout.write(`  repaired: ${line}\n`);
  for (const line of report.unrepaired) process.stdout.write(`  not repaired: ${line}\n`);
}

async function verifyIndex(dir: string): Promise<VerifyReport> {
  const store = await openIndex(dir);
  try {
    return await store.verify();
  } finally {
    await store.close();
  }
}

export function registerIndexCommands(program: Command): void {
  program
    .command('index')
    .description('index archive folders (recursively): new and changed images are embedded, removed ones dropped')
    .argument('<dirs...>', 'archive folders')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('-m, --model <dir>', 'model directory (default: config "model")')
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16 (default: config "variant" or fp32)', modelVariant)
    .option('--include <glob>', 'only paths matching this glob (repeatable; no "/" matches the file name)', collect)
    .option('--exclude <glob>', 'skip paths matching this glob (repeatable)', collect)
    .option('--batch <n>', 'images per model run (default 32)', positiveInt)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--decoders <n>', 'images decoded concurrently ahead of the model (default 4)', positiveInt)
    .option('--max-input-pixels <n>', 'refuse images with more pixels than this (decompression bombs)', positiveInt)
    .option('--fields <file>', 'import user fields from a CSV/TSV/JSONL sidecar keyed by file name')
    .option('--json', 'print the summary as JSON (no progress output)')
    .option('--verify', 'after indexing, check catalog, vectors and HNSW agree and repair what can be')
    .option('--engine <engine>', ENGINE_HELP, engineChoice)
    .action(async (dirs: string[], opts: IndexCommandOptions) => {
      const { config } = loadConfig();
      const index = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
      const modelDir = opts.model ?? config.model;
      if (!modelDir) {
        throw new RsclipError('BAD_INPUT', 'no model given: expected --model <dir> or "model" in rsclip.config.json', {
          hint: 'fetch one with `rsclip model fetch` and pass its directory',
        });
      }
      const threads = opts.threads ?? config.threads;
      const encoder = await openClip(modelDir, {
        variant: opts.variant ?? config.variant ?? 'fp32',
        ...(threads === undefined ? {} : { threads }),
        ...(opts.maxInputPixels === undefined ? {} : { maxInputPixels: opts.maxInputPixels }),
      });
      let store;
      try {
        store = await openIndex(index, { model: encoder.info, create: true, ...(opts.engine ? { engine: opts.engine } : {}) });
        const note = engineKeptNote(store.meta.engine, opts.engine);
        if (note) process.stderr.write(note);
      } catch (error) {
        await encoder.close();
        throw error;
      }
      const controller = new AbortController();
      const onSigint = (): void => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write('\nrsclip: stopping after the batch in flight (Ctrl-C again to quit at once)\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      const display = progressDisplay(opts.json === true);
      let summary: IndexSummary;
      try {
        summary = await indexArchive({
          roots: dirs,
          store,
          encoder,
          include: opts.include ?? config.include,
          exclude: opts.exclude ?? config.exclude,
          batchSize: opts.batch ?? config.batch,
          decoders: opts.decoders,
          fields: opts.fields,
          signal: controller.signal,
          onProgress: display.update,
        });
      } finally {
        display.stop();
        process.off('SIGINT', onSigint);
        try {
          await store.close();
        } finally {
          await encoder.close();
        }
      }
      const verify = opts.verify && !summary.interrupted ? await verifyIndex(index) : undefined;
      if (opts.json) printJson(verify ? { ...summary, verify } : summary);
      else {
        printIndexSummary(summary);
        if (verify) printVerify(verify);
      }
      if (summary.interrupted) process.exitCode = 130;
      else if (verify && !verify.ok) process.exitCode = 1;
    });

  program
    .command('doctor')
    .description('check that an index catalog, its vectors and its HNSW file agree; repair what can be repaired')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { index?: string; json?: boolean }) => {
      const index = opts.index ?? loadConfig().config.index ?? DEFAULT_INDEX_DIR;
      const report = await verifyIndex(index);
      if (opts.json) printJson(report);
      else printVerify(report);
      if (!report.ok) process.exitCode = 1;
    });
}
