/**
 * The `key=value` filter syntax shared by `rsclip search --filter` and the API's `filter`
 * query parameter (each may be repeated; all must hold):
 *
 *   path=GLOB           picomatch glob over the relative path (no "/" in GLOB: matches the file name)
 *   folder=DIR          relative folder prefix (sub-folders included)
 *   format=jpeg,png     any of these formats
 *   minBytes=N maxBytes=N minWidth=N minHeight=N
 *   after=DATE before=DATE   modification time (ISO 8601 date or date-time)
 *   NAME=VALUE          user field NAME (from a sidecar) equals VALUE
 *   NAME=A|B            ... equals any of A, B
 *   NAME=LO..HI         ... is a number in [LO, HI] (either side may be left out)
 *   field.NAME=...      user field even when NAME is one of the keys above
 */
import { RsclipError } from '../errors.js';
import type { CatalogFilter, FieldValue } from '../store/index.js';

const NUMERIC_KEYS = { minBytes: 'minBytes', maxBytes: 'maxBytes', minWidth: 'minWidth', minHeight: 'minHeight' } as const;

function bad(spec: string, expected: string): RsclipError {
  return new RsclipError('BAD_QUERY', `invalid filter "${spec}": expected ${expected}`, {
    hint: 'filters look like folder=a/b, path=*.tif, format=jpeg,png, minBytes=1000, after=2020-01-01, label=airport, year=2010..2015',
  });
}

function parseDate(spec: string, value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) throw bad(spec, 'an ISO 8601 date like 2020-01-31');
  return date;
}

function parseNumber(spec: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw bad(spec, `a number, got "${value}"`);
  return n;
}

function fieldCondition(spec: string, value: string): FieldValue | FieldValue[] | { min?: number; max?: number } {
  const range = /^(-?[\d.]*)\.\.(-?[\d.]*)$/.exec(value);
  if (range && (range[1] !== '' || range[2] !== '')) {
    const out: { min?: number; max?: number } = {};
    if (range[1] !== '') out.min = parseNumber(spec, range[1]!);
    if (range[2] !== '') out.max = parseNumber(spec, range[2]!);
    return out;
  }
  return value.includes('|') ? value.split('|') : value;
}

export function parseFilterSpecs(specs: string[]): CatalogFilter {
  const filter: CatalogFilter = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw bad(spec, 'KEY=VALUE');
    const key = spec.slice(0, eq).trim();
    const value = spec.slice(eq + 1);
    if (key === 'path') filter.pathGlob = value;
    else if (key === 'folder') filter.folder = value;
    else if (key === 'format') filter.formats = [...(filter.formats ?? []), ...value.split(',').map((f) => f.trim()).filter((f) => f !== '')];
    else if (key in NUMERIC_KEYS) filter[NUMERIC_KEYS[key as keyof typeof NUMERIC_KEYS]] = parseNumber(spec, value);
    else if (key === 'after') filter.modifiedAfter = parseDate(spec, value);
    else if (key === 'before') filter.modifiedBefore = parseDate(spec, value);
    else {
      const name = key.startsWith('field.') ? key.slice('field.'.length) : key;
      if (name === '') throw bad(spec, 'a field name before "="');
      filter.fields = { ...filter.fields, [name]: fieldCondition(spec, value) };
    }
  }
  return filter;
}
