/**
 * Human and machine forms of an RSICD evaluation: the console table, and the `--out`
 * folder with report.json, report.md and predictions.tsv (clip-rsicd result-file format).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { formatPredictions } from './predictions.js';
import type { RsicdEvaluation, RsicdReport } from './rsicd.js';

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', predictions: 'predictions.tsv' } as const;

const fmt = (x: number): string => x.toFixed(3);

function modeLine(report: RsicdReport): string {
  if (report.mode === 'exact') return 'mode: exact (image vectors from the model, exhaustive ranking)';
  const t2i = report.search.textToImage === 'hnsw' ? `HNSW search, ef=${report.search.ef}` : 'exact scan of the index';
  return `mode: index ${report.search.index} (image vectors from the index; text->image by ${t2i}; image->text exact)`;
}

/** The console table (plain text). */
export function formatRsicdTable(report: RsicdReport): string {
  const z = report.zeroShot.scores;
  const r = report.retrieval;
  return [
    `model: ${report.model.id} (${report.model.fingerprint.slice(0, 12)}, ${report.model.variant})`,
    modeLine(report),
    '',
    `zero-shot classification (${report.zeroShot.images} images, ${report.zeroShot.classes.length} classes, ${report.prompts.length} prompt(s))`,
    '  score@1  score@3  score@5  score@10',
    `  ${fmt(z[1]!)}    ${fmt(z[3]!)}    ${fmt(z[5]!)}    ${fmt(z[10]!)}`,
    '',
    `cross-modal retrieval (${r.textQueries} captions, ${report.data.images} images${r.imagesWithoutCaptions > 0 ? `, ${r.imagesWithoutCaptions} without captions left out of image->text` : ''})`,
    '               R@1    R@5    R@10',
    `  text->image  ${fmt(r.textToImage[1]!)}  ${fmt(r.textToImage[5]!)}  ${fmt(r.textToImage[10]!)}`,
    `  image->text  ${fmt(r.imageToText[1]!)}  ${fmt(r.imageToText[5]!)}  ${fmt(r.imageToText[10]!)}`,
    `  mR           ${fmt(r.meanRecall)}`,
    '',
    `${report.wallSeconds.toFixed(1)} s`,
    '',
  ].join('\n');
}

export function formatRsicdMarkdown(report: RsicdReport): string {
  const z = report.zeroShot.scores;
  const r = report.retrieval;
  const d = report.data;
  return [
    '# RSICD evaluation',
    '',
    `- rsclip ${report.rsclipVersion}, ${report.date}, ${report.wallSeconds.toFixed(1)} s wall time (image vectors ${report.phaseSeconds.images.toFixed(1)} s, zero-shot ${report.phaseSeconds.zeroShot.toFixed(1)} s, caption embedding ${report.phaseSeconds.captions.toFixed(1)} s, retrieval ranking ${report.phaseSeconds.ranking.toFixed(1)} s)`,
    `- command: \`${report.commandLine ?? '(library call)'}\``,
    `- model: ${report.model.id}, fingerprint \`${report.model.fingerprint}\`, variant ${report.model.variant}, logit scale ${report.model.logitScale} (${report.model.logitScaleSource})`,
    `- ${modeLine(report)}`,
    `- images: ${d.images} in ${d.imagesDir}, sorted-name-list sha256 \`${d.imageListSha256}\``,
    `- captions: ${d.captions} from ${d.captionsFile}, sha256 \`${d.captionsSha256}\``,
    `- labels: ${d.labelsFile}, sha256 \`${d.labelsSha256}\``,
    `- prompts: ${report.prompts.map((p) => `\`${p}\``).join(', ')}`,
    '',
    `## Zero-shot classification (${report.zeroShot.images} images, ${report.zeroShot.classes.length} classes)`,
    '',
    '| score@1 | score@3 | score@5 | score@10 |',
    '|---|---|---|---|',
    `| ${fmt(z[1]!)} | ${fmt(z[3]!)} | ${fmt(z[5]!)} | ${fmt(z[10]!)} |`,
    '',
    '| class | images | top-1 |',
    '|---|---|---|',
    ...report.zeroShot.perClass.map((c) => `| ${c.className} | ${c.images} | ${fmt(c.top1)} |`),
    '',
    `## Cross-modal retrieval (${r.textQueries} caption queries, ${r.imageQueries} image queries)`,
    '',
    '| direction | R@1 | R@5 | R@10 |',
    '|---|---|---|---|',
    `| text->image | ${fmt(r.textToImage[1]!)} | ${fmt(r.textToImage[5]!)} | ${fmt(r.textToImage[10]!)} |`,
    `| image->text | ${fmt(r.imageToText[1]!)} | ${fmt(r.imageToText[5]!)} | ${fmt(r.imageToText[10]!)} |`,
    '',
    `mean recall (mR): ${fmt(r.meanRecall)}${r.imagesWithoutCaptions > 0 ? `; ${r.imagesWithoutCaptions} image(s) without captions left out of image->text` : ''}`,
    '',
  ].join('\n');
}

/** Writes report.json, report.md and predictions.tsv into `outDir` (created if needed); returns their paths. */
export async function writeRsicdReport(outDir: string, evaluation: RsicdEvaluation): Promise<string[]> {
  try {
    await mkdir(outDir, { recursive: true });
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `cannot create the report folder ${outDir}: ${(cause as Error).message}`, { cause });
  }
  const files = {
    [REPORT_FILES.json]: `${JSON.stringify(evaluation.report, null, 2)}\n`,
    [REPORT_FILES.markdown]: formatRsicdMarkdown(evaluation.report),
    [REPORT_FILES.predictions]: formatPredictions(evaluation.predictions),
  };
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(outDir, name);
    await writeFile(file, text);
    written.push(file);
  }
  return written;
}
