/**
 * report.html: one self-contained page per evaluation (inline SVG charts, thumbnails as
 * embedded JPEGs, no script, no external resource; its Content-Security-Policy forbids any),
 * and the page of `rsclip eval compare --html`.
 */
import path from 'node:path';
import { createThumbnail } from '../model/image.js';
import type { AnnReport } from './ann.js';
import type { BootstrapSettings, Interval } from './bootstrap.js';
import { comparedUnits, type Comparison } from './compare.js';
import type { LabelsReport } from './labels.js';
import { unitsPhrase, type RetrievalSection, type ZeroShotSection } from './outcomes.js';
import type { RetrievalReport } from './retrieval.js';
import type { RsicdReport } from './rsicd.js';
import { escapeXml, fmt3, forestPlot, groupedBarChart, heatMap, horizontalBarChart, lineChart, SERIES_COLOURS } from './svg-chart.js';
import type { ZeroShotReport } from './zero-shot-images.js';

/** score@1/3/5/10 on the clip-rsicd model card (RSICD test split, 1,027 images, 30 classes). */
export const MODEL_CARD_ZERO_SHOT: readonly { model: string; scores: Record<number, number> }[] = [
  { model: 'clip-rsicd-v2 (model card)', scores: { 1: 0.883, 3: 0.968, 5: 0.982, 10: 0.998 } },
  { model: 'CLIP ViT-B/32 (model card)', scores: { 1: 0.572, 3: 0.745, 5: 0.837, 10: 0.939 } },
];

const WORST_CLASSES = 5;
const EXAMPLES_PER_CLASS = 4;
const THUMBNAIL_SIDE = 96;

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1e293b;background:#f8fafc;margin:0}
main{max-width:1080px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.facts{color:#475569;font-size:13px}.facts td{padding:1px 12px 1px 0;vertical-align:top}.facts code{word-break:break-all}
table.num{border-collapse:collapse;margin:8px 0}table.num th,table.num td{padding:4px 10px;border-bottom:1px solid #e2e8f0;text-align:right}
table.num th:first-child,table.num td:first-child,table.text th,table.text td{text-align:left}.ci{color:#64748b;font-size:12px}.sig{color:#047857;font-weight:600}
figure{margin:12px 0;background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:10px;overflow-x:auto}figcaption{color:#64748b;font-size:12px;margin-top:4px}
.examples{display:flex;flex-wrap:wrap;gap:10px}.example{width:${THUMBNAIL_SIDE + 8}px;font-size:11px;color:#475569;overflow-wrap:anywhere}.example img{display:block;width:${THUMBNAIL_SIDE}px;height:auto;border-radius:3px}
.note{color:#64748b;font-size:12px}`;

function page(title: string, body: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeXml(title)}</title><style>${STYLE}</style></head>
<body><main>
<h1>${escapeXml(title)}</h1>
${body.join('\n')}
</main></body></html>
`;
}

const cell = (value: number, interval?: Interval): string =>
  `${fmt3(value)}${interval ? ` <span class="ci">[${fmt3(interval.low)}, ${fmt3(interval.high)}]</span>` : ''}`;

function facts(rows: [string, string | null | undefined][]): string {
  const body = rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => `<tr><td>${escapeXml(k)}</td><td>${v}</td></tr>`);
  return `<table class="facts">${body.join('')}</table>`;
}

const code = (s: string): string => `<code>${escapeXml(s)}</code>`;

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${escapeXml(caption)}</figcaption></figure>`;
}

function confidenceNote(settings: Pick<BootstrapSettings, 'resamples' | 'seed' | 'level' | 'unit'>): string {
  const over = settings.unit === 'file' ? 'files (each drawn with all its tiles)' : 'images';
  return `${Math.round(settings.level * 100)} % intervals: percentile bootstrap over ${over}, ${settings.resamples} resamples, seed ${settings.seed}`;
}

function modelFacts(model: { id: string; fingerprint: string; variant?: string }): string {
  return `${escapeXml(model.id)} ${model.variant ? `(${escapeXml(model.variant)}) ` : ''}${code(model.fingerprint.slice(0, 12))}`;
}

/** Thumbnails of the files (relative to `root`) as data URIs; a file that cannot be read is left out. */
export async function thumbnailsOf(root: string, files: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const file of files) {
    try {
      const thumb = await createThumbnail(path.join(root, file), { maxSide: THUMBNAIL_SIDE, format: 'jpeg' });
      out.set(file, `data:image/jpeg;base64,${thumb.data.toString('base64')}`);
    } catch {
      // the page shows the file name instead
    }
  }
  return out;
}

/** The worst classes (lowest top-1 with at least one image) and some of their misclassified images. */
export function worstClassExamples(section: ZeroShotSection): { className: string; top1: number; images: number; examples: { file: string; predicted: string }[] }[] {
  const classIndex = new Map(section.classes.map((c, i) => [c, i]));
  return [...section.perClass]
    .flatMap((c) => (c.top1 !== null && c.top1 < 1 ? [{ ...c, top1: c.top1 }] : []))
    .sort((a, b) => a.top1 - b.top1 || a.className.localeCompare(b.className))
    .slice(0, WORST_CLASSES)
    .map((c) => {
      const index = classIndex.get(c.className)!;
      const { outcomes } = section;
      const examples = outcomes.fileNames
        .flatMap((file, u) => (outcomes.labels[u] === index && outcomes.predicted[u] !== index ? [{ file, predicted: section.classes[outcomes.predicted[u]!]! }] : []))
        .slice(0, EXAMPLES_PER_CLASS);
      return { className: c.className, top1: c.top1, images: c.images, examples };
    });
}

function zeroShotBody(section: ZeroShotSection, options: { published: boolean; thumbnails?: Map<string, string> | undefined }): string[] {
  const ks = Object.keys(section.scores).map(Number);
  const published = options.published ? MODEL_CARD_ZERO_SHOT : [];
  const chart = groupedBarChart({
    id: 'score-at-k',
    title: 'Zero-shot score@k',
    series: ['this run', ...published.map((p) => p.model)],
    groups: ks.map((k) => ({ label: `score@${k}`, values: [{ value: section.scores[k]!, interval: section.intervals[`score@${k}`] }, ...published.map((p) => ({ value: p.scores[k]! }))] })),
  });
  const head = `<tr><th></th>${ks.map((k) => `<th>score@${k}</th>`).join('')}</tr>`;
  const rows = [
    `<tr><td>this run</td>${ks.map((k) => `<td>${cell(section.scores[k]!, section.intervals[`score@${k}`])}</td>`).join('')}</tr>`,
    ...published.map((p) => `<tr><td>${escapeXml(p.model)}</td>${ks.map((k) => `<td>${fmt3(p.scores[k]!)}</td>`).join('')}</tr>`),
  ];
  // a class without images has no accuracy: no bar (a 0 % bar would read as all missed)
  const sorted = section.perClass.flatMap((c) => (c.top1 === null ? [] : [{ ...c, top1: c.top1 }])).sort((a, b) => b.top1 - a.top1 || a.className.localeCompare(b.className));
  const empty = section.perClass.filter((c) => c.top1 === null).map((c) => c.className);
  const parts = [
    `<h2>Zero-shot classification</h2><p>${unitsPhrase(section.outcomes)}, ${section.classes.length} classes.</p>`,
    figure(chart, published.length > 0 ? 'Bars: score@k of this run with its interval, beside the numbers the clip-rsicd model card publishes for the same protocol.' : 'Bars: score@k with its interval.'),
    `<table class="num" id="zero-shot-scores">${head}${rows.join('')}</table>`,
    '<h3>Per-class top-1 accuracy</h3>',
    figure(
      horizontalBarChart({ id: 'per-class', title: 'Per-class top-1 accuracy, best first', rows: sorted.map((c) => ({ label: c.className, value: c.top1, interval: c.top1Interval, note: `n=${c.images}` })) }),
      `Sorted best first; whiskers: the interval of each class (few images, wide interval).${empty.length > 0 ? ` No images, so no accuracy: ${empty.join(', ')}.` : ''}`,
    ),
    '<h3>Confusion matrix</h3>',
    figure(
      heatMap({ id: 'confusion', title: 'Confusion matrix (top-1)', labels: section.classes, matrix: section.confusion, rowTitle: 'true class', columnTitle: 'predicted class' }),
      'Rows: true class; columns: top-1 prediction; colour: share of the row.',
    ),
  ];
  const worst = worstClassExamples(section);
  if (worst.length > 0) {
    parts.push('<h3>Worst classes</h3>');
    for (const w of worst) {
      const examples = w.examples.map((e) => {
        const uri = options.thumbnails?.get(e.file);
        const image = uri ? `<img src="${uri}" alt="${escapeXml(e.file)}">` : '';
        return `<div class="example">${image}${escapeXml(path.posix.basename(e.file))}<br>→ ${escapeXml(e.predicted)}</div>`;
      });
      parts.push(`<p><b>${escapeXml(w.className)}</b>: top-1 ${fmt3(w.top1)} of ${w.images} images; misclassified examples:</p><div class="examples" data-class="${escapeXml(w.className)}">${examples.join('')}</div>`);
    }
  }
  return parts;
}

/** Files whose thumbnails the zero-shot part of a page shows. */
export function exampleFiles(section: ZeroShotSection): string[] {
  return worstClassExamples(section).flatMap((w) => w.examples.map((e) => e.file));
}

function retrievalBody(section: RetrievalSection, images: number): string[] {
  const ks = Object.keys(section.textToImage).map(Number);
  const chart = groupedBarChart({
    id: 'recall-at-k',
    title: 'Cross-modal retrieval R@k',
    series: ['text→image', 'image→text'],
    groups: [
      ...ks.map((k) => ({
        label: `R@${k}`,
        values: [
          { value: section.textToImage[k]!, interval: section.intervals[`textToImage@${k}`] },
          { value: section.imageToText[k]!, interval: section.intervals[`imageToText@${k}`] },
        ],
      })),
      { label: 'mR', values: [{ value: section.meanRecall, interval: section.intervals.meanRecall }, null] },
    ],
  });
  const row = (name: string, key: 'textToImage' | 'imageToText') =>
    `<tr><td>${name}</td>${ks.map((k) => `<td>${cell(section[key][k]!, section.intervals[`${key}@${k}`])}</td>`).join('')}</tr>`;
  return [
    `<h2>Cross-modal retrieval</h2><p>${section.textQueries} caption queries over ${images} images; ${section.imageQueries} image queries${section.imagesWithoutCaptions > 0 ? ` (${section.imagesWithoutCaptions} images without captions left out of image→text)` : ''}.</p>`,
    figure(chart, 'Bars: recall@k both ways and their mean (mR); whiskers: intervals.'),
    `<table class="num" id="retrieval-scores"><tr><th></th>${ks.map((k) => `<th>R@${k}</th>`).join('')}</tr>${row('text→image', 'textToImage')}${row('image→text', 'imageToText')}<tr><td>mR</td><td colspan="${ks.length}">${cell(section.meanRecall, section.intervals.meanRecall)}</td></tr></table>`,
  ];
}

function timing(report: { wallSeconds: number; phaseSeconds: Record<string, number> }): string {
  return `${report.wallSeconds.toFixed(1)} s (${Object.entries(report.phaseSeconds)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ')})`;
}

function captionEmbeddingFact(stats: RetrievalReport['captionEmbedding']): string {
  return `${stats.texts} captions, ${stats.distinct} distinct: ${stats.cached} from the cache, ${stats.embedded} embedded`;
}

export function rsicdHtml(report: RsicdReport, thumbnails?: Map<string, string>): string {
  return page('RSICD evaluation', [
    facts([
      ['model', modelFacts(report.model)],
      ['images', `${report.data.images} in ${code(report.data.imagesDir)}`],
      ['captions', `${report.data.captions} from ${code(report.data.captionsFile)}`],
      ['prompts', report.prompts.map(code).join(', ')],
      ['mode', report.mode === 'exact' ? 'exact (image vectors from the model)' : `index ${code(report.search.index ?? '')} (${report.search.imagesFromIndex ?? report.data.images} of ${report.data.images} image vectors from it), text→image by ${report.search.textToImage}`],
      ['caption embedding', captionEmbeddingFact(report.captionEmbedding)],
      ['time', timing(report)],
      ['run', `rsclip ${escapeXml(report.rsclipVersion)}, ${escapeXml(report.date)}${report.commandLine ? `, ${code(report.commandLine)}` : ''}`],
      ['intervals', confidenceNote(report.confidence)],
      ['warnings', report.warnings.map(escapeXml).join('<br>')],
    ]),
    ...zeroShotBody(report.zeroShot, { published: true, thumbnails }),
    ...retrievalBody(report.retrieval, report.data.images),
  ]);
}

export function retrievalHtml(report: RetrievalReport): string {
  return page('Cross-modal retrieval', [
    facts([
      ['model', modelFacts(report.model)],
      ['images', `${report.data.images} in ${code(report.data.imagesDir)}`],
      ['captions', `${report.data.captions} from ${code(report.data.captionsFile)} (${report.data.captionsFormat}${report.data.split ? `, split ${escapeXml(report.data.split)}` : ''})`],
      ['caption embedding', captionEmbeddingFact(report.captionEmbedding)],
      ['time', timing(report)],
      ['run', `rsclip ${escapeXml(report.rsclipVersion)}, ${escapeXml(report.date)}${report.commandLine ? `, ${code(report.commandLine)}` : ''}`],
      ['intervals', confidenceNote(report.confidence)],
    ]),
    ...retrievalBody(report.retrieval, report.data.images),
  ]);
}

export function zeroShotHtml(report: ZeroShotReport, thumbnails?: Map<string, string>): string {
  const { excluded } = report.data;
  return page('Zero-shot classification', [
    facts([
      ['model', modelFacts(report.model)],
      ['images', `${report.zeroShot.images} scored of ${report.data.imageFiles} in ${code(report.data.imagesDir)}${excluded.unlabelled + excluded.otherClass > 0 ? ` (left out: ${excluded.unlabelled} without a label, ${excluded.otherClass} of other classes)` : ''}`],
      ['labels', report.data.labelSource === 'folders' ? 'the folder of each image' : code(report.data.labelSource)],
      ['prompts', report.prompts.map(code).join(', ')],
      ['time', timing(report)],
      ['run', `rsclip ${escapeXml(report.rsclipVersion)}, ${escapeXml(report.date)}${report.commandLine ? `, ${code(report.commandLine)}` : ''}`],
      ['intervals', confidenceNote(report.confidence)],
      ['warnings', report.warnings.map(escapeXml).join('<br>')],
    ]),
    ...zeroShotBody(report.zeroShot, { published: false, thumbnails }),
  ]);
}

export function labelsHtml(report: LabelsReport): string {
  return page('Zero-shot classification of an index', [
    facts([
      ['model', modelFacts(report.model)],
      ['index', code(report.index)],
      ['labels', report.labelSource === 'folders' ? 'the folder of each image' : `${code(report.labelSource)}, sha256 ${code(report.labelsSha256 ?? '')}`],
      ['prompts', report.prompts.map(code).join(', ')],
      ['run', `rsclip ${escapeXml(report.rsclipVersion)}, ${escapeXml(report.date)}`],
      ['intervals', confidenceNote(report.confidence)],
      ['warnings', report.warnings.map(escapeXml).join('<br>')],
    ]),
    ...zeroShotBody(report.zeroShot, { published: false }),
  ]);
}

export function annHtml(report: AnnReport): string {
  const sweep = report.rows.filter((r) => r.search === 'hnsw');
  const exact = report.rows.find((r) => r.search === 'exact');
  const chart = lineChart({
    id: 'recall-vs-qps',
    title: `recall@${report.k} against queries per second over ef`,
    xTitle: 'queries per second (log scale)',
    yTitle: `recall@${report.k}`,
    points: sweep.map((r) => ({ x: r.queriesPerSecond, y: r.recall, label: `ef=${r.ef}` })),
    marks: exact ? [{ x: exact.queriesPerSecond, y: exact.recall, label: 'exact' }] : [],
    yReference: { value: report.target, label: `target ${report.target}` },
    logX: true,
  });
  const rows = report.rows.map((r) => `<tr><td>${r.search}</td><td>${r.ef ?? '–'}${r.requestedEfs.some((ef) => ef !== r.ef) ? ` (asked ${r.requestedEfs.join(', ')})` : ''}</td><td>${fmt3(r.recall)}</td><td>${fmt3(r.minRecall)}</td><td>${Math.round(r.queriesPerSecond)}</td></tr>`);
  return page('ANN recall', [
    facts([
      ['index', `${code(report.index)}, ${report.vectors} vectors`],
      ['queries', `${report.queries.stored} stored vectors (self held out, seed ${report.seed}), ${report.queries.texts} texts`],
      ['recommended', report.recommendedEf === null ? `no ef of the sweep reaches ${report.target}` : `ef=${report.recommendedEf} (smallest with recall ≥ ${report.target})`],
      ['run', `rsclip ${escapeXml(report.rsclipVersion)}, ${escapeXml(report.date)}`],
    ]),
    figure(chart, 'Each point is one ef of the sweep; the exhaustive scan is the orange mark. Queries per second are wall-clock figures of this machine.'),
    `<table class="num" id="ann-rows"><tr><th>search</th><th>ef</th><th>recall</th><th>min</th><th>queries/s</th></tr>${rows.join('')}</table>`,
  ]);
}

const SECTION_TITLES = { zeroShot: 'Zero-shot classification', retrieval: 'Cross-modal retrieval' } as const;

export function metricLabel(key: string): string {
  if (key === 'meanRecall') return 'mR';
  const [name, k] = key.split('@');
  return name === 'textToImage' ? `text→image R@${k}` : name === 'imageToText' ? `image→text R@${k}` : key;
}

export function compareHtml(comparison: Comparison): string {
  const { reports } = comparison;
  const list = reports.map(
    (r, i) =>
      `<tr><td><b style="color:${SERIES_COLOURS[i % SERIES_COLOURS.length]}">${r.label}</b></td><td>${modelFacts({ id: r.model.id, fingerprint: r.model.fingerprint, ...(r.model.variant ? { variant: r.model.variant } : {}) })}</td><td>${r.prompts ? r.prompts.map(code).join(', ') : ''}</td><td>${code(r.file)}</td></tr>`,
  );
  const body = [
    `<p>${reports.length} reports; differences are to ${reports[0]!.label}, with paired intervals (${confidenceNote({ ...comparison.confidence, unit: comparison.sections.some((s) => s.unit === 'tile') ? 'file' : 'image' })}, the same resamples on both sides). <span class="sig">*</span> marks a difference whose interval excludes 0.</p>`,
    `<table class="num text" id="compared-reports"><tr><th></th><th>model</th><th>prompts</th><th>report</th></tr>${list.join('')}</table>`,
  ];
  for (const section of comparison.sections) {
    const head = `<tr><th>metric</th>${reports.map((r) => `<th>${r.label}</th>`).join('')}${reports.slice(1).map((r) => `<th>${r.label} − ${reports[0]!.label}</th>`).join('')}</tr>`;
    const rows = section.metrics.map((m) => {
      const values = m.values.map((v) => `<td>${cell(v.value, v.interval)}</td>`).join('');
      const deltas = m.deltas
        .slice(1)
        .map((d) => `<td class="${d!.significant ? 'sig' : ''}">${d!.delta >= 0 ? '+' : ''}${cell(d!.delta, d!.interval)}${d!.significant ? ' *' : ''}</td>`)
        .join('');
      return `<tr><td>${escapeXml(metricLabel(m.key))}</td>${values}${deltas}</tr>`;
    });
    body.push(`<h2>${SECTION_TITLES[section.name]}</h2><p>${comparedUnits(section)} paired.</p><table class="num" data-section="${section.name}">${head}${rows.join('')}</table>`);
    reports.slice(1).forEach((r, i) => {
      const forest = forestPlot({
        id: `delta-${section.name}-${r.label}`,
        title: `${r.label} − ${reports[0]!.label}`,
        rows: section.metrics.map((m) => ({ label: metricLabel(m.key), value: m.deltas[i + 1]!.delta, interval: m.deltas[i + 1]!.interval, significant: m.deltas[i + 1]!.significant })),
      });
      body.push(figure(forest, `${r.label} − ${reports[0]!.label}: each difference with its paired interval; strong colour = significant.`));
    });
  }
  return page('Model comparison', body);
}
