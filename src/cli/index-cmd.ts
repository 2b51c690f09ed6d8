/** `rsclip index` (build or update an index from archive folders); `rsclip doctor` and `rsclip errors` live in doctor.ts. */
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig, DEFAULT_INDEX_DIR } from '../config.js';
import { isRsclipError, RsclipError } from '../errors.js';
import { parseCrs, type Crs } from '../geo/crs.js';
import { parseScales, parseTileMode, type TileMode } from '../geo/tiling.js';
import { indexArchive } from '../indexer/index-archive.js';
import { chooseIndexingThreads, indexingEncoderOptions, maxDecodeThreads, type IndexingThreads } from '../indexer/indexing-threads.js';
import { unplacedWorthSaying } from '../indexer/run-places.js';
import { checkArchiveRoots } from '../indexer/scan.js';
import { stacFiles } from '../indexer/stac-files.js';
import type { IndexProgress, IndexSummary } from '../indexer/types.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openClip } from '../model/encoder.js';
import { MODEL_VARIANTS } from '../model/model-dir.js';
import { withQueuePassword } from '../queue/connection.js';
import { QueueEmbedder } from '../queue/queue-embedder.js';
import { parseBandList } from '../raster/radiometry.js';
import { openEncoderForIndex } from '../search/open-encoder.js';
import { openIndex, readIndexMeta } from '../store/open-index.js';
import { isPostgresLocation } from '../store/postgres/location.js';
import type { IndexStore } from '../store/types.js';
import { hidePassword } from '../url-password.js';
import { printVerify, registerDoctorCommands, verifyIndex } from './doctor.js';
import { registerIndexCopyCommand } from './index-copy.js';
import { stopOnSigint } from './interrupt.js';
import { oneField } from '../one-field.js';
import { addModelOptions, cacheDirOption, collect, givenModel, ENGINE_HELP, engineChoice, engineKeptNote, nonNegativeInt, optionParser, PLAIN_PROGRESS_INTERVAL_MS, positiveInt, printJson, type ModelOptions } from './options.js';
import { checkQueueUrl } from './queue-url-option.js';

interface IndexCommandOptions extends ModelOptions {
  index?: string;
  include?: string[];
  exclude?: string[];
  followLinks?: boolean;
  includeHidden?: boolean;
  batch?: number;
  decoders?: number;
  decodeThreads?: number;
  modelSessions?: number;
  maxInputPixels?: number;
  fields?: string;
  json?: boolean;
  verify?: boolean;
  engine?: ReturnType<typeof engineChoice>;
  retryErrors?: boolean;
  forget?: string[];
  tile?: TileMode;
  overlap?: number;
  scales?: number[];
  bands?: number[] | null;
  stretch?: [number, number];
  crs?: Crs;
  stac?: string;
  stacAsset?: string;
  queue?: string;
  queueDepth?: number;
  queueTimeout?: number;
}

function overlapOption(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n < 1)) throw new InvalidArgumentError(`expected a share of a tile in [0, 1), got "${text}"`);
  return n;
}

function stretchOption(text: string): [number, number] {
  const parts = text.split(',').map((t) => Number(t.trim()));
  const [low, high] = parts as [number, number];
  if (parts.length !== 2 || !(low >= 0 && low < high && high <= 100)) throw new InvalidArgumentError(`expected two percentiles LOW,HIGH with 0 <= LOW < HIGH <= 100, got "${text}"`);
  return [low, high];
}

function decodeThreadCount(text: string): number {
  const n = nonNegativeInt(text);
  const most = maxDecodeThreads();
  if (n > most) throw new InvalidArgumentError(`expected at most ${most} decode threads (twice this machine's cores, at least 8), got "${text}"`);
  return n;
}

/** `auto` (null: each file's colour interpretation) or a band list. */
function bandsOption(text: string): number[] | null {
  return text.trim() === 'auto' ? null : parseBandList(text);
}

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

/** A worker without a result for this long is shown as silent instead of with its rate. */
const SILENT_WORKER_SECONDS = 30;

/** The queue's workers and their rates, jobs Redis lost, and Redis unreachable, for a progress line ('' without a queue). */
export function queueProgressText(p: IndexProgress): string {
  if (!p.queue) return '';
  const { workers, resent, unreachableSeconds, redisTimeoutSeconds } = p.queue;
  const rates = workers.map((w) => (w.idleSeconds >= SILENT_WORKER_SECONDS ? `${w.worker} no result for ${formatSeconds(w.idleSeconds)}` : `${w.worker} ${w.itemsPerSecond.toFixed(1)}/s`));
  const parts = [`${workers.length} workers${rates.length > 0 ? `: ${rates.join(', ')}` : ''}`];
  if (resent > 0) parts.push(`${resent} jobs sent again (Redis lost them)`);
  if (unreachableSeconds !== undefined) parts.push(`Redis unreachable for ${formatSeconds(unreachableSeconds)} (the run stops at ${formatSeconds(redisTimeoutSeconds)})`);
  return parts.map((part) => ` | ${part}`).join('');
}

/** The store's saving at the end of a run is said once it has taken this long (most take well under it). */
const SAVE_NOTICE_MS = 2000;

/** What the store does after the last commit, for an index at `location`. */
function savingText(location: string): string {
  return isPostgresLocation(location)
    ? "finishing: PostgreSQL is building the index's vector graph (pgvector's HNSW) over the new vectors: minutes for millions; searches meanwhile scan every vector"
    : 'finishing: bringing the vector graph up to date and writing its file';
}

/**
 * A bar on a TTY; a plain line every few seconds when piped; nothing when quiet (--json). Also
 * used by `rsclip up`. A slow save at the end (see IndexProgress's `save`) is said on a line.
 */
export function progressDisplay(quiet: boolean, location: string): { update: (p: IndexProgress) => void; stop: () => void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  const lines = progressLines();
  let saveNotice: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearTimeout(saveNotice);
    saveNotice = undefined;
    lines.stop();
  };
  return {
    update(p) {
      if (p.phase === 'finish') stop();
      else if (p.phase === 'save') {
        // the bar ends at the committed count; the summary follows the save
        lines.update({ ...p, phase: 'index', etaSeconds: 0 });
        lines.stop();
        saveNotice ??= setTimeout(() => process.stderr.write(`${savingText(location)}\n`), SAVE_NOTICE_MS);
      } else lines.update(p);
    },
    stop,
  };
}

/** The bar or the plain lines of the scan and indexing phases. */
function progressLines(): { update: (p: IndexProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: 'indexing |{bar}| {value}/{total} files | {embedded} items, {rate}/s | ETA {remaining} | {errors} errors{queue}',
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        const payload = { rate: p.imagesPerSecond.toFixed(1), remaining: formatSeconds(p.etaSeconds), errors: p.errors, embedded: p.embedded, queue: queueProgressText(p) };
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
      // an index run with nothing to do prints no progress
      if ((p.phase === 'index' && p.total === 0) || now - last < PLAIN_PROGRESS_INTERVAL_MS) return;
      last = now;
      if (p.phase === 'scan') process.stderr.write(`scanning: ${p.scanned} images found\n`);
      else {
        const share = p.total > 0 ? ` (${Math.floor((100 * p.done) / p.total)}%)` : '';
        process.stderr.write(`indexed ${p.done}/${p.total} files${share}, ${p.embedded} items embedded, ${p.imagesPerSecond.toFixed(1)} items/s, ETA ${formatSeconds(p.etaSeconds)}, ${p.errors} errors${queueProgressText(p)}\n`);
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
    `  embedded ${s.embedded} items (${s.imagesPerSecond.toFixed(1)}/s)`,
  ];
  if (s.scenes > 0 || s.nodataWindows > 0) lines.push(`  scenes cut into tiles ${s.scenes} (${s.resumed} resumed), windows skipped as nodata ${s.nodataWindows}`);
  if (unplacedWorthSaying(s.places)) {
    const named = s.places.examples.map((e) => `${oneField(e.path)} (${e.why})`);
    const more = s.places.unplaced - named.length;
    lines.push(`  indexed without a place ${s.places.unplaced} (place filters never find them): ${named.join(', ')}${more > 0 ? `, and ${more} more` : ''}`);
  }
  if (s.places && s.places.approximate > 0) lines.push(`  placed approximately ${s.places.approximate} (an affine fit of ground control points that misses them by more than a pixel; see the warnings)`);
  for (const f of s.forgotten ?? []) lines.push(`  forgotten ${f.root}: ${f.files} files removed`);
  for (const e of s.emptyRoots ?? []) lines.push(`  kept ${e.files} files of ${e.folder}: no image file found there (an unmounted disk? a moved folder?); \`rsclip index --forget ${e.folder}\` removes them`);
  // '' is an archive folder itself (the others are relative to theirs)
  if (s.unreadableFolders.length > 0) lines.push(`  unreadable folders (their files were kept): ${s.unreadableFolders.map((f) => (f === '' ? '. (an archive folder itself)' : oneField(f))).join(', ')}`);
  if (s.symlinkLoops.length > 0) lines.push(`  symlinked folders already scanned, skipped: ${s.symlinkLoops.map(oneField).join(', ')}`);
  for (const skip of s.skipped) lines.push(`  skipped ${skip.count}: ${skip.reason} (e.g. ${skip.examples.join(', ')})`);
  if (s.errors > 0) lines.push('  `rsclip errors` lists the files that failed and why; `rsclip index --retry-errors` tries them again');
  const t = s.timing;
  if (s.embedded > 0) {
    const decodedIn = t.decodeThreads > 0 ? `${t.decodeThreads} decode thread${t.decodeThreads > 1 ? 's' : ''}` : 'the main thread';
    const pipeline = t.pipelineSeconds.toFixed(1);
    const busy = t.encoderBusyShare === undefined ? `on the workers (pipeline ${pipeline}s` : `(busy ${(100 * t.encoderBusyShare).toFixed(0)}% of ${pipeline}s`;
    const sessions = (t.modelSessions ?? 1) > 1 ? ` on ${t.modelSessions} sessions` : '';
    lines.push(`  model ${t.modelSeconds.toFixed(1)}s ${busy}, batches of ${t.batchSize}${sessions}), decode ${t.decodeSeconds.toFixed(1)}s in ${decodedIn}, store ${t.storeSeconds.toFixed(1)}s`);
    const c = t.threadCpu;
    if (c) lines.push(`  CPU ${t.cpuSeconds.toFixed(1)}s: main thread ${c.mainThread.toFixed(1)}s, decode threads ${c.decodeThreads.toFixed(1)}s, model and the rest ${c.rest.toFixed(1)}s`);
  }
  if (s.queue) {
    const workers = s.queue.workers.map((w) => `${w.worker} ${w.items}`);
    lines.push(`  workers (items embedded): ${workers.length > 0 ? workers.join(', ') : 'none returned a result'}${s.queue.resent > 0 ? `; jobs sent again after Redis lost them: ${s.queue.resent}` : ''}`);
  }
  if (s.fields) lines.push(`  fields: ${s.fields.records} records (${s.fields.fields.join(', ')}), ${s.fields.unmatched} match no image`);
  if (s.interrupted) lines.push('  interrupted: run the same command again to finish');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The encoder and the writable store of an index run: an existing index's recorded model is the default (see openEncoderForIndex). */
async function openForIndexing(index: string, opts: IndexCommandOptions, config: ReturnType<typeof loadConfig>['config'], machine: IndexingThreads): Promise<{ store: IndexStore; encoder: ClipEncoder }> {
  const variant = opts.variant ?? config.variant;
  const decoding = {
    ...indexingEncoderOptions(machine),
    ...(opts.maxInputPixels === undefined ? {} : { maxInputPixels: opts.maxInputPixels }),
    ...cacheDirOption(config),
  };
  const meta = await readIndexMeta(index);
  let encoder: ClipEncoder;
  /** Why the index's own rule refused the model: said again unless the index takes it (one with nothing committed does, in openIndex). */
  let refused: unknown;
  if (meta) {
    try {
      encoder = await openEncoderForIndex(givenModel(opts.model, config), meta, { ...decoding, ...(variant ? { variant } : {}) });
    } catch (error) {
      const dir = givenModel(opts.model, config) ?? meta.modelDir;
      if (!isRsclipError(error) || error.code !== 'INDEX_INCOMPATIBLE' || !dir) throw error;
      refused = error;
      encoder = await openClip(dir, { variant: variant ?? MODEL_VARIANTS.find((v) => v === meta.modelVariant) ?? 'fp32', ...decoding });
    }
  } else {
    const modelDir = givenModel(opts.model, config);
    if (!modelDir) {
      throw new RsclipError('BAD_INPUT', 'no model given: expected --model <dir> or "model" in rsclip.config.json (a new index has no model recorded yet)', {
        hint: 'fetch one with `rsclip model fetch` and pass its directory',
      });
    }
    encoder = await openClip(modelDir, { variant: variant ?? 'fp32', ...decoding });
  }
  try {
    // a coordinator absorbs a fleet's results: its graph is built off the event loop
    const store = await openIndex(index, { model: encoder.info, create: true, writeOnly: opts.queue !== undefined, ...(opts.engine ? { engine: opts.engine } : {}) }).catch((error: unknown) => {
      throw refused !== undefined && isRsclipError(error) && error.code === 'INDEX_INCOMPATIBLE' ? refused : error;
    });
    const note = engineKeptNote(store.meta.engine, opts.engine);
    if (note) process.stderr.write(note);
    return { store, encoder };
  } catch (error) {
    await encoder.close();
    throw error;
  }
}

/** The settings that decide whether an archive file decodes; a change retries the files that failed. */
function decodeSettings(opts: IndexCommandOptions): string {
  return `maxInputPixels=${opts.maxInputPixels ?? 'default'}`;
}

export function registerIndexCommands(program: Command): void {
  const indexCommand = program
    .command('index')
    .description('index archive folders (recursively), or the assets of a local STAC catalog: new and changed images are embedded, removed ones dropped')
    .argument('[dirs...]', 'archive folders')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`);
  addModelOptions(indexCommand, { model: 'config "model", else the one the index was built with', variant: 'config "variant", else the index\'s, else fp32', threads: 'every core up to 3, then three quarters of them' })
    .option('--include <glob>', 'only paths matching this glob (repeatable; no "/" matches the file name)', collect)
    .option('--exclude <glob>', 'skip paths matching this glob (repeatable)', collect)
    .option('--follow-links', 'also index files behind symbolic links that lead outside the archive folders (serve with --follow-links too)')
    .option('--include-hidden', 'also index hidden files and what hidden and system folders hold (.name, @eaDir, $RECYCLE.BIN; skipped and counted by default)')
    .option('--batch <n>', 'images per model run (default: 32, 4 per onnxruntime thread past 8)', positiveInt)
    .option('--decode-threads <n>', 'worker threads decoding, resizing and reading scene windows (default: the cores onnxruntime leaves, none below 4 cores; 0: the main thread; at most twice the cores, or 8)', decodeThreadCount)
    .option('--model-sessions <n>', 'model sessions running batches side by side, sharing the onnxruntime threads (default 1; each holds its own weights and working memory)', positiveInt)
    .option('--decoders <n>', 'images decoded concurrently ahead of the model (default: 4, or twice the decode threads)', positiveInt)
    .option('--max-input-pixels <n>', 'refuse images with more pixels than this (decompression bombs; TIFFs, read by their windows, are not limited); changing it retries the files that failed', positiveInt)
    .option('--retry-errors', 'try every file that failed before again (`rsclip errors` lists them)')
    .option('--forget <dir>', 'remove the files the index holds under this folder, an archive folder or one inside it (moved or deleted for good; it need not exist; repeatable)', collect)
    .option('--fields <file>', 'import user fields from a CSV/TSV/JSONL sidecar keyed by file name')
    .option('--tile <mode>', 'cut images into tiles of the model\'s input size: auto (sides longer than 2x the input), off, or a side in pixels (default: as the index\'s last run, else auto)', optionParser(parseTileMode))
    .option('--overlap <share>', 'share of a tile shared with its neighbour (default: as the index\'s last run, else 0.25)', overlapOption)
    .option('--scales <list>', 'tile sizes as multiples of the model input, e.g. 1,2,4 (default: as the index\'s last run, else 1)', optionParser(parseScales))
    .option('--bands <list>', 'bands for red, green, blue (or one grey band), counted from 1, e.g. 4,3,2, or auto: the file\'s colour interpretation (default: as the index\'s last run, else auto)', optionParser(bandsOption))
    .option('--stretch <low,high>', 'percentiles of the per-scene stretch of 16-bit and float data (default: as the index\'s last run, else 2,98); 8-bit data passes through', stretchOption)
    .option('--crs <crs>', 'CRS of files that give none (world files without a .prj, GeoTIFFs without CRS keys), e.g. EPSG:32633; a file\'s own CRS wins', optionParser(parseCrs))
    .option('--stac <file>', 'index the assets of a local STAC catalog.json, collection.json or item.json, with their datetime and properties as fields')
    .option('--stac-asset <key>', 'the asset of each STAC item to index (default: visual, or the only image asset)')
    .option('--queue <url>', 'coordinate: send the embedding to `rsclip worker` processes through Redis, e.g. redis://localhost:6379/0 (this process scans, decides and commits); rediss:// for TLS, with ?sslrootcert=&sslcert=&sslkey= PEM files where needed; a password not in the URL comes from RSCLIP_QUEUE_PASSWORD')
    .option('--queue-depth <n>', 'with --queue: batches waiting or embedding at once (default 16)', positiveInt)
    .option('--queue-timeout <seconds>', 'with --queue: seconds Redis may stay unreachable, counted from the lost connection, before the run stops, committed work kept (default 300; a restart is waited out and lost jobs are sent again)', positiveInt)
    .option('--json', 'print the summary as JSON (no progress output)')
    .option('--verify', 'after indexing, check catalog, vectors and HNSW agree and repair what can be')
    .option('--engine <engine>', ENGINE_HELP, engineChoice)
    .hook('preAction', (self) => {
      checkQueueUrl(self);
      const opts = self.opts<IndexCommandOptions>();
      for (const [given, name] of [[opts.queueDepth, '--queue-depth'], [opts.queueTimeout, '--queue-timeout']] as const) {
        if (given !== undefined && !opts.queue) self.error(`error: ${name} needs --queue (e.g. --queue redis://localhost:6379/0)`, { exitCode: 2, code: 'commander.invalidArgument' });
      }
    })
    .action(async (dirs: string[], opts: IndexCommandOptions) => {
      if (dirs.length > 0 && opts.stac) throw new RsclipError('BAD_INPUT', 'give archive folders or --stac, not both', { hint: 'index a STAC catalog into its own --index, or its assets\' folder without --stac' });
      if (dirs.length === 0 && !opts.stac && !opts.forget) throw new RsclipError('BAD_INPUT', 'no archive folders to index: expected at least one folder, or --stac FILE', { hint: 'e.g. `rsclip index ./images`' });
      const files = opts.stac ? await stacFiles(opts.stac, opts.stacAsset ? { asset: opts.stacAsset } : {}) : undefined;
      const { config } = loadConfig();
      const index = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
      // a missing folder, or a file given as one, is refused before anything is created
      await checkArchiveRoots(dirs);
      for (const [given, name] of [[opts.queueDepth, '--queue-depth'], [opts.queueTimeout, '--queue-timeout']] as const) {
        if (given !== undefined && !opts.queue) throw new RsclipError('BAD_INPUT', `${name} needs --queue`, { hint: 'e.g. --queue redis://localhost:6379/0' });
      }
      const machine: IndexingThreads = chooseIndexingThreads({ onnxThreads: opts.threads ?? config.threads, decodeThreads: opts.decodeThreads, batchSize: opts.batch ?? config.batch, modelSessions: opts.modelSessions });
      const { store, encoder } = await openForIndexing(index, opts, config, machine);
      let embedder: QueueEmbedder | undefined;
      try {
        if (opts.queue) {
          embedder = await QueueEmbedder.open({
            url: withQueuePassword(opts.queue, config.queuePassword),
            info: encoder.info,
            ...(opts.queueDepth ? { inFlight: opts.queueDepth } : {}),
            ...(opts.queueTimeout ? { redisTimeoutSeconds: opts.queueTimeout } : {}),
            // named to a second coordinator on the same queue, which is refused
            index: isPostgresLocation(index) ? hidePassword(index) : path.resolve(index),
            onNotice: (line) => process.stderr.write(`${line}\n`),
          });
        }
      } catch (error) {
        await store.close().catch(() => undefined);
        await encoder.close();
        throw error;
      }
      const sigint = stopOnSigint(
        opts.queue
          ? 'rsclip: stopping: the jobs no worker has taken are taken back, and the run ends once the workers return the ones they are running (Ctrl-C again to quit at once: what is committed is kept, the rest is sent again next run)'
          : 'rsclip: stopping after the batch in flight (Ctrl-C again to quit at once)',
      );
      const queued = embedder;
      // a stop must not wait for jobs no worker may ever take (none running, a service manager's single SIGTERM)
      if (queued) sigint.signal.addEventListener('abort', () => void queued.withdrawWaiting().catch(() => undefined), { once: true });
      const display = progressDisplay(opts.json === true, index);
      let summary: IndexSummary;
      try {
        summary = await indexArchive({
          roots: dirs,
          store,
          encoder,
          ...(embedder ? { embedder } : {}),
          include: opts.include ?? config.include,
          exclude: opts.exclude ?? config.exclude,
          followLinks: opts.followLinks ?? config.followLinks,
          includeHidden: opts.includeHidden ?? config.includeHidden,
          batchSize: machine.batchSize,
          decodeThreads: machine.decodeThreads,
          decoders: opts.decoders,
          fields: opts.fields,
          files,
          tile: opts.tile,
          overlap: opts.overlap,
          scales: opts.scales,
          bands: opts.bands,
          percentiles: opts.stretch,
          crs: opts.crs,
          retryErrors: opts.retryErrors === true,
          ...(opts.forget ? { forget: opts.forget } : {}),
          decodeSettings: decodeSettings(opts),
          signal: sigint.signal,
          onProgress: display.update,
        });
      } catch (error) {
        display.stop();
        sigint.release();
        // the first error is the one to tell (a full disk fails the closing checkpoint again)
        await store.close().catch(() => undefined);
        await encoder.close();
        await embedder?.close();
        throw error;
      }
      display.stop();
      await embedder?.close();
      sigint.release();
      try {
        await store.close();
      } finally {
        await encoder.close();
      }
      for (const e of summary.emptyRoots ?? []) {
        process.stderr.write(`rsclip: warning: no image files found in ${e.folder}, where the index holds ${e.files}: kept them (is a disk unmounted?); \`rsclip index --forget ${e.folder}\` removes them\n`);
      }
      if (summary.scanned === 0 && dirs.length > 0 && summary.unreadableFolders.includes('')) {
        process.stderr.write(`rsclip: warning: cannot read ${dirs.length === 1 ? dirs[0] : 'an archive folder'} (its permissions?): the files the index holds there were kept\n`);
      } else if (summary.scanned === 0 && dirs.length > 0 && !summary.emptyRoots) {
        const skipped = summary.skipped.reduce((n, s) => n + s.count, 0);
        process.stderr.write(`rsclip: warning: no image files found in ${opts.stac ?? dirs.join(', ')}${skipped > 0 ? ` (${skipped} other files skipped, see the summary)` : ''}\n`);
      }
      const verify = opts.verify && !summary.interrupted ? await verifyIndex(index) : undefined;
      if (opts.json) printJson(verify ? { ...summary, verify } : summary);
      else {
        printIndexSummary(summary);
        if (verify) printVerify(verify);
      }
      if (summary.interrupted) process.exitCode = sigint.exitCode;
      else if (verify && !verify.ok) process.exitCode = 1;
    });
  registerIndexCopyCommand(indexCommand);
  registerDoctorCommands(program);
}
