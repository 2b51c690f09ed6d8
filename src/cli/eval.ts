/** `rsclip eval rsicd|score|ann|labels`: retrieval and classification benchmarks, ANN recall. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { RsclipError } from '../errors.js';
import {
  DEFAULT_ANN_EFS,
  evaluateAnn,
  evaluateLabels,
  evaluateRsicd,
  formatRsicdTable,
  scorePredictions,
  writeRsicdReport,
  type AnnReport,
  type EvalProgress,
  type LabelsReport,
  type ScoresAtK,
} from '../eval/index.js';
import { collect, modelVariant, nonNegativeInt, positiveInt, printJson } from './options.js';

function positiveIntList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const numbers = parts.map(Number);
  if (parts.length === 0 || numbers.some((n, i) => parts[i] === '' || !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError(`expected comma-separated positive integers, e.g. 10,20,50, got "${value}"`);
  }
  return numbers;
}

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

function progressLines(quiet: boolean): ((p: EvalProgress) => void) | undefined {
  if (quiet) return undefined;
  let lastPhase = '';
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase === lastPhase && p.done < p.total && now - last < 5000) return;
    lastPhase = p.phase;
    last = now;
    process.stderr.write(`${p.phase}: ${p.done}/${p.total}\n`);
  };
}

const fmt = (x: number): string => x.toFixed(3);

function scoresLine(scores: ScoresAtK): string {
  return Object.entries(scores)
    .map(([k, v]) => `score@${k} ${fmt(v)}`)
    .join('  ');
}

function formatAnnTable(report: AnnReport): string {
  const lines = [
    `index: ${report.index} (${report.vectors} vectors); recall@${report.k} against exact search; ${report.queries.stored} stored-vector queries (self held out, seed ${report.seed}), ${report.queries.texts} text queries`,
    '  search   ef     recall  min     queries/s',
    ...report.rows.map((r) => `  ${r.search.padEnd(7)}  ${String(r.ef ?? '-').padEnd(5)}  ${fmt(r.recall)}   ${fmt(r.minRecall)}   ${r.queriesPerSecond.toFixed(0)}`),
    report.recommendedEf === null
      ? `no ef of the sweep reaches recall ${report.target}: try larger --ef values`
      : `recommended: ef=${report.recommendedEf} (smallest with recall >= ${report.target})`,
  ];
  return `${lines.join('\n')}\n`;
}

function formatLabelsTable(report: LabelsReport): string {
  const lines = [
    `zero-shot over ${report.images} images of ${report.index}, ${report.classes.length} classes (labels: ${report.labelSource})`,
    report.excluded.unlabelled + report.excluded.otherClass > 0
      ? `left out: ${report.excluded.unlabelled} without a label, ${report.excluded.otherClass} with a label outside the classes`
      : '',
    scoresLine(report.scores),
    '  class                 images  top-1',
    ...report.perClass.map((c) => `  ${c.className.padEnd(20)}  ${String(c.images).padStart(6)}  ${fmt(c.top1)}`),
  ];
  return `${lines.filter((l) => l !== '').join('\n')}\n`;
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

interface RsicdCommandOptions {
  model: string;
  images: string;
  captions: string;
  labels: string;
  out?: string;
  prompt?: string[];
  index?: string;
  exact?: boolean;
  ef?: number;
  batch?: number;
  threads?: number;
  variant: ReturnType<typeof modelVariant>;
  json?: boolean;
}

interface AnnCommandOptions {
  index: string;
  queries: number;
  k: number;
  ef: number[];
  target: number;
  texts?: string;
  model?: string;
  seed: number;
  threads?: number;
  variant: ReturnType<typeof modelVariant>;
  json?: boolean;
}

interface LabelsCommandOptions {
  index: string;
  model: string;
  labels?: string;
  labelsFromFolders?: boolean;
  classes?: string[];
  prompt?: string[];
  threads?: number;
  variant: ReturnType<typeof modelVariant>;
  json?: boolean;
}

export function registerEvalCommands(program: Command): void {
  const evalCommand = program.command('eval').description('benchmark a model and an index: RSICD, predictions files, ANN recall, labelled archives');

  evalCommand
    .command('rsicd')
    .description('RSICD zero-shot top-k (clip-rsicd model card protocol) and cross-modal retrieval R@1/5/10')
    .requiredOption('-m, --model <dir>', 'model directory')
    .requiredOption('--images <dir>', 'folder of the RSICD test images')
    .requiredOption('--captions <file>', 'captions JSONL ({"filename", "captions": [...]} per line)')
    .requiredOption('--labels <file>', 'filename<TAB>label file')
    .option('--out <dir>', 'write report.json, report.md and predictions.tsv there')
    .option('--prompt <template>', 'zero-shot prompt with a {class} slot (repeatable: prompts are ensembled)', collect)
    .option('--index <dir>', 'take image vectors from this index and search it (ANN effects included)')
    .option('--exact', 'with --index: rank text->image by an exact scan instead of HNSW')
    .option('--ef <n>', 'with --index: HNSW search breadth', positiveInt)
    .option('--batch <n>', 'images per model run', positiveInt, 32)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--json', 'print the report as JSON')
    .action(async (opts: RsicdCommandOptions) => {
      if (opts.exact && !opts.index) {
        process.stderr.write('note: without --index the evaluation is always exact\n');
      }
      const evaluation = await evaluateRsicd({
        model: opts.model,
        images: opts.images,
        captions: opts.captions,
        labels: opts.labels,
        ...(opts.prompt ? { prompts: opts.prompt } : {}),
        ...(opts.index ? { index: opts.index } : {}),
        ...(opts.exact ? { exact: true } : {}),
        ...(opts.ef ? { ef: opts.ef } : {}),
        ...(opts.batch ? { batchSize: opts.batch } : {}),
        ...(opts.threads ? { threads: opts.threads } : {}),
        variant: opts.variant,
        commandLine: commandLine(),
        ...(opts.json ? {} : { onProgress: progressLines(false)! }),
      });
      const written = opts.out ? await writeRsicdReport(opts.out, evaluation) : [];
      if (opts.json) printJson(evaluation.report);
      else {
        process.stdout.write(formatRsicdTable(evaluation.report));
        for (const file of written) process.stdout.write(`wrote ${file}\n`);
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
        process.stdout.write(`${result.images} images${partial}\n${scoresLine(result.scores)}\n`);
      }
    });

  evalCommand
    .command('ann')
    .description('recall@k of HNSW search against exact search, and queries/s, for each ef')
    .requiredOption('--index <dir>', 'index directory')
    .option('--queries <n>', 'stored vectors sampled as queries (self match held out)', nonNegativeInt, 500)
    .option('--k <n>', 'neighbours per query', positiveInt, 10)
    .addOption(new Option('--ef <list>', 'ef values to sweep, comma-separated').argParser(positiveIntList).default(DEFAULT_ANN_EFS, DEFAULT_ANN_EFS.join(',')))
    .option('--target <recall>', 'recall the recommended ef must reach', recallTarget, 0.95)
    .option('--texts <file>', 'also query these texts (one per line; needs --model)')
    .option('-m, --model <dir>', 'the index\'s model, for --texts')
    .option('--seed <n>', 'seed of the query sample', nonNegativeInt, 1)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--json', 'print JSON')
    .action(async (opts: AnnCommandOptions) => {
      const texts = opts.texts ? await readTextLines(opts.texts) : [];
      const report = await evaluateAnn({
        index: opts.index,
        queries: opts.queries,
        k: opts.k,
        efs: opts.ef,
        target: opts.target,
        seed: opts.seed,
        texts,
        ...(opts.model ? { model: opts.model } : {}),
        ...(opts.threads ? { threads: opts.threads } : {}),
        variant: opts.variant,
      });
      if (opts.json) printJson(report);
      else process.stdout.write(formatAnnTable(report));
    });

  evalCommand
    .command('labels')
    .description('zero-shot top-k and per-class accuracy over a labelled archive in an index')
    .requiredOption('--index <dir>', 'index directory')
    .requiredOption('-m, --model <dir>', 'the model the index was built with')
    .option('--labels <file>', 'filename<TAB>label file (path relative to the archive root, or base name)')
    .option('--labels-from-folders', 'label each image by its parent folder name')
    .option('--classes <a,b,c>', 'classes to score (default: every label seen)', nameList)
    .option('--prompt <template>', 'prompt with a {class} slot (repeatable: prompts are ensembled)', collect)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16', modelVariant, 'fp32')
    .option('--json', 'print JSON')
    .action(async (opts: LabelsCommandOptions) => {
      const report = await evaluateLabels({
        index: opts.index,
        model: opts.model,
        ...(opts.labels ? { labels: opts.labels } : {}),
        ...(opts.labelsFromFolders ? { labelsFromFolders: true } : {}),
        ...(opts.classes ? { classes: opts.classes } : {}),
        ...(opts.prompt ? { prompts: opts.prompt } : {}),
        ...(opts.threads ? { threads: opts.threads } : {}),
        variant: opts.variant,
      });
      if (opts.json) printJson(report);
      else process.stdout.write(formatLabelsTable(report));
    });
}
