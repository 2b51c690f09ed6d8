/**
 * `rsclip bench`: what this machine does with rsclip, measured on the user's own model, archive
 * and index: encoder images/s and text ms per variant, the end-to-end indexing rate on a sample
 * of the archive (into a temporary index, next to the encoder-only rate of the same run), and
 * query latency on the index. Prints a table, or JSON with --json.
 */
import { existsSync, mkdirSync, mkdtempSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_INDEX_DIR, loadConfig } from '../config.js';
import { isRsclipError, RsclipError } from '../errors.js';
import { indexArchive } from '../indexer/index-archive.js';
import { chooseIndexingThreads, indexingEncoderOptions, type IndexingThreads } from '../indexer/indexing-threads.js';
import { newScanProblems, scanRoot } from '../indexer/scan.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openClip } from '../model/encoder.js';
import { MODEL_VARIANTS, openModelDirectory, type ModelVariant } from '../model/model-dir.js';
import { openEncoderForIndex } from '../search/open-encoder.js';
import { Searcher } from '../search/searcher.js';
import { openIndex } from '../store/open-index.js';
import { isPostgresLocation } from '../store/postgres/location.js';
import type { IndexStore } from '../store/types.js';
import { hidePassword } from '../url-password.js';
import { removedOnExit, stopOnSigint } from './interrupt.js';
import { givenModel, modelVariant, positiveInt, printJson } from './options.js';

const QUERY_TEXTS = ['an airport with parked planes', 'a river crossing farmland', 'a dense residential area', 'a stadium next to a parking lot', 'a forest with a road', 'a harbour with boats', 'storage tanks near a port', 'a bridge over a river'];
/** Scanned candidates per sampled file: the sample is spread over the first files found, not the whole archive (a full scan of 10^6 files takes minutes). */
const CANDIDATES_PER_SAMPLE = 50;
const IMAGE_BATCH = 32;

interface BenchCommandOptions {
  model?: string;
  variant?: ModelVariant[];
  index?: string;
  sample?: number;
  queries?: number;
  seconds?: string;
  threads?: number;
  json?: boolean;
}

export interface EncoderBench {
  variant: ModelVariant;
  imagesPerSecond: number;
  textMsPerQuery: number;
  /** Opening each tower (onnxruntime session) and its first run. */
  firstRunMs: { vision: number; text: number };
}

export interface IndexingBench {
  archive: string;
  variant: ModelVariant;
  sampled: number;
  /** Files the sample was drawn from (the first ones found). */
  candidates: number;
  embedded: number;
  errors: number;
  imagesPerSecond: number;
  /** The encoder alone on ready pixels, this run, same variant and batch. */
  encoderImagesPerSecond: number;
  shareOfEncoderRate: number;
  /** Share of the indexing time the model was running (the rest: decoding, waiting, writing). */
  modelBusyShare: number;
}

export interface QueryBench {
  index: string;
  items: number;
  engine: string;
  queries: number;
  /** A new text each time: embedding + search + result assembly. */
  text: { p50Ms: number; p95Ms: number; embedP50Ms: number; searchP50Ms: number };
  /** "More like this" from a stored vector: search + result assembly. */
  similar: { p50Ms: number; p95Ms: number };
}

export interface MachineBench {
  machine: { cpu: string; cores: number; memoryGiB: number; loadAverage1m: number; node: string };
  model: string;
  threads: number | undefined;
  encoder: EncoderBench[];
  indexing: IndexingBench | { skipped: string };
  queries: QueryBench | { skipped: string };
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Thrown at the next step once Ctrl-C has aborted `signal`. */
function checkNotInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RsclipError('INTERRUPTED', 'bench interrupted: nothing is reported');
}

/** Mean ms per call of `run` over about `seconds` (at least 3 calls), after the call that `first` times. */
async function timed(seconds: number, run: (i: number) => Promise<unknown>, signal?: AbortSignal): Promise<{ firstMs: number; msPerCall: number }> {
  let t = performance.now();
  await run(0);
  const firstMs = performance.now() - t;
  let calls = 0;
  t = performance.now();
  while (calls < 3 || performance.now() - t < seconds * 1000) {
    checkNotInterrupted(signal);
    await run(++calls);
  }
  return { firstMs, msPerCall: (performance.now() - t) / calls };
}

function presentVariants(modelDir: string): ModelVariant[] {
  return MODEL_VARIANTS.filter((variant) => {
    try {
      openModelDirectory(modelDir, { variant });
      return true;
    } catch {
      return false;
    }
  });
}

async function benchEncoder(encoder: ClipEncoder, seconds: number, signal?: AbortSignal): Promise<Omit<EncoderBench, 'variant'>> {
  const size = 3 * encoder.info.imageSize * encoder.info.imageSize;
  const pixels = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const batch = Array.from({ length: IMAGE_BATCH }, () => pixels);
  const vision = await timed(seconds, () => encoder.embedPixels(batch), signal);
  checkNotInterrupted(signal);
  // a new text each call, as users type them
  const text = await timed(seconds, (i) => encoder.embedTexts([`${QUERY_TEXTS[i % QUERY_TEXTS.length]} ${i}`]), signal);
  return {
    imagesPerSecond: round((IMAGE_BATCH * 1000) / vision.msPerCall),
    textMsPerQuery: round(text.msPerCall, 2),
    firstRunMs: { vision: Math.round(vision.firstMs), text: Math.round(text.firstMs) },
  };
}

/**
 * Up to `sample` image files spread evenly over the first `sample x 50` the scan finds: drawn
 * before anything is measured, so that a folder that is not there, or holds no images, fails at
 * once (as a folder the user named, it is a mistake, not something to skip).
 */
async function sampleArchive(archive: string, sample: number): Promise<ArchiveSample> {
  const resolved = path.resolve(archive);
  let isFolder: boolean;
  try {
    isFolder = statSync(resolved).isDirectory();
  } catch {
    throw new RsclipError('BAD_INPUT', `no archive folder at ${resolved}`, { hint: 'check the path of the image folder to sample, or leave it out to skip the indexing measurement' });
  }
  if (!isFolder) throw new RsclipError('BAD_INPUT', `${resolved} is a file, not an archive folder`, { hint: 'pass the folder that holds the images' });
  const candidates: string[] = [];
  for await (const file of scanRoot(archive, {}, newScanProblems())) {
    candidates.push(file.absolutePath);
    if (candidates.length >= sample * CANDIDATES_PER_SAMPLE) break;
  }
  const step = Math.max(1, candidates.length / sample);
  const files = Array.from({ length: Math.min(sample, candidates.length) }, (_, i) => candidates[Math.floor(i * step)]!);
  if (files.length === 0) throw new RsclipError('BAD_INPUT', `no image files under ${resolved}`, { hint: 'pass the folder that holds the images' });
  return { archive: resolved, files, candidates: candidates.length };
}

interface ArchiveSample {
  archive: string;
  files: string[];
  candidates: number;
}

async function benchIndexing(
  { archive, files, candidates }: ArchiveSample,
  encoder: ClipEncoder,
  machine: IndexingThreads,
  encoderImagesPerSecond: number,
  signal?: AbortSignal,
): Promise<IndexingBench> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-'));
  // removed on the way out, also by a second Ctrl-C's immediate exit
  const removeWork = removedOnExit(work);
  try {
    // the sample as links in one folder, indexed into a temporary index: the user's index is never touched
    const linked = path.join(work, 'sample');
    mkdirSync(linked);
    files.forEach((file, i) => symlinkSync(file, path.join(linked, `${String(i).padStart(6, '0')}${path.extname(file)}`)));
    const store = await openIndex(path.join(work, 'index'), { model: encoder.info, create: true });
    let summary;
    try {
      // the links lead outside their folder: followed on purpose
      summary = await indexArchive({ roots: [linked], store, encoder, batchSize: machine.batchSize, decodeThreads: machine.decodeThreads, followLinks: true, ...(signal ? { signal } : {}) });
    } finally {
      await store.close();
    }
    checkNotInterrupted(signal);
    return {
      archive,
      variant: encoder.info.variant,
      sampled: files.length,
      candidates,
      embedded: summary.embedded,
      errors: summary.errors,
      imagesPerSecond: round(summary.imagesPerSecond),
      encoderImagesPerSecond,
      shareOfEncoderRate: round(summary.imagesPerSecond / encoderImagesPerSecond, 3),
      // indexed with this process's encoder: the share is always there
      modelBusyShare: round(summary.timing.encoderBusyShare ?? 0, 3),
    };
  } finally {
    removeWork();
  }
}

/** A skip that says why, for an RsclipError (the index's model not at hand, say); anything else is thrown on. */
function skippedFor(error: unknown): { skipped: string } {
  if (error instanceof RsclipError) return { skipped: error.toOneLine() };
  throw error;
}

async function benchQueries(store: IndexStore, encoder: ClipEncoder, count: number, ids: number[], signal?: AbortSignal): Promise<QueryBench> {
  const searcher = new Searcher(encoder, store, { textCacheSize: 0 });
  await searcher.search({ terms: [{ kind: 'text', text: 'warm up', weight: 1 }], k: 10 });
  const text = { total: [] as number[], embed: [] as number[], search: [] as number[] };
  const similar: number[] = [];
  for (let i = 0; i < count; i++) {
    checkNotInterrupted(signal);
    let t = performance.now();
    const page = await searcher.search({ terms: [{ kind: 'text', text: `${QUERY_TEXTS[i % QUERY_TEXTS.length]} ${i}`, weight: 1 }], k: 10 });
    text.total.push(performance.now() - t);
    text.embed.push(page.timings.embedMs);
    text.search.push(page.timings.searchMs);
    t = performance.now();
    await searcher.search({ terms: [{ kind: 'id', id: ids[i % ids.length]!, weight: 1 }], k: 10 });
    similar.push(performance.now() - t);
  }
  const engine = store.meta.engine;
  return {
    index: store.describe().location,
    items: await store.countItems(),
    engine: engine.name === 'usearch' ? `usearch ${engine.quantization}` : engine.name,
    queries: count,
    text: { p50Ms: round(percentile(text.total, 0.5), 2), p95Ms: round(percentile(text.total, 0.95), 2), embedP50Ms: round(percentile(text.embed, 0.5), 2), searchP50Ms: round(percentile(text.search, 0.5), 2) },
    similar: { p50Ms: round(percentile(similar, 0.5), 2), p95Ms: round(percentile(similar, 0.95), 2) },
  };
}

export interface MachineBenchOptions {
  modelDir: string | undefined;
  variants: ModelVariant[] | undefined;
  /** Variant to index the sample with (default: int8 when present). */
  indexVariant?: ModelVariant;
  archive: string | undefined;
  index: string;
  /** Whether `index` was asked for (--index): then it must exist; the default index only skips the queries when absent. */
  indexGiven?: boolean;
  sample: number;
  queries: number;
  seconds: number;
  threads: number | undefined;
  onStage?: (stage: string) => void;
  /** Aborted: the run stops after the measurement in flight, cleans up and throws INTERRUPTED. */
  signal?: AbortSignal;
}

/**
 * The index the queries are measured on, undefined where the default one (not `given`) is not
 * there. One given that is not there is refused at once, before anything is measured, as a
 * missing archive folder is; an index at a PostgreSQL URL is looked for in its database.
 */
async function openQueriedIndex(index: string, given: boolean): Promise<IndexStore | undefined> {
  if (!isPostgresLocation(index)) {
    if (existsSync(index)) return openIndex(index, { readonly: true });
    if (!given) return undefined;
    throw new RsclipError('INDEX_NOT_FOUND', `no index at ${path.resolve(index)}`, {
      hint: 'check the path given to --index, or leave --index out to measure the encoder without queries',
    });
  }
  try {
    return await openIndex(index, { readonly: true });
  } catch (error) {
    if (!given && isRsclipError(error, 'INDEX_NOT_FOUND')) return undefined;
    throw error;
  }
}

export async function benchMachine(options: MachineBenchOptions): Promise<MachineBench> {
  const stage = options.onStage ?? (() => undefined);
  const threadOption = options.threads === undefined ? {} : { threads: options.threads };
  const store = await openQueriedIndex(options.index, options.indexGiven === true);
  try {
    const modelDir = options.modelDir ?? store?.meta.modelDir;
    if (!modelDir) {
      throw new RsclipError('BAD_INPUT', 'no model given: expected --model <dir>, "model" in rsclip.config.json, or an --index that records its model', {
        hint: 'fetch one with `rsclip model fetch` and pass its directory',
      });
    }
    if (!existsSync(modelDir)) {
      const recorded = options.modelDir === undefined;
      throw new RsclipError('MODEL_NOT_FOUND', `no model folder at ${modelDir}${recorded ? ' (the one the index records: moved or deleted?)' : ''}`, {
        hint: recorded ? 'pass --model with the folder where the model is now' : 'check the path, or fetch the model with `rsclip model fetch`',
      });
    }
    const variants = options.variants ?? presentVariants(modelDir);
    if (variants.length === 0) throw new RsclipError('MODEL_NOT_FOUND', `${modelDir} has none of the variants ${MODEL_VARIANTS.join(', ')}`, { hint: 'pass a model directory (`rsclip model info <dir>` checks one)' });
    const { signal } = options;
    const sample = options.archive === undefined ? undefined : await sampleArchive(options.archive, options.sample);
    const encoder: EncoderBench[] = [];
    const indexVariant = options.indexVariant ?? (variants.includes('int8') ? 'int8' : variants[0]!);
    let indexing: MachineBench['indexing'] = { skipped: 'no archive folder given' };
    for (const variant of variants) {
      checkNotInterrupted(signal);
      stage(`encoder ${variant}`);
      const cacheDir = loadConfig().config.cacheDir;
      const clip = await openClip(modelDir, { variant, ...threadOption, ...(cacheDir ? { cacheDir } : {}) });
      try {
        const result = { variant, ...(await benchEncoder(clip, options.seconds, signal)) };
        encoder.push(result);
        if (sample && variant === indexVariant) {
          checkNotInterrupted(signal);
          stage(`indexing a sample of ${options.archive} (${variant})`);
          // the machine shared and the encoder opened as `rsclip index` does (from 4 cores on it
          // leaves a quarter of them to decoding; on fewer, onnxruntime's threads sleep between sections)
          const machine = chooseIndexingThreads(options.threads === undefined ? {} : { onnxThreads: options.threads });
          const indexer = await openClip(modelDir, { variant, ...indexingEncoderOptions(machine), ...(cacheDir ? { cacheDir } : {}) });
          try {
            indexing = await benchIndexing(sample, indexer, machine, result.imagesPerSecond, signal);
          } finally {
            await indexer.close();
          }
        }
      } finally {
        await clip.close();
      }
    }
    if (options.archive && !variants.includes(indexVariant)) indexing = { skipped: `the ${indexVariant} variant was not measured` };
    let queries: MachineBench['queries'] = { skipped: `no index at ${isPostgresLocation(options.index) ? hidePassword(options.index) : path.resolve(options.index)}` };
    if (store) {
      checkNotInterrupted(signal);
      stage(`queries on ${store.describe().location}`);
      // what the encoder and indexing runs measured stands when the index cannot be queried
      const ids = await store.sampleItemIds(options.queries);
      const queryEncoder = ids.length === 0 ? undefined : await openEncoderForIndex(options.modelDir, store.meta, threadOption).catch((error: unknown) => skippedFor(error));
      if (queryEncoder === undefined) queries = { skipped: `index ${store.describe().location} has no searchable items` };
      else if ('skipped' in queryEncoder) queries = queryEncoder;
      else {
        try {
          queries = await benchQueries(store, queryEncoder, options.queries, ids, signal);
        } finally {
          await queryEncoder.close();
        }
      }
    }
    return {
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), memoryGiB: round(os.totalmem() / 2 ** 30), loadAverage1m: round(os.loadavg()[0]!, 2), node: process.version },
      model: path.resolve(modelDir),
      threads: options.threads,
      encoder,
      indexing,
      queries,
    };
  } finally {
    await store?.close();
  }
}

/** The report as a table for a terminal. */
export function formatMachineBench(report: MachineBench): string {
  const { machine } = report;
  const lines = [`machine   ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, load ${machine.loadAverage1m} (a busy machine gives lower figures)`];
  lines.push(`model     ${report.model}${report.threads ? `, ${report.threads} threads` : ''}`);
  lines.push(`encoder   ${'variant'.padEnd(8)}${'images/s'.padStart(10)}${'text ms'.padStart(10)}`);
  for (const e of report.encoder) lines.push(`          ${e.variant.padEnd(8)}${String(e.imagesPerSecond).padStart(10)}${String(e.textMsPerQuery).padStart(10)}`);
  const ix = report.indexing;
  lines.push(
    'skipped' in ix
      ? `indexing  skipped: ${ix.skipped}`
      : `indexing  ${ix.sampled} files of ${ix.archive} (${ix.variant}): ${ix.imagesPerSecond} images/s end to end, ${Math.round(ix.shareOfEncoderRate * 100)} % of the encoder alone (${ix.encoderImagesPerSecond}/s); model busy ${Math.round(ix.modelBusyShare * 100)} % of the time${ix.errors ? `; ${ix.errors} unreadable` : ''}`,
  );
  const q = report.queries;
  lines.push(
    'skipped' in q
      ? `queries   skipped: ${q.skipped}`
      : `queries   ${q.index} (${q.items} items, ${q.engine}): text p50 ${q.text.p50Ms} ms, p95 ${q.text.p95Ms} ms (embedding ${q.text.embedP50Ms} + search ${q.text.searchP50Ms}); similar p50 ${q.similar.p50Ms} ms, p95 ${q.similar.p95Ms} ms`,
  );
  return `${lines.join('\n')}\n`;
}

/** A bad --seconds is an option error like any other (commander's message, exit 2). */
function positiveSeconds(value: string): string {
  if (!(Number(value) > 0) || !Number.isFinite(Number(value))) throw new InvalidArgumentError(`expected a positive number of seconds, got "${value}"`);
  return value;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('measure this machine: encoder speed per variant, indexing rate on a sample of your archive (into a temporary index), query latency on your index')
    .argument('[archive]', 'image folder to sample for the indexing rate (nothing is added to your index)')
    .option('-m, --model <dir>', 'model directory (default: config "model", else the one the index records)')
    .option('--variant <variant>', 'measure only this variant (repeatable; default: every variant the model has)', (v: string, prev: ModelVariant[] | undefined): ModelVariant[] => [...(prev ?? []), modelVariant(v)])
    .option('--index <dir>', `index to measure queries on (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('--sample <n>', 'archive files to index (default 200)', positiveInt)
    .option('--queries <n>', 'text and similar-image queries to time (default 50)', positiveInt)
    .option('--seconds <s>', 'time per encoder measurement (default 3)', positiveSeconds)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--json', 'print the report as JSON')
    .action(async (archive: string | undefined, opts: BenchCommandOptions) => {
      const { config } = loadConfig();
      const threads = opts.threads ?? config.threads;
      // Ctrl-C stops after the measurement in flight and removes the temporary index, as `rsclip index` stops
      const sigint = stopOnSigint('rsclip bench: stopping after the measurement in flight (Ctrl-C again to quit at once)');
      let report: MachineBench;
      try {
        report = await benchMachine({
          modelDir: givenModel(opts.model, config),
          variants: opts.variant,
          ...(config.variant ? { indexVariant: config.variant } : {}),
          archive,
          index: opts.index ?? config.index ?? DEFAULT_INDEX_DIR,
          indexGiven: opts.index !== undefined,
          sample: opts.sample ?? 200,
          queries: opts.queries ?? 50,
          seconds: Number(opts.seconds ?? 3),
          threads,
          onStage: opts.json ? undefined : (s) => process.stderr.write(`rsclip bench: ${s}\n`),
          signal: sigint.signal,
        });
      } catch (error) {
        if (!(sigint.signal.aborted && isRsclipError(error, 'INTERRUPTED'))) throw error;
        process.stderr.write(`rsclip: ${error.message}\n`);
        process.exitCode = sigint.exitCode;
        return;
      } finally {
        sigint.release();
      }
      if (opts.json) printJson(report);
      else process.stdout.write(formatMachineBench(report));
    });
}
