/**
 * The catalog filter, defined once. Each key of FILTER_KEYS gives its JSON form (a zod schema:
 * the API's JSON body, library callers), its `key=value` form (`rsclip search --filter`, the
 * API's `filter` query parameter) and its help. The CatalogFilter type, the request schema, the
 * OpenAPI fragment, the key=value parser and the help texts all derive from this table; each
 * back end compiles the parsed value (embedded/catalog-filter.ts for SQLite), with one case per
 * key that TypeScript makes it write. A new key (a bounding box, a date range) is one entry
 * here plus one case per back-end compiler.
 *
 *   path=GLOB           picomatch glob over the relative path (no "/" in GLOB: matches the file name)
 *   folder=DIR          relative folder prefix (sub-folders included)
 *   format=jpeg,png     any of these formats
 *   minBytes=N maxBytes=N minWidth=N minHeight=N
 *   after=DATE before=DATE   modification time (ISO 8601 date or date-time; a date alone is its midnight UTC)
 *   bbox=W,S,E,N        the item's footprint intersects this lon/lat box (W > E crosses the antimeridian)
 *   near=LON,LAT[,R]    the footprint is within R (5km, 500m; default 0: contains the point) of LON,LAT
 *   within=GEOJSON      the footprint intersects this Polygon/MultiPolygon (Feature, FeatureCollection)
 *   since=DATE until=DATE   acquisition time (a STAC item's datetime or range) overlaps the period (until=DATE takes in that whole day, UTC)
 *   NAME=VALUE          user field NAME (from a sidecar) equals VALUE
 *   NAME=A|B            ... equals any of A, B
 *   NAME=LO..HI         ... is a number in [LO, HI] (either side may be left out)
 *   field.NAME=...      user field even when NAME is one of the keys above
 */
import picomatch from 'picomatch';
import { z } from 'zod';
import { RsclipError } from '../errors.js';
import { bboxPlace, DECIMAL_NUMBER, nearPlace, parseDistance, withinPlace, type Place } from '../geo/place.js';
import { expandPathBraces, MAX_GLOB_ALTERNATIVES } from './glob-match.js';

/** A spec as a message shows it: long ones (a GeoJSON area) are cut. */
function shown(spec: string): string {
  return spec.length > 120 ? `${spec.slice(0, 117)}...` : spec;
}

/** Thrown for a malformed `key=value` (the caller's query is bad, whichever interface it came through); `spec` is how the message names it (specLabel). */
function badSpec(spec: string, expected: string): RsclipError {
  return new RsclipError('BAD_QUERY', `invalid ${spec}: expected ${expected}`, {
    hint: 'filters look like folder=a/b, path=*.tif, format=jpeg,png, minBytes=1000, after=2020-01-01, bbox=12.3,41.8,12.6,42.0, near=12.49,41.89,5km, label=airport, year=2010..2015',
  });
}


function numberText(spec: string, value: string): number {
  const n = Number(value);
  if (!DECIMAL_NUMBER.test(value) || !Number.isFinite(n)) throw badSpec(spec, `a decimal number, got "${value}"`);
  return n;
}

const ISO_DATE = z.iso.date();
/** Z, +hh:mm, +hhmm or +hh at the end of a date-time. */
const ZONE_OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * key=value dates become the form the JSON schema takes: a date alone stays a date (so that
 * until=DATE can take in the whole day), a date-time becomes ISO text, read as UTC when it names no
 * zone, so that what a filter finds does not depend on the machine's time zone.
 */
function dateText(spec: string, value: string): string {
  const expected = 'an ISO 8601 date like 2020-01-31, or a date-time like 2020-01-31T10:00:00Z (UTC when no zone is given)';
  if (!ISO_DATE.safeParse(value.slice(0, 10)).success) throw badSpec(spec, expected);
  if (value.length === 10) return value;
  const date = new Date(ZONE_OFFSET.test(value) ? value : `${value}Z`);
  if (Number.isNaN(date.getTime())) throw badSpec(spec, expected);
  return date.toISOString();
}

interface FilterKey<S extends z.ZodType> {
  /** The JSON form of the value (with its bounds); its description goes into the OpenAPI document. */
  schema: S;
  /** The name in `name=value`. */
  name: string;
  /** `name=value` syntax as the help shows it. */
  syntax: string;
  /** Text after `=` -> the JSON form; `spec` names the spec in messages; `previous` is what an earlier repetition of the key gave. */
  fromText(value: string, spec: string, previous: z.input<S> | undefined): z.input<S>;
}

function filterKey<S extends z.ZodType>(key: FilterKey<S>): FilterKey<S> {
  return key;
}

function numericKey(name: string, description: string): FilterKey<z.ZodNumber> {
  return filterKey({ schema: z.number().finite().nonnegative().describe(description), name, syntax: `${name}=N`, fromText: (value, spec) => numberText(spec, value) });
}

function numberList(spec: string, value: string, counts: number[]): number[] {
  const parts = value.split(',');
  if (!counts.includes(parts.length)) throw badSpec(spec, `${counts.join(' or ')} numbers separated by commas`);
  return parts.map((p) => numberText(spec, p));
}

/** Most positions a `within` area may have (a country outline at a few hundred metres). */
export const MAX_AREA_POSITIONS = 20_000;

/** Positions (arrays of numbers) anywhere in a GeoJSON value. */
function countPositions(value: unknown): number {
  if (Array.isArray(value)) return value.length > 0 && typeof value[0] === 'number' ? 1 : value.reduce((n: number, v) => n + countPositions(v), 0);
  if (typeof value === 'object' && value !== null) return Object.values(value).reduce((n: number, v) => n + countPositions(v), 0);
  return 0;
}

/** A place from its JSON form; its own checks (ranges, closed rings) become zod issues. */
function toPlace<T>(make: (value: T) => Place) {
  return (value: T, ctx: z.RefinementCtx): Place => {
    try {
      return make(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof RsclipError ? error.message : String(error) });
      return z.NEVER;
    }
  };
}

/** The names a GeoJSON `crs` member (GeoJSON 2008, which RFC 7946 dropped) gives lon/lat WGS84 by, as GDAL writes them. */
const LON_LAT_CRS_NAMES = new Set(['urn:ogc:def:crs:OGC:1.3:CRS84', 'urn:ogc:def:crs:OGC::CRS84', 'urn:ogc:def:crs:EPSG::4326', 'EPSG:4326']);

/** The first `crs` member of an area, its features or their geometries that names a CRS other than lon/lat WGS84 (undefined if none). */
function foreignCrs(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  const { crs, features, geometry } = value as { crs?: unknown; features?: unknown; geometry?: unknown };
  const name = (crs as { properties?: { name?: unknown } } | undefined)?.properties?.name;
  if (crs !== undefined && crs !== null && !(typeof name === 'string' && LON_LAT_CRS_NAMES.has(name))) return crs;
  const parts = [...(Array.isArray(features) ? features : []), geometry];
  for (const part of parts) {
    const found = foreignCrs(part);
    if (found !== undefined) return found;
  }
  return undefined;
}

const radius = z.union([z.number().finite().nonnegative().max(20_038_000), z.string().max(30)]);
const areaGeometry = z
  .looseObject({ type: z.enum(['Polygon', 'MultiPolygon', 'Feature', 'FeatureCollection']) })
  .superRefine((g, ctx) => {
    const crs = foreignCrs(g);
    if (crs === undefined) return;
    const name = (crs as { properties?: { name?: unknown } }).properties?.name;
    ctx.addIssue({
      code: 'custom',
      message: `the area has a crs member (${typeof name === 'string' ? name : JSON.stringify(crs).slice(0, 80)}): rsclip reads GeoJSON in lon/lat WGS84 (RFC 7946) and does not support other CRSs; reproject the area, e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`,
      abort: true,
    });
  })
  .refine((g) => countPositions(g) <= MAX_AREA_POSITIONS, { message: `the area has more than ${MAX_AREA_POSITIONS} positions: simplify it`, abort: true });

const isoDateTime = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
/** A date alone is the start of its day, UTC. */
const isoDate = ISO_DATE.transform((s) => new Date(s)).or(isoDateTime);
/** A date alone is the last millisecond of its day, UTC: until=2023-12-31 takes in all of December 31. */
const isoDateThroughDay = ISO_DATE.transform((s) => new Date(`${s}T23:59:59.999Z`)).or(isoDateTime);

/**
 * How large a filter may be: every filter becomes one SQL statement (SQLite refuses more than
 * 32,766 bound values and expression trees deeper than 1,000), and every glob one regular
 * expression tested per catalog row (a glob with many `*` in one path segment backtracks
 * polynomially: 4 of them cost 80 ms per 255-character name). A filter past these limits is a
 * bad query (400), never an internal error.
 */
export const FILTER_LIMITS = {
  fieldNames: 32,
  valuesPerField: 100,
  values: 1000,
  fieldNameChars: 200,
  fieldValueChars: 500,
  globChars: 500,
  starsPerGlobSegment: 3,
  globBraces: 8,
} as const;

const fieldValue = z.union([z.string().max(FILTER_LIMITS.fieldValueChars), z.number().finite()]);
const fieldRange = z
  .strictObject({ min: z.number().finite().optional(), max: z.number().finite().optional() })
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, { message: 'the range is empty: its low end is above its high end' });
const fieldCondition = z.union([fieldValue, z.array(fieldValue).max(FILTER_LIMITS.valuesPerField), fieldRange]);

/** Why a glob is refused, or undefined when it is within the limits. */
function globProblem(glob: string): string | undefined {
  if (pathGlobOf(glob).glob === '') return 'a glob needs a pattern besides its slashes';
  if (/[@!?*+]\(/.test(glob)) return 'extended globs such as +(a|b) are not supported in filters';
  if ((glob.match(/\{/g) ?? []).length > FILTER_LIMITS.globBraces) return `at most ${FILTER_LIMITS.globBraces} {…} groups`;
  if (!expandPathBraces(glob)) return `at most ${MAX_GLOB_ALTERNATIVES} alternatives of {…} groups that hold a "/"`;
  for (const segment of glob.split('/')) {
    const stars = (segment.replace(/\*\*/g, '').match(/\*/g) ?? []).length;
    if (stars > FILTER_LIMITS.starsPerGlobSegment) return `at most ${FILTER_LIMITS.starsPerGlobSegment} * per path segment, "${segment}" has ${stars}`;
  }
  return undefined;
}
/** What a user field must be: a value, any of several values, or a numeric range (inclusive). */
export type FieldCondition = z.output<typeof fieldCondition>;

export const FILTER_KEYS = {
  pathGlob: filterKey({
    schema: z
      .string()
      .min(1)
      .max(FILTER_LIMITS.globChars)
      .superRefine((glob, ctx) => {
        const problem = globProblem(glob);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(`picomatch glob over the relative path (a leading / or ./ changes nothing); without "/" it matches the file name (at most ${FILTER_LIMITS.starsPerGlobSegment} * per path segment, no extended globs)`),
    name: 'path',
    syntax: 'path=GLOB',
    fromText: (value) => value,
  }),
  folder: filterKey({
    schema: z.string().max(1000).describe('relative folder: a/b (or /a/b/, ./a/b) matches a/b/x.jpg and a/b/c/y.jpg; . matches every file'),
    name: 'folder',
    syntax: 'folder=DIR',
    fromText: (value) => value,
  }),
  formats: filterKey({
    schema: z.array(z.string().min(1).max(20)).max(20).describe('any of these formats as sharp names them (jpeg, png, tiff, ...)'),
    name: 'format',
    syntax: 'format=jpeg,png',
    fromText: (value, spec, previous) => {
      const formats = value
        .split(',')
        .map((f) => f.trim())
        .filter((f) => f !== '');
      // an empty list would filter nothing, which is not what `format=` asks for
      if (formats.length === 0) throw badSpec(spec, 'at least one format, like format=jpeg or format=jpeg,png');
      return [...(previous ?? []), ...formats];
    },
  }),
  minBytes: numericKey('minBytes', 'smallest file size in bytes'),
  maxBytes: numericKey('maxBytes', 'largest file size in bytes'),
  minWidth: numericKey('minWidth', 'smallest image width in pixels'),
  minHeight: numericKey('minHeight', 'smallest image height in pixels'),
  modifiedAfter: filterKey({
    schema: isoDate.describe('modified at or after (ISO 8601 date or date-time)'),
    name: 'after',
    syntax: 'after=DATE',
    fromText: (value, spec) => dateText(spec, value),
  }),
  modifiedBefore: filterKey({
    schema: isoDate.describe('modified at or before (ISO 8601 date or date-time; a date alone is its midnight UTC: before=2024-01-01 ends with 2023)'),
    name: 'before',
    syntax: 'before=DATE',
    fromText: (value, spec) => dateText(spec, value),
  }),
  bbox: filterKey({
    schema: z
      .tuple([z.number(), z.number(), z.number(), z.number()])
      .transform(toPlace(([w, s, e, n]) => bboxPlace(w, s, e, n)))
      .describe('[west, south, east, north] in degrees (west > east crosses the antimeridian): the footprint intersects the box'),
    name: 'bbox',
    syntax: 'bbox=W,S,E,N',
    fromText: (value, spec) => numberList(spec, value, [4]) as [number, number, number, number],
  }),
  near: filterKey({
    schema: z
      .strictObject({ lon: z.number(), lat: z.number(), radius: radius.optional() })
      .transform(toPlace(({ lon, lat, radius: r }) => nearPlace(lon, lat, parseDistance(r ?? 0))))
      .describe('a point and a radius (metres, or text like "5km"; default 0): the footprint is within the radius of the point (geodesic)'),
    name: 'near',
    syntax: 'near=LON,LAT[,RADIUS]',
    fromText: (value, spec) => {
      const parts = value.split(',');
      if (parts.length !== 2 && parts.length !== 3) throw badSpec(spec, 'LON,LAT or LON,LAT,RADIUS (e.g. near=12.49,41.89,5km)');
      const [lon, lat] = numberList(spec, parts.slice(0, 2).join(','), [2]) as [number, number];
      return parts.length === 3 ? { lon, lat, radius: parts[2]!.trim() } : { lon, lat };
    },
  }),
  within: filterKey({
    schema: areaGeometry
      .transform(toPlace((geojson) => withinPlace(geojson)))
      .describe('a GeoJSON Polygon or MultiPolygon (or a Feature / FeatureCollection of them), lon/lat: the footprint intersects it'),
    name: 'within',
    syntax: 'within=GEOJSON',
    fromText: (value, spec) => {
      try {
        return JSON.parse(value) as z.input<typeof areaGeometry>;
      } catch {
        throw badSpec(spec, 'GeoJSON text, e.g. within={"type":"Polygon","coordinates":[[[12,41],[13,41],[13,42],[12,41]]]}');
      }
    },
  }),
  since: filterKey({
    schema: isoDate.describe('acquired at or after (a STAC item\'s datetime or the end of its range; ISO 8601)'),
    name: 'since',
    syntax: 'since=DATE',
    fromText: (value, spec) => dateText(spec, value),
  }),
  until: filterKey({
    schema: isoDateThroughDay.describe('acquired at or before (a STAC item\'s datetime or the start of its range; ISO 8601; a date alone takes in the whole day, UTC)'),
    name: 'until',
    syntax: 'until=DATE',
    fromText: (value, spec) => dateText(spec, value),
  }),
};

/**
 * Filter keys that are also options of their own: `rsclip search --bbox ...` and
 * `/api/search?bbox=...` mean `--filter bbox=...`. `near` takes its radius from `radius`;
 * `within` is GeoJSON text (the CLI reads it from a file).
 */
export interface PlaceOptions {
  bbox?: string;
  near?: string;
  radius?: string;
  within?: string;
  since?: string;
  until?: string;
}

/** The `key=value` filters the place and time options stand for. */
export function placeOptionSpecs(options: PlaceOptions): string[] {
  const specs: string[] = [];
  if (options.radius !== undefined && options.near === undefined) {
    throw new RsclipError('BAD_QUERY', 'a radius needs a point: give near=LON,LAT with it', { hint: 'e.g. --near 12.49,41.89 --radius 5km' });
  }
  if (options.bbox !== undefined) specs.push(`bbox=${options.bbox}`);
  if (options.near !== undefined) specs.push(`near=${options.near}${options.radius !== undefined ? `,${options.radius}` : ''}`);
  if (options.within !== undefined) specs.push(`within=${options.within}`);
  if (options.since !== undefined) specs.push(`since=${options.since}`);
  if (options.until !== undefined) specs.push(`until=${options.until}`);
  return specs;
}

/** User fields: any name that is not a key above (or `field.NAME`), with a value, values or a numeric range. */
const FIELDS = {
  schema: z
    .record(z.string().min(1).max(FILTER_LIMITS.fieldNameChars), fieldCondition)
    .superRefine((fields, ctx) => {
      const names = Object.keys(fields).length;
      if (names > FILTER_LIMITS.fieldNames) ctx.addIssue({ code: 'custom', message: `at most ${FILTER_LIMITS.fieldNames} user fields in one filter, got ${names}` });
      const values = Object.values(fields).reduce<number>((n, c) => n + (Array.isArray(c) ? c.length : 1), 0);
      if (values > FILTER_LIMITS.values) ctx.addIssue({ code: 'custom', message: `at most ${FILTER_LIMITS.values} user field values in one filter, got ${values}` });
    })
    .describe(`user fields: name -> value, [values] or {min, max} (inclusive); at most ${FILTER_LIMITS.fieldNames} names and ${FILTER_LIMITS.values} values`),
  syntax: ['NAME=VALUE', 'NAME=A|B', 'NAME=LO..HI'],
  /**
   * A range when the text around its first `..` is numbers (either may be left out); a text with
   * `..` and a number on one side only (`abc..3`, `2010..x`) is a malformed range, refused; with
   * no number on either side (`a..b`) it is a value like any other.
   */
  fromText(value: string, spec: string): z.input<typeof fieldCondition> {
    const dots = value.indexOf('..');
    if (dots !== -1) {
      const [low, high] = [value.slice(0, dots), value.slice(dots + 2)];
      const [lowNumber, highNumber] = [DECIMAL_NUMBER.test(low), DECIMAL_NUMBER.test(high)];
      if ((lowNumber || low === '') && (highNumber || high === '') && (lowNumber || highNumber)) {
        return { ...(lowNumber ? { min: numberText(spec, low) } : {}), ...(highNumber ? { max: numberText(spec, high) } : {}) };
      }
      if (lowNumber || highNumber) throw badSpec(spec, 'a range of decimal numbers LO..HI, either end left out or not (year=2010..2015, year=2010..)');
    }
    const values = value.split('|');
    // sidecars never store an empty value (their empty cells are no value), so it would match nothing
    if (values.some((v) => v.trim() === '')) throw badSpec(spec, `a value after "=" (and between any "|"): an empty one matches nothing`);
    return values.length > 1 ? values : value;
  },
};

type KeyName = keyof typeof FILTER_KEYS;
type KeyShape = { [K in KeyName]: z.ZodOptional<(typeof FILTER_KEYS)[K]['schema']> };

const keyShape = Object.fromEntries(Object.entries(FILTER_KEYS).map(([name, key]) => [name, key.schema.optional()])) as KeyShape;

/** Pairs of keys that bound one quantity: a low end above the high end matches nothing, which is a mistake, not a query. */
const BOUND_PAIRS = [
  ['since', 'until'],
  ['modifiedAfter', 'modifiedBefore'],
  ['minBytes', 'maxBytes'],
] as const satisfies readonly (readonly [KeyName, KeyName])[];

function boundText(value: Date | number): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** Filters over the catalog; all given conditions must hold. Only items of `ok` files match. */
export const catalogFilterSchema = z
  .strictObject(
    { ...keyShape, fields: FIELDS.schema.optional() },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys) : undefined) },
  )
  .superRefine((filter, ctx) => {
  for (const [low, high] of BOUND_PAIRS) {
    const from = filter[low];
    const to = filter[high];
    if (from === undefined || to === undefined || from <= to) continue;
    const [lowName, highName] = [FILTER_KEYS[low].name, FILTER_KEYS[high].name];
    const relation = to instanceof Date ? 'is before' : 'is less than';
    ctx.addIssue({ code: 'custom', path: [high], message: `${highName} (${boundText(to)}) ${relation} ${lowName} (${boundText(from)}): no item can match` });
  }
});

function unknownKeysMessage(keys: readonly string[]): string {
  const named = keys.map((k) => `"${k}"`).join(', ');
  return `unknown filter key${keys.length > 1 ? 's' : ''} ${named}: the keys are ${[...Object.keys(FILTER_KEYS), 'fields'].join(', ')}; user fields go under fields (${JSON.stringify({ fields: { [keys[0]!]: '...' } })})`;
}

/** A parsed filter: what the store compiles (dates are Dates). */
export type CatalogFilter = z.output<typeof catalogFilterSchema>;
/** A filter in its JSON form (dates are ISO strings, places as GeoJSON-like values). */
export type CatalogFilterJson = z.input<typeof catalogFilterSchema>;

const DATE_KEYS: ReadonlySet<string> = new Set<KeyName>(['modifiedAfter', 'modifiedBefore', 'since', 'until']);

/** A place as its key's JSON form takes it: bbox [w, s, e, n], near {lon, lat, radius} (metres), within its geometry. */
function placeJson(place: Place): unknown {
  switch (place.kind) {
    case 'bbox':
      return [place.west, place.south, place.east, place.north];
    case 'near':
      return { lon: place.lon, lat: place.lat, radius: place.radius };
    case 'within':
      return place.geometry;
  }
}

/**
 * A value of a parsed filter in its JSON form (a Date of a date key as ISO text, the Place of a
 * place key as its JSON), so that the JSON schema checks it; any other value is left as it is.
 */
function parsedValueJson(key: string, value: unknown): unknown {
  if (DATE_KEYS.has(key) && value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  const place = value as Partial<Place> | null;
  if (typeof place === 'object' && place !== null && place.kind === key) return placeJson(place as Place);
  return value;
}

/**
 * A library caller's filter: its JSON form (what POST /api/search takes) or a parsed one (from
 * parseFilterSpecs, or a spread of one), each value in either form, checked as the API's JSON is.
 * A parsed value goes back to its JSON form to be checked, which gives the same value.
 */
export const libraryFilterSchema = z.preprocess(
  (filter) => (typeof filter === 'object' && filter !== null && !Array.isArray(filter) ? Object.fromEntries(Object.entries(filter).map(([key, value]) => [key, parsedValueJson(key, value)])) : filter),
  catalogFilterSchema,
);

const KEY_BY_NAME = new Map<string, KeyName>(Object.entries(FILTER_KEYS).map(([key, spec]) => [spec.name, key as KeyName]));

/** A `key=value` filter, or one read from where a message should name rather than quote (`--within area.geojson`). */
export type FilterSpec = string | { text: string; source: string };

/** How a message names a spec: the spec itself (cut when long), or where it was read from. */
function specLabel(spec: FilterSpec): string {
  return typeof spec === 'string' ? `filter "${shown(spec)}"` : spec.source;
}

/** Parses repeatable `key=value` filters (all must hold) into a CatalogFilter, with the JSON form's bounds. */
export function parseFilterSpecs(specs: readonly FilterSpec[]): CatalogFilter {
  const json: Record<string, unknown> = {};
  const fields: Record<string, unknown> = {};
  const labelOf = new Map<string, string>();
  for (const spec of specs) {
    const text = typeof spec === 'string' ? spec : spec.text;
    const label = specLabel(spec);
    const eq = text.indexOf('=');
    if (eq <= 0) throw badSpec(label, 'KEY=VALUE');
    const name = text.slice(0, eq).trim();
    const value = text.slice(eq + 1);
    const key = KEY_BY_NAME.get(name);
    if (key !== undefined) {
      const form = FILTER_KEYS[key] as FilterKey<z.ZodType>;
      json[key] = form.fromText(value, label, json[key]);
      labelOf.set(key, label);
      continue;
    }
    const field = name.startsWith('field.') ? name.slice('field.'.length) : name;
    if (field === '') throw badSpec(label, 'a field name before "="');
    fields[field] = FIELDS.fromText(value, label);
    labelOf.set(`fields.${field}`, label);
  }
  if (Object.keys(fields).length > 0) json.fields = fields;
  const parsed = catalogFilterSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path[0] === 'fields' ? `fields.${String(issue.path[1])}` : String(issue.path[0]);
    throw new RsclipError('BAD_QUERY', `invalid ${labelOf.get(where) ?? `filter "${where}"`}: ${issue.message}`);
  }
  return parsed.data;
}

/** The key=value syntax in one line, for `--help`, error hints and the OpenAPI document. */
export function filterSyntax(): string {
  return [...Object.values(FILTER_KEYS).map((k) => k.syntax), ...FIELDS.syntax].join(' ');
}

/** The JSON Schema (2020-12, as OpenAPI 3.1 uses) of a filter in its JSON form. */
export function filterJsonSchema(): Record<string, unknown> {
  const { $schema: _draft, ...schema } = z.toJSONSchema(catalogFilterSchema, { io: 'input' }) as Record<string, unknown>;
  return schema;
}

/**
 * A glob as a regular expression for a SQL back end whose regex engine does not backtrack
 * (PostgreSQL's `~`; the embedded catalog uses GlobMatcher instead), with picomatch's meaning: `*` stays within a folder, `**` crosses folders, dot files
 * match, and a glob without "/" is matched against the file name only. A path equal to the
 * glob's text matches too, as in picomatch.
 */
export interface GlobMatch {
  /** Which name the regex is tested against. */
  target: 'path' | 'fileName';
  regex: string;
  literal: string;
}

/** Which name a glob is tested against: a glob without "/" matches the file name only. */
export function globTarget(glob: string): 'path' | 'fileName' {
  return glob.includes('/') ? 'path' : 'fileName';
}

/** A path filter's glob as the catalog writes its paths, and the name it is tested against. */
export interface PathGlob {
  glob: string;
  target: 'path' | 'fileName';
}

/** A path or glob as the catalog writes its paths: relative, with single slashes (`/2020//a/` is `2020/a`, `./a` is `a`). */
export function catalogRelative(text: string): string {
  return text.replace(/\/{2,}/g, '/').replace(/^(\.?\/)+/, '').replace(/\/$/, '');
}

/** A path glob as the catalog writes paths; its target is the glob's as written: `/a.jpg` is the a.jpg at the top, not every a.jpg. */
export function pathGlobOf(text: string): PathGlob {
  return { glob: catalogRelative(text), target: globTarget(text) };
}

export function globToRegex(glob: string): GlobMatch {
  const regex = picomatch.makeRe(glob, { dot: true });
  return { target: globTarget(glob), regex: regex.source, literal: glob };
}
