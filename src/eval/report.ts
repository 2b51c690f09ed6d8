/**
 * Human and machine forms of the evaluations: the console tables, and the `--out` folder
 * with report.json (everything, per-image outcomes included, which `eval compare` pairs),
 * report.md, report.html (self-contained charts) and, for zero-shot runs, predictions.tsv
 * (clip-rsicd result-file format).
 */
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { access, lstat, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { oneField } from '../one-field.js';
import { processAlive } from '../process-alive.js';
import { descriptorNamed, writeToDescriptor } from '../output-descriptor.js';
import { namedAsTarget, stagingFor } from '../staged-file.js';
import type { AnnReport } from './ann.js';
import type { BootstrapSettings, Interval } from './bootstrap.js';
import { comparedUnits, type Comparison } from './compare.js';
import { annHtml, compareHtml, exampleFiles, labelsHtml, metricLabel, retrievalHtml, rsicdHtml, thumbnailsOf, zeroShotHtml } from './html-report.js';
import type { LabelsReport } from './labels.js';
import { unitsPhrase, type RetrievalSection, type ZeroShotSection } from './outcomes.js';
import { formatPredictions, type ImagePrediction } from './predictions.js';
import type { RetrievalEvaluation, RetrievalReport } from './retrieval.js';
import type { RsicdEvaluation, RsicdReport } from './rsicd.js';
import { fmt3 } from './svg-chart.js';
import type { TextEmbeddingStats } from './text-embeddings.js';
import type { ZeroShotEvaluation, ZeroShotReport } from './zero-shot-images.js';

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', html: 'report.html', predictions: 'predictions.tsv' } as const;

const withInterval = (value: number, interval: Interval | undefined): string => `${fmt3(value)}${interval ? ` [${fmt3(interval.low)}, ${fmt3(interval.high)}]` : ''}`;

function confidenceLine(settings: BootstrapSettings): string {
  const over = settings.unit === 'file' ? 'files (each drawn with all its tiles)' : 'images';
  return `[low, high]: ${Math.round(settings.level * 100)} % bootstrap interval over ${over} (${settings.resamples} resamples, seed ${settings.seed})`;
}

function warningLines(warnings: readonly string[], prefix: string): string[] {
  return warnings.map((w) => `${prefix}warning: ${w}`);
}

function modeLine(report: RsicdReport): string {
  if (report.mode === 'exact') return 'mode: exact (image vectors from the model, exhaustive ranking)';
  const fromIndex = report.search.imagesFromIndex ?? report.data.images;
  const vectors = fromIndex === report.data.images ? 'image vectors from the index' : `${fromIndex} of ${report.data.images} image vectors from the index, the others embedded (other bytes than indexed)`;
  const t2i = report.search.textToImage === 'hnsw' ? `HNSW search, ef=${report.search.ef}` : fromIndex === report.data.images ? 'exact scan of the index' : 'exact ranking';
  return `mode: index ${report.search.index} (${vectors}; text->image by ${t2i}; image->text exact)`;
}

function zeroShotLines(section: ZeroShotSection): string[] {
  return Object.keys(section.scores).map((k) => `  score@${k.padEnd(3)} ${withInterval(section.scores[Number(k)]!, section.intervals[`score@${k}`])}`);
}

function retrievalLines(section: RetrievalSection): string[] {
  const ks = Object.keys(section.textToImage).map(Number);
  const row = (name: string, key: 'textToImage' | 'imageToText') => `  ${name}  ${ks.map((k) => `R@${k} ${withInterval(section[key][k]!, section.intervals[`${key}@${k}`])}`).join('  ')}`;
  return [row('text->image', 'textToImage'), row('image->text', 'imageToText'), `  mR           ${withInterval(section.meanRecall, section.intervals.meanRecall)}`];
}

function retrievalHeading(section: RetrievalSection, images: number): string {
  return `cross-modal retrieval (${section.textQueries} captions, ${images} images${section.imagesWithoutCaptions > 0 ? `, ${section.imagesWithoutCaptions} without captions left out of image->text` : ''})`;
}

function captionLine(stats: TextEmbeddingStats): string {
  return `captions: ${stats.texts} (${stats.distinct} distinct), ${stats.cached} from the cache, ${stats.embedded} embedded${stats.cacheSaveError ? `; the cache could not be saved: ${stats.cacheSaveError}` : ''}`;
}

const seconds = (report: { wallSeconds: number; phaseSeconds: Record<string, number> }): string =>
  `${report.wallSeconds.toFixed(1)} s (${Object.entries(report.phaseSeconds)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ')})`;

/** The closing lines of a console table with retrieval: intervals, caption embedding, time. */
function retrievalFooter(report: RsicdReport | RetrievalReport): string[] {
  return ['', confidenceLine(report.confidence), captionLine(report.captionEmbedding), seconds(report), ''];
}

/** The console table of `eval rsicd` (plain text). */
export function formatRsicdTable(report: RsicdReport): string {
  return [
    `model: ${report.model.id} (${report.model.fingerprint.slice(0, 12)}, ${report.model.variant})`,
    modeLine(report),
    '',
    `zero-shot classification (${unitsPhrase(report.zeroShot.outcomes)}, ${report.zeroShot.classes.length} classes, ${report.prompts.length} prompt(s))`,
    ...zeroShotLines(report.zeroShot),
    '',
    retrievalHeading(report.retrieval, report.data.images),
    ...retrievalLines(report.retrieval),
    ...retrievalFooter(report),
  ].join('\n');
}

export function formatRetrievalTable(report: RetrievalReport): string {
  const d = report.data;
  return [
    `model: ${report.model.id} (${report.model.fingerprint.slice(0, 12)}, ${report.model.variant})`,
    `captions: ${d.captionsFile} (${d.captionsFormat}${d.split ? `, split ${d.split}` : ''})`,
    '',
    retrievalHeading(report.retrieval, d.images),
    ...retrievalLines(report.retrieval),
    ...retrievalFooter(report),
  ].join('\n');
}

function perClassLines(section: ZeroShotSection): string[] {
  const width = Math.max(20, ...section.perClass.map((c) => oneField(c.className).length));
  return [
    `  ${'class'.padEnd(width)}  images  top-1`,
    ...section.perClass.map((c) => `  ${oneField(c.className).padEnd(width)}  ${String(c.images).padStart(6)}  ${c.top1 !== null ? withInterval(c.top1, c.top1Interval) : '-'}`),
  ];
}

export function formatZeroShotTable(report: ZeroShotReport | LabelsReport): string {
  const { excluded } = report.kind === 'zero-shot' ? report.data : report;
  const source = report.kind === 'zero-shot' ? report.data.imagesDir : report.index;
  return [
    `zero-shot over ${unitsPhrase(report.zeroShot.outcomes)} of ${source}, ${report.zeroShot.classes.length} classes (labels: ${report.kind === 'zero-shot' ? report.data.labelSource : report.labelSource})`,
    ...(excluded.unlabelled + excluded.otherClass > 0 ? [`left out: ${excluded.unlabelled} without a label, ${excluded.otherClass} with a label outside the classes`] : []),
    ...zeroShotLines(report.zeroShot),
    ...perClassLines(report.zeroShot),
    confidenceLine(report.confidence),
    ...(report.kind === 'zero-shot' ? [seconds(report)] : []),
    '',
  ].join('\n');
}

export function formatAnnTable(report: AnnReport): string {
  const lines = [
    `index: ${report.index} (${report.vectors} vectors); recall@${report.k} against exact search; ${report.queries.stored} stored-vector queries (self held out, seed ${report.seed}), ${report.queries.texts} text queries`,
    '  search   ef     recall  min     queries/s',
    ...report.rows.map((r) => `  ${r.search.padEnd(7)}  ${String(r.ef ?? '-').padEnd(5)}  ${fmt3(r.recall)}   ${fmt3(r.minRecall)}   ${r.queriesPerSecond.toFixed(0).padEnd(9)}${askedBelow(r)}`.trimEnd()),
    report.recommendedEf === null
      ? `no ef of the sweep reaches recall ${report.target}: try larger --ef values`
      : `recommended: ef=${report.recommendedEf} (smallest with recall >= ${report.target})`,
  ];
  return `${lines.join('\n')}\n`;
}

/** For an ANN row standing for requested efs it could not use: what was asked. */
function askedBelow(row: AnnReport['rows'][number]): string {
  const below = row.requestedEfs.filter((ef) => ef !== row.ef);
  return below.length > 0 ? `  (--ef ${below.join(',')} searched as ${row.ef}: a search takes at least the k + 1 neighbours it asks for)` : '';
}

/** `eval compare`: one block per section, values with intervals, differences to the first report marked `*` when significant. */
export function formatComparisonTable(comparison: Comparison): string {
  const { reports } = comparison;
  const lines = reports.map((r) => `${r.label}  ${r.model.id}${r.model.variant ? ` ${r.model.variant}` : ''} (${r.model.fingerprint.slice(0, 12)})  ${r.file}`);
  for (const section of comparison.sections) {
    lines.push('', `${section.name === 'retrieval' ? 'cross-modal retrieval' : 'zero-shot classification'} (${comparedUnits(section)} paired)`);
    const header = ['metric', ...reports.map((r) => r.label), ...reports.slice(1).map((r) => `${r.label} - ${reports[0]!.label}`)];
    const rows = section.metrics.map((m) => [
      metricLabel(m.key).replace('→', '->'),
      ...m.values.map((v) => withInterval(v.value, v.interval)),
      ...m.deltas.slice(1).map((d) => `${d!.delta >= 0 ? '+' : ''}${withInterval(d!.delta, d!.interval)}${d!.significant ? ' *' : ''}`),
    ]);
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    for (const row of [header, ...rows]) lines.push(`  ${row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}`.trimEnd());
  }
  const tiles = comparison.sections.some((s) => s.unit === 'tile');
  lines.push('', `${confidenceLine({ ...comparison.confidence, unit: tiles ? 'file' : 'image' })}; differences paired (same resamples on both sides); * = the interval of the difference excludes 0`, '');
  return lines.join('\n');
}

function markdownRuns(report: { rsclipVersion: string; date: string; commandLine?: string | null }): string {
  return `- rsclip ${report.rsclipVersion}, ${report.date}; command: \`${report.commandLine ?? '(library call)'}\``;
}

/** A class name (a folder's or a label file's: any text) as one cell of a Markdown table: shown as written, never read as HTML or Markdown (oneField has written a backslash as `\\`, which Markdown shows as one). */
function markdownCell(text: string): string {
  return oneField(text)
    .replaceAll('&', '&amp;')
    .replace(/[`*_[\]|#<>]/g, (c) => `\\${c}`);
}

function zeroShotMarkdown(section: ZeroShotSection): string[] {
  const ks = Object.keys(section.scores);
  return [
    `## Zero-shot classification (${unitsPhrase(section.outcomes)}, ${section.classes.length} classes)`,
    '',
    `| ${ks.map((k) => `score@${k}`).join(' | ')} |`,
    `|${ks.map(() => '---').join('|')}|`,
    `| ${ks.map((k) => withInterval(section.scores[Number(k)]!, section.intervals[`score@${k}`])).join(' | ')} |`,
    '',
    '| class | images | top-1 |',
    '|---|---|---|',
    ...section.perClass.map((c) => `| ${markdownCell(c.className)} | ${c.images} | ${c.top1 !== null ? withInterval(c.top1, c.top1Interval) : '-'} |`),
    '',
  ];
}

function retrievalMarkdown(section: RetrievalSection): string[] {
  const ks = Object.keys(section.textToImage).map(Number);
  const row = (name: string, key: 'textToImage' | 'imageToText') => `| ${name} | ${ks.map((k) => withInterval(section[key][k]!, section.intervals[`${key}@${k}`])).join(' | ')} |`;
  return [
    `## Cross-modal retrieval (${section.textQueries} caption queries, ${section.imageQueries} image queries)`,
    '',
    `| direction | ${ks.map((k) => `R@${k}`).join(' | ')} |`,
    `|---|${ks.map(() => '---').join('|')}|`,
    row('text->image', 'textToImage'),
    row('image->text', 'imageToText'),
    '',
    `mean recall (mR): ${withInterval(section.meanRecall, section.intervals.meanRecall)}${section.imagesWithoutCaptions > 0 ? `; ${section.imagesWithoutCaptions} image(s) without captions left out of image->text` : ''}`,
    '',
  ];
}

export function formatRsicdMarkdown(report: RsicdReport): string {
  const d = report.data;
  return [
    '# RSICD evaluation',
    '',
    `${markdownRuns(report)}; ${seconds(report)} wall time`,
    `- model: ${report.model.id}, fingerprint \`${report.model.fingerprint}\`, variant ${report.model.variant}, logit scale ${report.model.logitScale} (${report.model.logitScaleSource})`,
    `- ${modeLine(report)}`,
    `- images: ${d.images} in ${d.imagesDir}, sorted-name-list sha256 \`${d.imageListSha256}\``,
    `- captions: ${d.captions} from ${d.captionsFile}, sha256 \`${d.captionsSha256}\``,
    `- labels: ${d.labelsFile}, sha256 \`${d.labelsSha256}\``,
    `- prompts: ${report.prompts.map((p) => `\`${p}\``).join(', ')}`,
    `- ${captionLine(report.captionEmbedding)}`,
    `- ${confidenceLine(report.confidence)}`,
    ...warningLines(report.warnings, '- '),
    '',
    ...zeroShotMarkdown(report.zeroShot),
    ...retrievalMarkdown(report.retrieval),
  ].join('\n');
}

export function formatRetrievalMarkdown(report: RetrievalReport): string {
  const d = report.data;
  return [
    '# Cross-modal retrieval',
    '',
    `${markdownRuns(report)}; ${seconds(report)} wall time`,
    `- model: ${report.model.id}, fingerprint \`${report.model.fingerprint}\`, variant ${report.model.variant}`,
    `- images: ${d.images} in ${d.imagesDir}, sorted-name-list sha256 \`${d.imageListSha256}\``,
    `- captions: ${d.captions} from ${d.captionsFile} (${d.captionsFormat}${d.split ? `, split ${d.split}` : ''}), sha256 \`${d.captionsSha256}\``,
    `- ${captionLine(report.captionEmbedding)}`,
    `- ${confidenceLine(report.confidence)}`,
    '',
    ...retrievalMarkdown(report.retrieval),
  ].join('\n');
}

export function formatZeroShotMarkdown(report: ZeroShotReport | LabelsReport): string {
  const source = report.kind === 'zero-shot' ? `images: ${report.data.imagesDir}, labels: ${report.data.labelSource}` : `index: ${report.index}, labels: ${report.labelSource}`;
  const labelsSha256 = report.kind === 'zero-shot' ? report.data.labelsSha256 : report.labelsSha256;
  return [
    '# Zero-shot classification',
    '',
    markdownRuns(report),
    `- model: ${report.model.id}, fingerprint \`${report.model.fingerprint}\`, variant ${report.model.variant}`,
    `- ${source}${labelsSha256 ? `, sha256 \`${labelsSha256}\`` : ''}`,
    `- prompts: ${report.prompts.map((p) => `\`${p}\``).join(', ')}`,
    `- ${confidenceLine(report.confidence)}`,
    ...warningLines(report.warnings, '- '),
    '',
    ...zeroShotMarkdown(report.zeroShot),
  ].join('\n');
}

export function formatAnnMarkdown(report: AnnReport): string {
  return ['# ANN recall', '', `- rsclip ${report.rsclipVersion}, ${report.date}`, '', '```', formatAnnTable(report).trimEnd(), '```', ''].join('\n');
}

/** Makes the report folder (if needed) and checks it can be written: before an evaluation runs, so that a mistyped `--out` costs no run. */
export async function prepareReportFolder(outDir: string, what = 'report folder'): Promise<void> {
  try {
    await mkdir(outDir, { recursive: true });
    await access(outDir, constants.W_OK);
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `cannot create the ${what} ${outDir}: ${(cause as Error).message}`, { cause });
  }
}

/** A report file on its way: written in full to `temporary` (beside `destination`), then renamed; `temporary` is null for what is not a file (a named pipe), written directly. */
interface StagedFile {
  shown: string;
  destination: string;
  temporary: string | null;
  text: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');


/** Removes the temporary files that a killed run left beside `destination` (those of live processes stay). */
async function removeStaleTemporaries(destination: string): Promise<void> {
  const dir = path.dirname(destination);
  const pattern = new RegExp(`^\\.${escapeRegExp(path.basename(destination))}\\.(\\d+)\\.[0-9a-f]+\\.partial$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = pattern.exec(name)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) await rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
}

async function stage(outDir: string, name: string, text: string): Promise<StagedFile> {
  const shown = path.join(outDir, name);
  if ((await stat(shown).catch(() => undefined))?.isDirectory()) {
    // found before anything is written, so that no file of the set is replaced
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${shown}'`), { code: 'EISDIR', syscall: 'open', path: shown });
  }
  // pid and a random part: two files of one set, or two runs, never share a temporary
  const staging = await stagingFor(shown, `${process.pid}.${randomBytes(4).toString('hex')}`);
  if (!staging) return { shown, destination: shown, temporary: null, text };
  await removeStaleTemporaries(staging.destination);
  return { shown, destination: staging.destination, temporary: staging.partial, text };
}

/** `error` naming the report file the user asked for instead of its temporary. */
function namedAsShown(error: unknown, staged: readonly StagedFile[]): unknown {
  return namedAsTarget(
    error,
    staged.flatMap((s) => (s.temporary ? [[s.temporary, s.shown] as const] : [])),
  );
}

export interface WriteReportOptions {
  /** Names in `outDir` that belong to the same set of report files: those not written this time are removed once the new set is in place (an older run's predictions.tsv does not stay beside a report without one). */
  replaces?: readonly string[];
}

/**
 * Writes `files` (name -> content) into `outDir`, created if needed; returns their paths. The
 * files replace the ones there as a set: each is first written in full to a hidden temporary file
 * beside it (`.<name>.<pid>.<random>.partial`), and only when all are written are they renamed
 * into place. A write that fails (a full disk, no permission) removes the temporaries and leaves
 * the earlier files exactly as they were: never a cut-off file, never a mix of two runs. Killed
 * while writing, a run leaves only a hidden temporary, which the next run into the folder
 * removes. (The renames, in one folder, need no room on the disk; only a failure or a kill
 * between two of them, a window of microseconds, could leave some files of each run.) A symbolic link keeps leading to the file it names; what is not a file (a named pipe)
 * is written directly.
 */
export async function writeReportFiles(outDir: string, files: Record<string, string>, options: WriteReportOptions = {}): Promise<string[]> {
  await prepareReportFolder(outDir);
  const staged: StagedFile[] = [];
  for (const [name, text] of Object.entries(files)) staged.push(await stage(outDir, name, text));
  try {
    for (const file of staged) if (file.temporary) await writeFile(file.temporary, file.text);
    for (const file of staged) if (file.temporary) await rename(file.temporary, file.destination);
  } catch (error) {
    await Promise.all(staged.map((file) => (file.temporary ? rm(file.temporary, { force: true }).catch(() => undefined) : undefined)));
    throw namedAsShown(error, staged);
  }
  for (const file of staged) if (!file.temporary) await writeFile(file.destination, file.text);
  for (const name of options.replaces ?? []) {
    if (Object.hasOwn(files, name)) continue;
    const leftover = path.join(outDir, name);
    const entry = await lstat(leftover).catch(() => undefined);
    if (entry && (entry.isFile() || entry.isSymbolicLink())) await rm(leftover, { force: true });
  }
  return staged.map((file) => file.shown);
}

/** The files of one `--out` report: they replace the set in `outDir`, files of the earlier set not written now included. */
const writeReportSet = (outDir: string, files: Record<string, string>): Promise<string[]> => writeReportFiles(outDir, files, { replaces: Object.values(REPORT_FILES) });

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function zeroShotFiles(report: RsicdReport | ZeroShotReport | LabelsReport, markdown: string, html: string, predictions?: readonly ImagePrediction[]): Record<string, string> {
  return {
    [REPORT_FILES.json]: json(report),
    [REPORT_FILES.markdown]: markdown,
    [REPORT_FILES.html]: html,
    ...(predictions ? { [REPORT_FILES.predictions]: formatPredictions(predictions) } : {}),
  };
}

/** report.json, report.md, report.html and predictions.tsv of `eval rsicd`. */
export async function writeRsicdReport(outDir: string, evaluation: RsicdEvaluation): Promise<string[]> {
  const { report } = evaluation;
  const thumbnails = await thumbnailsOf(report.data.imagesDir, exampleFiles(report.zeroShot));
  return writeReportSet(outDir, zeroShotFiles(report, formatRsicdMarkdown(report), rsicdHtml(report, thumbnails), evaluation.predictions));
}

export async function writeRetrievalReport(outDir: string, evaluation: RetrievalEvaluation): Promise<string[]> {
  const { report } = evaluation;
  return writeReportSet(outDir, { [REPORT_FILES.json]: json(report), [REPORT_FILES.markdown]: formatRetrievalMarkdown(report), [REPORT_FILES.html]: retrievalHtml(report) });
}

export async function writeZeroShotReport(outDir: string, evaluation: ZeroShotEvaluation): Promise<string[]> {
  const { report } = evaluation;
  const thumbnails = await thumbnailsOf(report.data.imagesDir, exampleFiles(report.zeroShot));
  return writeReportSet(outDir, zeroShotFiles(report, formatZeroShotMarkdown(report), zeroShotHtml(report, thumbnails), evaluation.predictions));
}

export async function writeLabelsReport(outDir: string, report: LabelsReport): Promise<string[]> {
  return writeReportSet(outDir, zeroShotFiles(report, formatZeroShotMarkdown(report), labelsHtml(report)));
}

export async function writeAnnReport(outDir: string, report: AnnReport): Promise<string[]> {
  return writeReportSet(outDir, { [REPORT_FILES.json]: json(report), [REPORT_FILES.markdown]: formatAnnMarkdown(report), [REPORT_FILES.html]: annHtml(report) });
}

/** `eval compare --html FILE`; a name of one of the process's descriptors (/dev/stdout) is written through it. */
export async function writeComparisonHtml(file: string, comparison: Comparison): Promise<string> {
  const descriptor = await descriptorNamed(file);
  if (descriptor !== undefined) {
    await writeToDescriptor(descriptor, compareHtml(comparison));
    return file;
  }
  const [written] = await writeReportFiles(path.dirname(path.resolve(file)), { [path.basename(file)]: compareHtml(comparison) });
  return written!;
}
