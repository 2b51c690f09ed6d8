/**
 * Models side by side (`rsclip eval compare A/report.json B/report.json ...`): every metric
 * the reports share, each with its bootstrap interval, and for each report after the first
 * the difference to the first with a paired bootstrap interval (the same resampled images
 * on both sides), marked significant when that interval excludes zero. The reports must
 * have evaluated the same queries (same images and captions, or same images, labels and
 * classes); prompts, variants and models may differ: that is what is compared.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { version } from '../version.js';
import {
  bootstrapIntervals,
  bootstrapSettings,
  metricValues,
  pairedBootstrap,
  type BootstrapOptions,
  type BootstrapSettings,
  type Interval,
  type MetricSet,
  type PairedDifference,
} from './bootstrap.js';
import { readText } from './dataset.js';
import type { LabelsReport } from './labels.js';
import { clustersOf, retrievalMetricSet, zeroShotMetricSet, type RetrievalSection, type ZeroShotSection } from './outcomes.js';
import type { RetrievalReport } from './retrieval.js';
import type { RsicdReport } from './rsicd.js';
import type { ZeroShotReport } from './zero-shot-images.js';

export type ComparableReport = RsicdReport | RetrievalReport | ZeroShotReport | LabelsReport;
export type SectionName = 'zeroShot' | 'retrieval';

export interface ComparedReport {
  /** A, B, C, ... */
  label: string;
  file: string;
  kind: ComparableReport['kind'];
  model: { id: string; fingerprint: string; variant: string | null };
  prompts: string[] | null;
  date: string;
}

export interface ComparedMetric {
  key: string;
  /** One per report: the value and its bootstrap interval. */
  values: { value: number; interval: Interval }[];
  /** One per report: null for the first, else the paired difference to the first. */
  deltas: (PairedDifference | null)[];
}

export interface ComparedSection {
  name: SectionName;
  /** Units paired: images, or tiles of scenes (`eval labels` over an index of scenes). */
  images: number;
  /** What a unit is, and what a resample draws: `image`, or the `file` each tile was cut from (its tiles together). */
  unit: 'image' | 'tile';
  /** Files the tiles were cut from; null for images. */
  files: number | null;
  metrics: ComparedMetric[];
}

export interface Comparison {
  kind: 'compare';
  rsclipVersion: string;
  date: string;
  confidence: BootstrapSettings;
  reports: ComparedReport[];
  sections: ComparedSection[];
}

const KINDS = new Set(['rsicd', 'retrieval', 'zero-shot', 'labels']);
const REPORT_LABELS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Reads a report.json written by `rsclip eval rsicd|retrieval|zero-shot|labels --out`: `given`, or the one in the folder `given` (that --out). */
export async function readReport(given: string): Promise<ComparableReport> {
  const file = (await stat(given).catch(() => undefined))?.isDirectory() ? path.join(given, 'report.json') : given;
  const text = await readText(file, 'report');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new RsclipError('DATASET_INVALID', `${file} is not JSON: ${(cause as Error).message}`, { cause });
  }
  const kind = (parsed as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new RsclipError('DATASET_INVALID', `${file} is not an rsclip evaluation report (kind ${JSON.stringify(kind)})`, {
      hint: 'pass the report.json that `rsclip eval rsicd|retrieval|zero-shot|labels --out DIR` writes',
    });
  }
  const report = parsed as ComparableReport;
  if (Object.values(sectionsOf(report)).some((section) => !section?.outcomes)) {
    throw new RsclipError('DATASET_INVALID', `${file} has no per-image outcomes (written by an older rsclip)`, { hint: 'run the evaluation again to compare it' });
  }
  return report;
}

export function sectionsOf(report: ComparableReport): { zeroShot?: ZeroShotSection; retrieval?: RetrievalSection } {
  switch (report.kind) {
    case 'rsicd':
      return { zeroShot: report.zeroShot, retrieval: report.retrieval };
    case 'retrieval':
      return { retrieval: report.retrieval };
    case 'zero-shot':
    case 'labels':
      return { zeroShot: report.zeroShot };
  }
}

/** The metric set of a section, at the k values the report used. */
function metricSetOf(name: SectionName, section: ZeroShotSection | RetrievalSection): MetricSet {
  if (name === 'retrieval') {
    const retrieval = section as RetrievalSection;
    return retrievalMetricSet(retrieval.outcomes, Object.keys(retrieval.textToImage).map(Number));
  }
  const zeroShot = section as ZeroShotSection;
  return zeroShotMetricSet(zeroShot.outcomes, zeroShot.classes, Object.keys(zeroShot.scores).map(Number), { perClass: false });
}

/** The published value of a metric as stored in the section (to check that the outcomes reproduce it). */
function storedValue(name: SectionName, section: ZeroShotSection | RetrievalSection, key: string): number {
  if (name === 'zeroShot') return (section as ZeroShotSection).scores[Number(key.slice('score@'.length))]!;
  const retrieval = section as RetrievalSection;
  if (key === 'meanRecall') return retrieval.meanRecall;
  const [direction, k] = key.split('@') as ['textToImage' | 'imageToText', string];
  return retrieval[direction][Number(k)]!;
}

/** Refuses outcomes that name a unit twice: pairing by name would take one unit's outcome for another's. */
function assertUniqueNames(fileNames: readonly string[], file: string): void {
  const seen = new Set<string>();
  for (const name of fileNames) {
    if (seen.has(name)) {
      throw new RsclipError('DATASET_INVALID', `${file} names the outcome of ${JSON.stringify(name)} more than once, so its outcomes cannot be paired with another report's`, {
        hint: 'run the evaluation again with this rsclip: outcomes are named uniquely (an index item by its root, path and window)',
      });
    }
    seen.add(name);
  }
}

/** Reorders a set's units (and clusters) to follow `order` (unit names of the first report). */
function alignedSet(set: MetricSet, fileNames: readonly string[], order: readonly string[], clusters: Int32Array | undefined): MetricSet {
  const position = new Map(fileNames.map((f, i) => [f, i]));
  const index = order.map((f) => position.get(f)!);
  const pick = (values: Float64Array) => Float64Array.from(index, (i) => values[i]!);
  return {
    units: set.units,
    ratios: set.ratios.map((r) => ({ key: r.key, numerators: pick(r.numerators), denominators: pick(r.denominators) })),
    means: set.means,
    ...(clusters ? { clusters } : {}),
  };
}

/** The files of the first report's tiles, as clusters in its unit order; undefined for images. */
function clustersOfFirst(section: ZeroShotSection | RetrievalSection): Int32Array | undefined {
  const files = 'files' in section.outcomes ? section.outcomes.files : undefined;
  return files ? clustersOf(files) : undefined;
}

function compareSection(name: SectionName, files: readonly string[], sections: (ZeroShotSection | RetrievalSection)[], settings: BootstrapSettings): ComparedSection {
  const first = sections[0]!;
  const order = first.outcomes.fileNames;
  sections.forEach((section, i) => assertUniqueNames(section.outcomes.fileNames, files[i]!));
  const clusters = clustersOfFirst(first);
  const sets = sections.map((section, i) => {
    if (section.queriesSha256 !== first.queriesSha256) {
      const sameImages = new Set(section.outcomes.fileNames);
      const shared = order.filter((f) => sameImages.has(f)).length;
      throw new RsclipError('DATASET_INVALID', `${files[0]} and ${files[i]} evaluated different ${name === 'retrieval' ? 'images or captions' : 'images, labels or classes'} (${shared} of ${order.length} images shared)`, {
        hint: 'a paired comparison needs the same data on both sides: rerun with the same --images and --captions/--labels',
      });
    }
    const set = metricSetOf(name, section);
    const values = metricValues(set);
    for (const key of Object.keys(values)) {
      if (!(Math.abs(values[key]! - storedValue(name, section, key)) <= 1e-9)) {
        throw new RsclipError('DATASET_INVALID', `${files[i]}: the per-image outcomes give ${key} ${values[key]} but the report says ${storedValue(name, section, key)}`, {
          hint: 'the report was edited; run the evaluation again',
        });
      }
    }
    return alignedSet(set, section.outcomes.fileNames, order, clusters);
  });
  const values = sets.map((set) => ({ point: metricValues(set), intervals: bootstrapIntervals(set, settings) }));
  const deltas = sets.map((set, i) => (i === 0 ? null : pairedBootstrap(sets[0]!, set, settings)));
  const keys = Object.keys(values[0]!.point);
  return {
    name,
    images: order.length,
    unit: clusters ? 'tile' : 'image',
    files: clusters ? new Set(clusters).size : null,
    metrics: keys.map((key) => ({
      key,
      values: values.map((v) => ({ value: v.point[key]!, interval: v.intervals[key]! })),
      deltas: deltas.map((d) => (d ? d[key]! : null)),
    })),
  };
}

/** The units a compared section pairs: `20 images` or `54 tiles of 3 files`. */
export function comparedUnits(section: ComparedSection): string {
  return section.unit === 'tile' ? `${section.images} tiles of ${section.files} files` : `${section.images} images`;
}

function promptsOf(report: ComparableReport): string[] | null {
  return 'prompts' in report ? report.prompts : null;
}

/** Compares reports (the first is the baseline); `files` name them in messages and in the output. */
export function compareReports(reports: readonly ComparableReport[], files: readonly string[], options: BootstrapOptions = {}): Comparison {
  if (reports.length < 2) throw new RsclipError('BAD_INPUT', `expected at least two reports to compare, got ${reports.length}`);
  if (reports.length > REPORT_LABELS.length) throw new RsclipError('BAD_INPUT', `expected at most ${REPORT_LABELS.length} reports, got ${reports.length}`);
  const settings = bootstrapSettings(options);
  const all = reports.map(sectionsOf);
  const sections: ComparedSection[] = [];
  for (const name of ['zeroShot', 'retrieval'] as const) {
    if (all.every((s) => s[name])) sections.push(compareSection(name, files, all.map((s) => s[name]!), settings));
  }
  if (sections.length === 0) {
    throw new RsclipError('BAD_INPUT', `the reports share no metric (kinds: ${reports.map((r) => r.kind).join(', ')})`, {
      hint: 'compare retrieval reports with retrieval or rsicd reports, zero-shot with zero-shot, labels or rsicd',
    });
  }
  return {
    kind: 'compare',
    rsclipVersion: version,
    date: new Date().toISOString(),
    confidence: settings,
    reports: reports.map((report, i) => ({
      label: REPORT_LABELS[i]!,
      file: files[i]!,
      kind: report.kind,
      model: { id: report.model.id, fingerprint: report.model.fingerprint, variant: 'variant' in report.model ? String(report.model.variant) : null },
      prompts: promptsOf(report),
      date: report.date,
    })),
    sections,
  };
}
