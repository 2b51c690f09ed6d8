/**
 * Per-image zero-shot predictions in the clip-rsicd result-file format
 * (arampacha/CLIP-rsicd, nbs/results/*.tsv, written by run_clip_eval.py):
 * `filename<TAB>label` then ten `class<TAB>probability` pairs, best first, no header,
 * probabilities with 5 decimals. Reading tolerates blank lines, trailing tabs and CRLF, and a
 * first line that names the columns (its first cell `filename`, `file`, `image`, ...; any other
 * line that is not a prediction is an error). Only line endings are cut: a space belongs to
 * the name it is in (class folders `park` and `park ` are two classes), unlike the published
 * script's `line.strip().split('\t')`.
 * A tab, line break or backslash in a file or class name (a folder may be named so) is
 * written as `\t`, `\n`, `\r` or `\\`, as PostgreSQL's COPY and linear TSV do, and read back;
 * the columns stay put, and a reader that does not unescape still compares labels with
 * classes correctly, both being escaped alike.
 */
import { readFile } from 'node:fs/promises';
import { RsclipError } from '../errors.js';
import type { ScoresAtK } from './metrics.js';

export const PREDICTION_KS = [1, 3, 5, 10] as const;
export const PREDICTIONS_PER_IMAGE = 10;

export interface ImagePrediction {
  fileName: string;
  label: string;
  /** Classes with their probability, best first. */
  predictions: { className: string; probability: number }[];
}

export interface PredictionScores {
  file: string;
  /** Images scored. */
  images: number;
  /** score@k for k = 1, 3, 5, 10 (a line with fewer than k predictions uses those it has). */
  scores: ScoresAtK;
  /** Fewest predictions on one line (10 in a complete file). */
  minPredictionsPerLine: number;
  /** The first line named the columns and was skipped. */
  skippedHeader: boolean;
}

/** First cells of a header line: the names a file column goes by. */
const FILE_COLUMN_NAMES = new Set(['filename', 'file_name', 'file', 'name', 'image', 'image_name', 'path']);

const CELL_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const CELL_UNESCAPES: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r' };

/** A name as one TSV cell: tab, LF, CR and backslash written as `\t`, `\n`, `\r`, `\\`. */
function escapeTsvCell(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => CELL_ESCAPES[c]!);
}

/** The inverse of `escapeTsvCell`; a backslash before any other character is kept as it is (a Windows path, say). */
function unescapeTsvCell(cell: string): string {
  return cell.replace(/\\([\\tnr])/g, (_, c: string) => CELL_UNESCAPES[c]!);
}

export function formatPredictionLine(prediction: ImagePrediction): string {
  const pairs = prediction.predictions.map((p) => `${escapeTsvCell(p.className)}\t${p.probability.toFixed(5)}`);
  return [escapeTsvCell(prediction.fileName), escapeTsvCell(prediction.label), ...pairs].join('\t');
}

export function formatPredictions(predictions: readonly ImagePrediction[]): string {
  return predictions.map((p) => `${formatPredictionLine(p)}\n`).join('');
}

/** Parses a predictions file's text; `source` names it in errors. */
export function parsePredictions(text: string, source: string): { predictions: ImagePrediction[]; skippedHeader: boolean } {
  const predictions: ImagePrediction[] = [];
  let skippedHeader = false;
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const cols = line.split('\t');
    while (cols.length > 0 && cols[cols.length - 1] === '') cols.pop();
    const pairCols = cols.slice(2);
    const isNumber = (c: string): boolean => c.trim() !== '' && Number.isFinite(Number(c));
    const probabilitiesNumeric = pairCols.length >= 2 && pairCols.every((c, i) => i % 2 === 0 || isNumber(c));
    const wellFormed = cols.length >= 4 && pairCols.length % 2 === 0 && probabilitiesNumeric;
    if (predictions.length === 0 && !skippedHeader && !wellFormed && FILE_COLUMN_NAMES.has(cols[0]!.trim().toLowerCase())) {
      skippedHeader = true;
      continue;
    }
    if (!wellFormed) {
      throw new RsclipError(
        'DATASET_INVALID',
        `${source}:${index + 1}: expected filename<TAB>label then class<TAB>probability pairs, got ${cols.length} column(s): ${JSON.stringify(line.slice(0, 120))}`,
        { hint: 'the file must be tab-separated, in the clip-rsicd result-file format' },
      );
    }
    const predicted: ImagePrediction['predictions'] = [];
    for (let i = 0; i < pairCols.length; i += 2) predicted.push({ className: unescapeTsvCell(pairCols[i]!), probability: Number(pairCols[i + 1]) });
    predictions.push({ fileName: unescapeTsvCell(cols[0]!), label: unescapeTsvCell(cols[1]!), predictions: predicted });
  }
  if (predictions.length === 0) {
    throw new RsclipError('DATASET_INVALID', `${source} holds no predictions: expected one line per image`);
  }
  return { predictions, skippedHeader };
}

/** score@k of parsed predictions: the share of images whose label is among the first k predicted classes. */
export function scoreParsedPredictions(predictions: readonly ImagePrediction[], ks: readonly number[] = PREDICTION_KS): ScoresAtK {
  if (predictions.length === 0) throw new RsclipError('DATASET_INVALID', 'no predictions to score: expected at least one image');
  const scores: ScoresAtK = {};
  for (const k of ks) {
    const hits = predictions.filter((p) => p.predictions.slice(0, k).some((c) => c.className === p.label)).length;
    scores[k] = hits / predictions.length;
  }
  return scores;
}

/** Reads and scores a predictions TSV (`rsclip eval score`). */
export async function scorePredictions(file: string): Promise<PredictionScores> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RsclipError('NOT_FOUND', `cannot read predictions file ${file}: ${(cause as Error).message}`, { cause });
  }
  const { predictions, skippedHeader } = parsePredictions(text, file);
  return {
    file,
    images: predictions.length,
    scores: scoreParsedPredictions(predictions),
    minPredictionsPerLine: Math.min(...predictions.map((p) => p.predictions.length)),
    skippedHeader,
  };
}
