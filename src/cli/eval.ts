/** `rsclip eval rsicd|retrieval|zero-shot|compare|score|ann|labels`: retrieval and classification benchmarks, model comparison, ANN recall. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config.js';
import { RsclipError } from '../errors.js';
import { DEFAULT_ANN_EFS, evaluateAnn } from '../eval/ann.js';
import { bootstrapSettings, DEFAULT_BOOTSTRAP_SEED, DEFAULT_RESAMPLES, MAX_RESAMPLES, MIN_RESAMPLES, type BootstrapOptions } from '../eval/bootstrap.js';
import { compareReports, readReport } from '../eval/compare.js';
import type { EvalProgress } from '../eval/image-vectors.js';
import { evaluateLabels, type LabelsReport } from '../eval/labels.js';
import type { ScoresAtK } from '../eval/metrics.js';
import { scorePredictions } from '../eval/predictions.js';
import { formatAnnTable, formatComparisonTable, formatRetrievalTable, formatRsicdTable, formatZeroShotTable, prepareReportFolder, writeAnnReport, writeComparisonHtml, writeLabelsReport, writeRetrievalReport, writeRsicdReport, writeZeroShotReport } from '../eval/report.js';
import { evaluateRetrieval } from '../eval/retrieval.js';
import { evaluateRsicd } from '../eval/rsicd.js';
import { evaluateZeroShot } from '../eval/zero-shot-images.js';
import { defaultCacheDir } from '../model/hub/cache.js';
import { openEncoderForIndex, recordedModel, recordedModelGone } from '../search/open-encoder.js';
import { readIndexMeta } from '../store/open-index.js';
import { locationInCommand } from '../store/postgres/location.js';
import type { IndexMeta } from '../store/types.js';
import { hidePassword } from '../url-password.js';
import { evalProgressDisplay } from './eval-progress.js';
import { chosenIndex, chosenModel, collect, givenModel, decimalInteger, messagesBeside, modelVariant, nonNegativeInt, optionParser, outputFile, positiveInt, printJson } from './options.js';

function positiveIntList(value: string): number[] {
  const numbers = value.split(',').map((p) => decimalInteger(p.trim()));
  if (numbers.some((n) => Number.isNaN(n) || n < 1)) {
    throw new InvalidArgumentError(`expected comma-separated positive integers, e.g. 10,20,50, got "${value}"`);
  }
  return numbers;
}

/** `--resamples`: a plain integer, in the range the bootstrap itself checks (bootstrapSettings), so that the rule stays there. */
const resamplesOption = optionParser((value: string): number => {
  const n = decimalInteger(value);
  if (Number.isNaN(n)) throw new InvalidArgumentError(`expected an integer from ${MIN_RESAMPLES} to ${MAX_RESAMPLES.toLocaleString('en-US')}, got "${value}"`);
  return bootstrapSettings({ resamples: n }).resamples;
});

function recallTarget(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a recall in (0, 1], got "${value}"`);
  return n;
}

function nameList(value: string): string[] {
  const names = value.split(',').map((c) => c.trim()).filter((c) => c !== '');
  if (names.length === 0) throw new InvalidArgumentError(`expected comma-separated class names, got "${value}"`);
  return names;
}

function commandLine(): string {
  return ['rsclip', ...process.argv.slice(2)].map((a) => (/^[\w./:=,@+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs `evaluate` with progress on stderr (none with --json), the display stopped whatever happens. */
async function withProgress<T>(quiet: boolean, evaluate: (onProgress: ((p: EvalProgress) => void) | undefined) => Promise<T>): Promise<T> {
  if (quiet) return evaluate(undefined);
  const display = evalProgressDisplay();
  try {
    return await evaluate((p) => display.update(p));
  } finally {
    display.stop();
  }
}

/** Where caption embeddings are cached: the rsclip cache (config `cacheDir`, RSCLIP_CACHE_DIR, ~/.cache/rsclip), unless --no-cache. */
function captionCacheDir(cache: boolean): string | undefined {
  return cache ? (loadConfig().config.cacheDir ?? defaultCacheDir()) : undefined;
}

interface BootstrapFlags {
  resamples: number;
  seed: number;
}

function bootstrapFrom(opts: BootstrapFlags): BootstrapOptions {
  return { resamples: opts.resamples, seed: opts.seed };
}

function addBootstrapOptions(command: Command): Command {
  return command
    .option('--resamples <n>', `bootstrap resamples for the 95 % intervals, ${MIN_RESAMPLES} to ${MAX_RESAMPLES.toLocaleString('en-US')}`, resamplesOption, DEFAULT_RESAMPLES)
    .option('--seed <n>', 'seed of the bootstrap resampling', nonNegativeInt, DEFAULT_BOOTSTRAP_SEED);
}

/** A report's warnings on stderr, whatever the output form (--json included). */
function printWarnings(warnings: readonly string[]): void {
  for (const warning of warnings) process.stderr.write(`rsclip: warning: ${warning}\n`);
}

function printWritten(files: readonly string[], stream: NodeJS.WritableStream = process.stdout): void {
  for (const file of files) stream.write(`wrote ${file}\n`);
}

const fmt = (x: number): string => x.toFixed(3);

function scoresLine(scores: ScoresAtK): string {
  return Object.entries(scores)
    .map(([k, v]) => `score@${k} ${fmt(v)}`)
    .join('  ');
}

async function readTextLines(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RsclipError('NOT_FOUND', `cannot read the texts file ${file}: ${(cause as Error).message}`, { cause });
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

interface ModelRunOptions extends BootstrapFlags {
  model?: string;
  images: string;
  out?: string;
  batch?: number;
  threads?: number;
  variant: ReturnType<typeof modelVariant>;
  json?: boolean;
}

interface RsicdCommandOptions extends ModelRunOptions {
  captions: string;
  labels: string;
  prompt?: string[];
  index?: string;
  exact?: boolean;
  ef?: number;
  cache: boolean;
}

interface RetrievalCommandOptions extends ModelRunOptions {
  captions: string;
  split?: string;
  cache: boolean;
}

interface ZeroShotCommandOptions extends ModelRunOptions {
  labels?: string;
  labelsFromFolders?: boolean;
  classes?: string[];
  prompt?: string[];
}

interface AnnCommandOptions {
  index?: string;
  queries: number;
  k: number;
  ef: number[];
  target: number;
  texts?: string;
  model?: string;
  seed: number;
  threads?: number;
  variant: ReturnType<typeof modelVariant>;
  out?: string;
  json?: boolean;
}

interface LabelsCommandOptions extends BootstrapFlags {
  index?: string;
  model?: string;
  labels?: string;
  labelsFromFolders?: boolean;
  classes?: string[];
  prompt?: string[];
  threads?: number;
  variant?: ReturnType<typeof modelVariant>;
  out?: string;
  json?: boolean;
}

interface CompareCommandOptions extends BootstrapFlags {
  html?: string;
  json?: boolean;
}

/** --model, --batch, --threads, --variant, --out, --json and the bootstrap flags of the commands that run a model over images. */
function addModelRunOptions(command: Command): Command {
  return addBootstrapOptions(
    command
      .option('-m, --model <dir>', 'model directory (default: config "model")')
      .option('--out <dir>', 'write report.json, report.md and report.html there')
      .option('--batch <n>', 'images per model run', positiveInt, 32)
      .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
      .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
      .option('--json', 'print the report as JSON'),
  );
}

const modelRun = (opts: ModelRunOptions, model: string = chosenModel(opts.model)) => ({
  model,
  images: opts.images,
  ...(opts.batch ? { batchSize: opts.batch } : {}),
  ...(opts.threads ? { threads: opts.threads } : {}),
  variant: opts.variant,
  bootstrap: bootstrapFrom(opts),
  commandLine: commandLine(),
});

/** --model, else the config's model, else (through an index) the model the index recorded, as search and eval labels take it. */
function modelForIndex(flag: string | undefined, meta: IndexMeta | undefined): string {
  const configured = flag ?? loadConfig().config.model;
  if (configured !== undefined || !meta) return chosenModel(configured);
  const recorded = recordedModel(meta);
  if (!recorded?.present) throw recordedModelGone(meta);
  return recorded.dir;
}

export function registerEvalCommands(program: Command): void {
  const evalCommand = program
    .command('eval')
    .description('benchmark models and indexes: RSICD, retrieval and zero-shot on any dataset, model comparison, predictions files, ANN recall, labelled archives');

  addModelRunOptions(
    evalCommand
      .command('rsicd')
      .description('RSICD zero-shot top-k (clip-rsicd model card protocol) and cross-modal retrieval R@1/5/10, with 95 % intervals')
      .requiredOption('--images <dir>', 'folder of the RSICD test images')
      .requiredOption('--captions <file>', 'captions JSONL ({"filename", "captions": [...]} per line)')
      .requiredOption('--labels <file>', 'labels: filename<TAB>label lines, or CSV (RFC 4180; a .csv file always is)')
      .option('--prompt <template>', 'zero-shot prompt with a {class} slot (repeatable: prompts are ensembled)', collect)
      .option('--index <dir>', 'take image vectors from this index and search it (ANN effects included)')
      .option('--exact', 'with --index: rank text->image by an exact scan instead of HNSW')
      .option('--ef <n>', 'with --index: HNSW search breadth', positiveInt)
      .option('--no-cache', 'embed every caption again instead of using the caption-embedding cache'),
  )
    .addHelpText('after', '\n--out also writes predictions.tsv (clip-rsicd result-file format, see `eval score`; a tab, line break or backslash in a name is written \\t, \\n, \\r or \\\\). With --index, --model and --variant default to the index\'s.')
    .action(async (opts: RsicdCommandOptions, command: Command) => {
      if (opts.out) await prepareReportFolder(opts.out);
      if (opts.exact && !opts.index) {
        process.stderr.write('note: without --index the evaluation is always exact\n');
      }
      // through an index, the model and variant it was built with, unless --model or --variant says otherwise (as eval labels and search do)
      const meta = opts.index ? await readIndexMeta(opts.index) : undefined;
      const recorded = meta && command.getOptionValueSource('variant') === 'default' ? meta.modelVariant : undefined;
      const variant = recorded ? modelVariant(recorded) : opts.variant;
      const evaluation = await withProgress(Boolean(opts.json), (onProgress) =>
        evaluateRsicd({
          ...modelRun(opts, modelForIndex(opts.model, meta)),
          variant,
          captions: opts.captions,
          labels: opts.labels,
          ...(opts.prompt ? { prompts: opts.prompt } : {}),
          ...(opts.index ? { index: opts.index } : {}),
          ...(opts.exact ? { exact: true } : {}),
          ...(opts.ef ? { ef: opts.ef } : {}),
          cacheDir: captionCacheDir(opts.cache),
          ...(onProgress ? { onProgress } : {}),
        }),
      );
      printWarnings(evaluation.report.warnings);
      const written = opts.out ? await writeRsicdReport(opts.out, evaluation) : [];
      if (opts.json) printJson(evaluation.report);
      else {
        process.stdout.write(formatRsicdTable(evaluation.report));
        printWritten(written);
      }
    });

  addModelRunOptions(
    evalCommand
      .command('retrieval')
      .description('cross-modal retrieval R@1/5/10 both ways and mR, with 95 % intervals, on a Karpathy-style dataset_*.json split or our JSONL')
      .requiredOption('--images <dir>', 'folder the caption file\'s image names are relative to')
      .requiredOption('--captions <file>', 'dataset_rsicd.json / dataset_ucm.json / dataset_sydney.json / dataset_RSITMD.json, or JSONL')
      .option('--split <name>', 'split of a Karpathy-style file (default: test)')
      .option('--no-cache', 'embed every caption again instead of using the caption-embedding cache'),
  ).action(async (opts: RetrievalCommandOptions) => {
    if (opts.out) await prepareReportFolder(opts.out);
    const evaluation = await withProgress(Boolean(opts.json), (onProgress) =>
      evaluateRetrieval({
        ...modelRun(opts),
        captions: opts.captions,
        ...(opts.split !== undefined ? { split: opts.split } : {}),
        cacheDir: captionCacheDir(opts.cache),
        ...(onProgress ? { onProgress } : {}),
      }),
    );
    const written = opts.out ? await writeRetrievalReport(opts.out, evaluation) : [];
    if (opts.json) printJson(evaluation.report);
    else {
      process.stdout.write(formatRetrievalTable(evaluation.report));
      printWritten(written);
    }
  });

  addModelRunOptions(
    evalCommand
      .command('zero-shot')
      .description('zero-shot classification of a labelled image folder: top-k and per-class accuracy, confusion matrix, with 95 % intervals')
      .requiredOption('--images <dir>', 'folder of the images (searched recursively)')
      .option('--labels <file>', 'labels: filename<TAB>label lines or CSV (path relative to --images, or base name)')
      .option('--labels-from-folders', 'label each image by the folder it sits in (AID, UCM, NWPU-RESISC45, EuroSAT layout)')
      .option('--classes <a,b,c>', 'classes to score (default: every label seen)', nameList)
      .option('--prompt <template>', 'prompt with a {class} slot (repeatable: prompts are ensembled)', collect),
  )
    .addHelpText('after', '\n--out also writes predictions.tsv (clip-rsicd result-file format, see `eval score`; a tab, line break or backslash in a name is written \\t, \\n, \\r or \\\\).')
    .action(async (opts: ZeroShotCommandOptions) => {
      if (opts.out) await prepareReportFolder(opts.out);
      const evaluation = await withProgress(Boolean(opts.json), (onProgress) =>
        evaluateZeroShot({
          ...modelRun(opts),
          ...(opts.labels ? { labels: opts.labels } : {}),
          ...(opts.labelsFromFolders ? { labelsFromFolders: true } : {}),
          ...(opts.classes ? { classes: opts.classes } : {}),
          ...(opts.prompt ? { prompts: opts.prompt } : {}),
          ...(onProgress ? { onProgress } : {}),
        }),
      );
      printWarnings(evaluation.report.warnings);
      const written = opts.out ? await writeZeroShotReport(opts.out, evaluation) : [];
      if (opts.json) printJson(evaluation.report);
      else {
        process.stdout.write(formatZeroShotTable(evaluation.report));
        printWritten(written);
      }
    });

  addBootstrapOptions(
    evalCommand
      .command('compare')
      .description('models side by side: each metric with its interval, and differences to the first report with paired bootstrap intervals (* = significant)')
      .argument('<reports...>', 'report.json files (or the --out folders holding them) of `eval rsicd|retrieval|zero-shot|labels --out` over the same data (the first is the baseline)')
      .option('--html <file>', 'also write the comparison as a page; - for stdout, and the table goes to stderr', outputFile)
      .option('--json', 'print JSON'),
  ).action(async (files: string[], opts: CompareCommandOptions) => {
    const reports = [];
    for (const file of files) reports.push(await readReport(file));
    const comparison = compareReports(reports, files, bootstrapFrom(opts));
    const written = opts.html ? [await writeComparisonHtml(opts.html, comparison)] : [];
    const messages = await messagesBeside(opts.html);
    if (opts.json) printJson(comparison, messages);
    else {
      messages.write(formatComparisonTable(comparison));
      printWritten(written, messages);
    }
  });

  evalCommand
    .command('score')
    .description('score@1/3/5/10 of a per-image predictions TSV (clip-rsicd result-file format)')
    .argument('<predictions>', 'predictions file: filename<TAB>label then class<TAB>probability pairs, best first')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const result = await scorePredictions(file);
      if (opts.json) printJson(result);
      else {
        const partial = result.minPredictionsPerLine < 10 ? ` (some lines have only ${result.minPredictionsPerLine} predictions)` : '';
        const header = result.skippedHeader ? '; the first line names the columns (a header) and was not scored' : '';
        process.stdout.write(`${result.images} images${partial}${header}\n${scoresLine(result.scores)}\n`);
      }
    });

  evalCommand
    .command('ann')
    .description('recall@k of HNSW search against exact search, and queries/s, for each ef')
    .option('--index <dir>', 'index directory (default: config "index" or data/index)')
    .option('--queries <n>', 'stored vectors sampled as queries (self match held out)', nonNegativeInt, 500)
    .option('--k <n>', 'neighbours per query', positiveInt, 10)
    .option('--ef <list>', `ef values to sweep (default: ${DEFAULT_ANN_EFS.join(',')})`, positiveIntList)
    .option('--target <recall>', 'recall the recommended ef must reach', recallTarget, 0.95)
    .option('--texts <file>', 'also query these texts (one per line; needs --model)')
    .option('-m, --model <dir>', 'the index\'s model, for --texts')
    .option('--seed <n>', 'seed of the query sample', nonNegativeInt, 1)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--out <dir>', 'write report.json, report.md and report.html (recall against queries/s over ef) there')
    .option('--json', 'print JSON')
    .action(async (opts: AnnCommandOptions) => {
      if (opts.out) await prepareReportFolder(opts.out);
      const texts = opts.texts ? await readTextLines(opts.texts) : [];
      const { config } = loadConfig();
      const textModel = givenModel(opts.model, config);
      const report = await evaluateAnn({
        index: chosenIndex(opts.index, config),
        queries: opts.queries,
        k: opts.k,
        efs: opts.ef ?? DEFAULT_ANN_EFS,
        target: opts.target,
        seed: opts.seed,
        texts,
        ...(textModel ? { model: textModel } : {}),
        ...(opts.threads ? { threads: opts.threads } : {}),
        variant: opts.variant,
      });
      const written = opts.out ? await writeAnnReport(opts.out, report) : [];
      if (opts.json) printJson(report);
      else {
        process.stdout.write(formatAnnTable(report));
        printWritten(written);
      }
    });

  addBootstrapOptions(
    evalCommand
      .command('labels')
      .description('zero-shot top-k and per-class accuracy over a labelled archive in an index')
      .option('--index <dir>', 'index directory (default: config "index" or data/index)')
      .option('-m, --model <dir>', 'the model the index was built with (default: config "model", or the one it recorded)')
      .option('--labels <file>', 'labels: filename<TAB>label lines or CSV (path relative to the archive root, or base name)')
      .option('--labels-from-folders', 'label each image by its parent folder name')
      .option('--classes <a,b,c>', 'classes to score (default: every label seen)', nameList)
      .option('--prompt <template>', 'prompt with a {class} slot (repeatable: prompts are ensembled)', collect)
      .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
      .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16 (default: the index\'s)', modelVariant)
      .option('--out <dir>', 'write report.json, report.md and report.html there')
      .option('--json', 'print JSON'),
  ).action(async (opts: LabelsCommandOptions) => {
    if (opts.out) await prepareReportFolder(opts.out);
    const { config } = loadConfig();
    const index = chosenIndex(opts.index, config);
    const meta = await readIndexMeta(index);
    if (!meta) throw new RsclipError('INDEX_NOT_FOUND', `no index at ${hidePassword(index)}`, { hint: `build one with \`rsclip index <archive dir> --index ${locationInCommand(index)}\`` });
    // the index's recorded model and variant are the default, as for search and index
    const encoder = await openEncoderForIndex(givenModel(opts.model, config), meta, { ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.variant ? { variant: opts.variant } : {}) });
    let report: LabelsReport;
    try {
      report = await evaluateLabels({
        index,
        model: encoder,
        ...(opts.labels ? { labels: opts.labels } : {}),
        ...(opts.labelsFromFolders ? { labelsFromFolders: true } : {}),
        ...(opts.classes ? { classes: opts.classes } : {}),
        ...(opts.prompt ? { prompts: opts.prompt } : {}),
        bootstrap: bootstrapFrom(opts),
        commandLine: commandLine(),
      });
    } finally {
      await encoder.close();
    }
    printWarnings(report.warnings);
    const written = opts.out ? await writeLabelsReport(opts.out, report) : [];
    if (opts.json) printJson(report);
    else {
      process.stdout.write(formatZeroShotTable(report));
      printWritten(written);
    }
  });
}
