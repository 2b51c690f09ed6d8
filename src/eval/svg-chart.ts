/**
 * The charts of the evaluation reports as inline SVG strings, rendered on the server with no
 * browser and no dependency: grouped bars with interval whiskers, sorted horizontal bars, a
 * heat map, a line chart (linear or log x) and a forest plot of differences. Each chart is
 * an `<svg data-chart="ID" role="img">` with a `<title>`; marks carry `<title>` tooltips.
 */
import type { Interval } from './bootstrap.js';

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12"';
export const SERIES_COLOURS = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#64748b'];
const AXIS = '#94a3b8';
const GRID = '#e2e8f0';
const TEXT = '#1e293b';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const n2 = (x: number): string => (Math.round(x * 100) / 100).toString();
/** Three decimals; '–' for a missing value; never "-0.000". */
export const fmt3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3).replace(/^-(0\.0+)$/, '$1') : '–');

function svgOpen(id: string, title: string, width: number, height: number): string {
  return `<svg data-chart="${escapeXml(id)}" role="img" aria-label="${escapeXml(title)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}><title>${escapeXml(title)}</title>`;
}

function text(x: number, y: number, content: string, attrs = ''): string {
  const fill = attrs.includes('fill=') ? '' : `fill="${TEXT}" `;
  return `<text x="${n2(x)}" y="${n2(y)}" ${fill}${attrs}>${escapeXml(content)}</text>`;
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string, attrs = ''): string {
  return `<line x1="${n2(x1)}" y1="${n2(y1)}" x2="${n2(x2)}" y2="${n2(y2)}" stroke="${stroke}" ${attrs}/>`;
}

/** Round tick values covering [min, max]. */
function linearTicks(min: number, max: number, count = 5): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

/** 1-2-5 ticks of a log axis covering [min, max]. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= min && t <= max) ticks.push(t);
    }
  }
  return ticks;
}

function legend(names: readonly string[], x: number, y: number): string {
  let offset = x;
  return names
    .map((name, i) => {
      const item = `<rect x="${n2(offset)}" y="${n2(y - 9)}" width="10" height="10" fill="${SERIES_COLOURS[i % SERIES_COLOURS.length]}"/>${text(offset + 14, y, name)}`;
      offset += 24 + name.length * 6.5;
      return item;
    })
    .join('');
}

function whisker(x: number, yLow: number, yHigh: number, vertical: boolean): string {
  const cap = 4;
  return vertical
    ? line(x, yLow, x, yHigh, TEXT) + line(x - cap, yLow, x + cap, yLow, TEXT) + line(x - cap, yHigh, x + cap, yHigh, TEXT)
    : line(yLow, x, yHigh, x, TEXT) + line(yLow, x - cap, yLow, x + cap, TEXT) + line(yHigh, x - cap, yHigh, x + cap, TEXT);
}

export interface BarValue {
  value: number;
  interval?: Interval | undefined;
}

export interface BarGroup {
  label: string;
  /** One per series; null where a series has no value for this group. */
  values: (BarValue | null)[];
}

/** Vertical bars, one group per label and one bar per series, with interval whiskers and the value above each bar. */
export function groupedBarChart(options: { id: string; title: string; series: readonly string[]; groups: readonly BarGroup[]; yMax?: number }): string {
  const { series, groups } = options;
  const yMax = options.yMax ?? 1;
  const width = Math.max(360, 90 + groups.length * (series.length * 34 + 28));
  const height = 300;
  const left = 44;
  const top = 36;
  const bottom = 36;
  const plotHeight = height - top - bottom;
  const y = (v: number) => top + plotHeight * (1 - Math.min(Math.max(v, 0), yMax) / yMax);
  const groupWidth = (width - left - 12) / groups.length;
  const barWidth = Math.min(30, (groupWidth - 20) / series.length);
  const parts = [svgOpen(options.id, options.title, width, height), legend(series, left, 16)];
  for (const t of linearTicks(0, yMax)) parts.push(line(left, y(t), width - 12, y(t), GRID), text(left - 6, y(t) + 4, t.toFixed(1), 'text-anchor="end"'));
  groups.forEach((group, g) => {
    const x0 = left + g * groupWidth + (groupWidth - barWidth * series.length) / 2;
    group.values.forEach((bar, s) => {
      if (!bar) return;
      const x = x0 + s * barWidth;
      const colour = SERIES_COLOURS[s % SERIES_COLOURS.length];
      const tip = `${series[s]} ${group.label}: ${fmt3(bar.value)}${bar.interval ? ` [${fmt3(bar.interval.low)}, ${fmt3(bar.interval.high)}]` : ''}`;
      parts.push(`<rect data-value="${bar.value}" x="${n2(x + 1)}" y="${n2(y(bar.value))}" width="${n2(barWidth - 2)}" height="${n2(y(0) - y(bar.value))}" fill="${colour}"><title>${escapeXml(tip)}</title></rect>`);
      const labelY = bar.interval && Number.isFinite(bar.interval.high) ? y(bar.interval.high) : y(bar.value);
      if (bar.interval && Number.isFinite(bar.interval.low)) parts.push(whisker(x + barWidth / 2, y(bar.interval.low), y(bar.interval.high), true));
      parts.push(text(x + barWidth / 2, labelY - 5, fmt3(bar.value), 'text-anchor="middle" font-size="10"'));
    });
    parts.push(text(left + g * groupWidth + groupWidth / 2, height - bottom + 18, group.label, 'text-anchor="middle"'));
  });
  parts.push(line(left, y(0), width - 12, y(0), AXIS), '</svg>');
  return parts.join('');
}

export interface HorizontalBar {
  label: string;
  value: number;
  interval?: Interval | undefined;
  /** Shown after the value, e.g. the number of images. */
  note?: string;
}

/** One horizontal bar per row (in the given order), 0..xMax, with whiskers and the value at the end. */
export function horizontalBarChart(options: { id: string; title: string; rows: readonly HorizontalBar[]; xMax?: number }): string {
  const xMax = options.xMax ?? 1;
  const labelWidth = Math.min(220, 20 + Math.max(...options.rows.map((r) => r.label.length)) * 7);
  const width = 760;
  const rowHeight = 20;
  const top = 24;
  const plotWidth = width - labelWidth - 150;
  const height = top + options.rows.length * rowHeight + 12;
  const x = (v: number) => labelWidth + (plotWidth * Math.min(Math.max(v, 0), xMax)) / xMax;
  const parts = [svgOpen(options.id, options.title, width, height)];
  for (const t of linearTicks(0, xMax)) parts.push(line(x(t), top - 4, x(t), height - 8, GRID), text(x(t), top - 8, t.toFixed(1), 'text-anchor="middle" font-size="10"'));
  options.rows.forEach((row, i) => {
    const yMid = top + i * rowHeight + rowHeight / 2;
    const tip = `${row.label}: ${fmt3(row.value)}${row.interval ? ` [${fmt3(row.interval.low)}, ${fmt3(row.interval.high)}]` : ''}${row.note ? `, ${row.note}` : ''}`;
    parts.push(text(labelWidth - 8, yMid + 4, row.label, 'text-anchor="end"'));
    parts.push(`<rect data-value="${row.value}" x="${n2(x(0))}" y="${n2(yMid - 6)}" width="${n2(x(row.value) - x(0))}" height="12" fill="${SERIES_COLOURS[0]}"><title>${escapeXml(tip)}</title></rect>`);
    if (row.interval && Number.isFinite(row.interval.low)) parts.push(whisker(yMid, x(row.interval.low), x(row.interval.high), false));
    parts.push(text(x(xMax) + 8, yMid + 4, `${fmt3(row.value)}${row.note ? `  ${row.note}` : ''}`, 'font-size="11"'));
  });
  parts.push(line(x(0), top - 4, x(0), height - 8, AXIS), '</svg>');
  return parts.join('');
}

/** Blue with the given strength in [0, 1] (0 = white). */
function heat(strength: number): string {
  const s = Math.min(Math.max(strength, 0), 1);
  const mix = (from: number, to: number) => Math.round(from + (to - from) * s);
  return `rgb(${mix(255, 30)},${mix(255, 64)},${mix(255, 175)})`;
}

/** A square matrix as a heat map; each row is coloured by its share of the row total (rows = true class, columns = prediction). */
export function heatMap(options: { id: string; title: string; labels: readonly string[]; matrix: readonly (readonly number[])[]; rowTitle: string; columnTitle: string }): string {
  const count = options.labels.length;
  const cell = Math.max(8, Math.min(22, Math.floor(640 / Math.max(count, 1))));
  const labelSpace = Math.min(200, 16 + Math.max(...options.labels.map((l) => l.length)) * 6.5);
  const left = labelSpace + 18;
  const top = labelSpace * 0.75 + 24;
  const width = Math.max(left + count * cell + 20, left + 160);
  const height = top + count * cell + 20;
  const parts = [svgOpen(options.id, options.title, width, height)];
  parts.push(text(left, 14, `${options.columnTitle} →`, 'font-weight="600"'));
  parts.push(text(12, top + (count * cell) / 2, `${options.rowTitle} →`, `text-anchor="middle" font-weight="600" transform="rotate(-90 12 ${n2(top + (count * cell) / 2)})"`));
  options.labels.forEach((label, i) => {
    const cx = left + i * cell + cell / 2 + 4;
    parts.push(text(cx, top - 6, label, `font-size="11" transform="rotate(-50 ${n2(cx)} ${n2(top - 6)})"`));
    parts.push(text(left - 6, top + i * cell + cell / 2 + 4, label, 'text-anchor="end" font-size="11"'));
  });
  options.matrix.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((value, c) => {
      const share = total > 0 ? value / total : 0;
      const x = left + c * cell;
      const y = top + r * cell;
      const tip = `${options.labels[r]} → ${options.labels[c]}: ${value} of ${total}`;
      parts.push(`<rect data-count="${value}" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${heat(share)}" stroke="${r === c ? TEXT : GRID}" stroke-width="${r === c ? 1 : 0.5}"><title>${escapeXml(tip)}</title></rect>`);
      if (value > 0 && cell >= 16) parts.push(text(x + cell / 2, y + cell / 2 + 4, String(value), `text-anchor="middle" font-size="9" fill="${share > 0.5 ? '#fff' : TEXT}"`));
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface LinePoint {
  x: number;
  y: number;
  label: string;
}

/** Points joined in the given order, each labelled; an optional horizontal reference line and extra unjoined marks. */
export function lineChart(options: {
  id: string;
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly LinePoint[];
  marks?: readonly LinePoint[];
  yReference?: { value: number; label: string };
  logX?: boolean;
}): string {
  const width = 640;
  const height = 340;
  const left = 56;
  const right = 24;
  const top = 20;
  const bottom = 48;
  const all = [...options.points, ...(options.marks ?? [])];
  const xs = all.map((p) => p.x).filter((v) => v > 0);
  let xMin = Math.min(...xs);
  let xMax = Math.max(...xs);
  if (options.logX) [xMin, xMax] = [xMin / 1.5, xMax * 1.5];
  else [xMin, xMax] = [0, xMax * 1.1];
  const ys = [...all.map((p) => p.y), ...(options.yReference ? [options.yReference.value] : [])];
  const yMin = Math.max(0, Math.floor((Math.min(...ys) - 0.02) * 20) / 20);
  const yMax = Math.min(1, Math.ceil((Math.max(...ys) + 0.005) * 20) / 20) || 1;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const x = (v: number) => left + plotWidth * (options.logX ? Math.log(v / xMin) / Math.log(xMax / xMin) : (v - xMin) / (xMax - xMin));
  const y = (v: number) => top + plotHeight * (1 - (v - yMin) / (yMax - yMin || 1));
  const parts = [svgOpen(options.id, options.title, width, height)];
  for (const t of options.logX ? logTicks(xMin, xMax) : linearTicks(xMin, xMax)) {
    parts.push(line(x(t), top, x(t), top + plotHeight, GRID), text(x(t), top + plotHeight + 16, t >= 1000 ? `${t / 1000}k` : String(t), 'text-anchor="middle" font-size="10"'));
  }
  for (const t of linearTicks(yMin, yMax)) parts.push(line(left, y(t), left + plotWidth, y(t), GRID), text(left - 6, y(t) + 4, t.toFixed(2), 'text-anchor="end" font-size="10"'));
  parts.push(text(left + plotWidth / 2, height - 8, options.xTitle, 'text-anchor="middle"'));
  parts.push(text(14, top + plotHeight / 2, options.yTitle, `text-anchor="middle" transform="rotate(-90 14 ${n2(top + plotHeight / 2)})"`));
  if (options.yReference) {
    const ry = y(options.yReference.value);
    parts.push(line(left, ry, left + plotWidth, ry, SERIES_COLOURS[3]!, 'stroke-dasharray="5 4"'), text(left + plotWidth - 4, ry - 5, options.yReference.label, 'text-anchor="end" font-size="10"'));
  }
  const path = options.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n2(x(p.x))},${n2(y(p.y))}`).join(' ');
  if (options.points.length > 1) parts.push(`<path d="${path}" fill="none" stroke="${SERIES_COLOURS[0]}" stroke-width="2"/>`);
  const mark = (p: LinePoint, colour: string) =>
    `<circle data-label="${escapeXml(p.label)}" cx="${n2(x(p.x))}" cy="${n2(y(p.y))}" r="4" fill="${colour}"><title>${escapeXml(`${p.label}: ${fmt3(p.y)} at ${Math.round(p.x)}`)}</title></circle>${text(x(p.x) + 6, y(p.y) - 6, p.label, 'font-size="10"')}`;
  for (const p of options.points) parts.push(mark(p, SERIES_COLOURS[0]!));
  for (const p of options.marks ?? []) parts.push(mark(p, SERIES_COLOURS[1]!));
  parts.push(line(left, top + plotHeight, left + plotWidth, top + plotHeight, AXIS), line(left, top, left, top + plotHeight, AXIS), '</svg>');
  return parts.join('');
}

export interface ForestRow {
  label: string;
  value: number;
  interval: Interval;
  significant: boolean;
}

/** Differences with their intervals around a zero line; significant rows are drawn strong. */
export function forestPlot(options: { id: string; title: string; rows: readonly ForestRow[] }): string {
  const width = 640;
  const labelWidth = 190;
  const rowHeight = 22;
  const top = 26;
  const height = top + options.rows.length * rowHeight + 14;
  const extent = Math.max(0.01, ...options.rows.flatMap((r) => [Math.abs(r.interval.low), Math.abs(r.interval.high), Math.abs(r.value)]).filter(Number.isFinite)) * 1.15;
  const plotWidth = width - labelWidth - 90;
  const x = (v: number) => labelWidth + (plotWidth * (v + extent)) / (2 * extent);
  const parts = [svgOpen(options.id, options.title, width, height)];
  const ticks = linearTicks(-extent, extent, 4);
  const decimals = Math.max(0, -Math.floor(Math.log10(ticks[1]! - ticks[0]!)));
  for (const t of ticks) parts.push(line(x(t), top - 4, x(t), height - 8, GRID), text(x(t), top - 8, t.toFixed(decimals), 'text-anchor="middle" font-size="10"'));
  parts.push(line(x(0), top - 4, x(0), height - 8, TEXT));
  options.rows.forEach((row, i) => {
    const yMid = top + i * rowHeight + rowHeight / 2;
    const colour = row.significant ? SERIES_COLOURS[row.value > 0 ? 2 : 3]! : AXIS;
    const tip = `${row.label}: ${row.value >= 0 ? '+' : ''}${fmt3(row.value)} [${fmt3(row.interval.low)}, ${fmt3(row.interval.high)}]${row.significant ? ' significant' : ''}`;
    parts.push(text(labelWidth - 8, yMid + 4, row.label, 'text-anchor="end"'));
    parts.push(`<g data-significant="${row.significant}">${line(x(row.interval.low), yMid, x(row.interval.high), yMid, colour, 'stroke-width="2"')}<circle cx="${n2(x(row.value))}" cy="${n2(yMid)}" r="4.5" fill="${colour}"><title>${escapeXml(tip)}</title></circle></g>`);
    parts.push(text(width - 84, yMid + 4, `${row.value >= 0 ? '+' : ''}${fmt3(row.value)}${row.significant ? ' *' : ''}`, 'font-size="11"'));
  });
  parts.push('</svg>');
  return parts.join('');
}
