// Hits as a file to download: GeoJSON (RFC 7946, footprints as geometry), CSV, or a list of paths.
/* global Blob */

// a text cell a spreadsheet would run as a formula gets a leading ' (as the CLI's CSV export does)
const FORMULA_START = /^[=+\-@\t\r]/;

function csvCell(value) {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function geojson(hits) {
  return JSON.stringify({
    type: 'FeatureCollection',
    features: hits.map((h) => ({
      type: 'Feature',
      id: h.id,
      geometry: h.footprint ?? null,
      properties: { rank: h.rank, score: h.score, path: h.path, window: h.window, center: h.center ?? null, gsd: h.gsd ?? null, fields: h.fields },
    })),
  });
}

const CSV_COLUMNS = ['rank', 'id', 'score', 'path', 'x', 'y', 'width', 'height', 'lon', 'lat'];
function csv(hits) {
  const rows = hits.map((h) => [h.rank, h.id, h.score, h.path, h.window.x, h.window.y, h.window.width, h.window.height, h.center?.[0], h.center?.[1]].map(csvCell).join(','));
  return `${[CSV_COLUMNS.join(','), ...rows].join('\n')}\n`;
}

// one path a line, control characters and backslashes escaped as the CLI's text output does (a
// name may hold a line break)
const NAMED_ESCAPES = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' };
function onePathALine(path) {
  // eslint-disable-next-line no-control-regex
  return path.replace(/[\u0000-\u001f\u007f-\u009f\\]/g, (c) => NAMED_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const FORMATS = {
  geojson: { type: 'application/geo+json', extension: 'geojson', write: geojson },
  csv: { type: 'text/csv', extension: 'csv', write: csv },
  paths: { type: 'text/plain', extension: 'txt', write: (hits) => `${hits.map((h) => onePathALine(h.path)).join('\n')}\n` },
};

/** The text of the file `format` (geojson, csv, paths) writes for `hits`. */
export function hitsFileText(hits, format) {
  return FORMATS[format].write(hits);
}

/** Starts the download of `hits` in `format` (geojson, csv, paths) as `<name>.<extension>`. */
export function downloadHits(hits, format, name) {
  const spec = FORMATS[format];
  const url = URL.createObjectURL(new Blob([hitsFileText(hits, format)], { type: spec.type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name}.${spec.extension}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
