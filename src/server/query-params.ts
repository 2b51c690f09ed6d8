/**
 * Query-string validation for the GET routes: strings from the URL are coerced (numbers,
 * booleans) and checked with the same bounds as the JSON form; `filter` uses the
 * `key=value` syntax of `rsclip search --filter` and may repeat; `bbox`, `near` + `radius`,
 * `within` (GeoJSON text), `since` and `until` are filters of their own, as in the CLI.
 */
import { z } from 'zod';
import { isDecimalIntegerText } from '../decimal-integer.js';
import { RsclipError } from '../errors.js';
import { MAX_TEXT_LENGTH } from '../search/limits.js';
import { describeZodIssues, pagingShape, thresholdFromText } from '../search/request-schema.js';
import type { CheckedSearchRequest } from '../search/types.js';
import { parseFilterSpecs, placeOptionSpecs } from '../store/filter.js';

/** A parameter that may appear once: a repeated one (`?q=a&q=b`) is refused, not settled by picking one of its values. */
export const oneString = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v, ctx) => {
    if (!Array.isArray(v)) return v;
    ctx.addIssue({ code: 'custom', message: `given ${v.length} times: give it once` });
    return z.NEVER;
  }, schema);

/**
 * An integer parameter, written as the CLI's options are (decimalInteger): "12" -> 12, "-1" -> -1
 * (so that zod says what range it is out of); `1e3`, `0x10`, `2.0` or ` 10` is refused as such.
 */
export const integerParam = <T extends z.ZodType>(schema: T) =>
  oneString(
    z.preprocess((v, ctx) => {
      if (typeof v !== 'string') return v;
      if (isDecimalIntegerText(v)) return Number(v);
      ctx.addIssue({ code: 'custom', message: `expected an integer in plain decimal digits (not 1e3, 0x10, 2.0 or with spaces), got ${JSON.stringify(v)}` });
      return z.NEVER;
    }, schema),
  );
/** An optional count from 1 to `max` in a query string. */
export const countParam = (max: number) => integerParam(z.number().int().min(1).max(max)).optional();
/** One of a few sizes in a query string, the message naming them. */
export const sizeParam = (sizes: readonly number[]) => integerParam(z.literal(sizes, { error: `expected one of ${sizes.join(', ')}` })).optional();
const flag = oneString(z.preprocess((v) => (v === '' || v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean()));

/** `collapse=` or `nms=` as POST reads its JSON: a word is a boolean, a decimal number a threshold (thresholdFromText). */
const thresholdParam = (name: 'collapse' | 'nms') => oneString(z.preprocess((v) => (typeof v === 'string' ? thresholdFromText(name, v) : v), pagingShape[name]));

/** `nms=`: off/false (none), on/true/empty (the default share), or a share in (0, 1]. */
export const nmsParam = thresholdParam('nms');

const pagingQuery = {
  k: integerParam(pagingShape.k),
  offset: integerParam(pagingShape.offset),
  cursor: oneString(z.string().min(1).max(500)).optional(),
  exact: flag.optional(),
  foldCopies: flag.optional(),
  ef: integerParam(pagingShape.ef),
  collapse: thresholdParam('collapse'),
  nms: nmsParam,
  filter: z.union([z.string(), z.array(z.string()).max(50)]).optional(),
  bbox: oneString(z.string().max(200)).optional(),
  near: oneString(z.string().max(100)).optional(),
  radius: oneString(z.string().max(30)).optional(),
  within: oneString(z.string().max(1_000_000)).optional(),
  since: oneString(z.string().max(40)).optional(),
  until: oneString(z.string().max(40)).optional(),
  format: oneString(z.enum(['json', 'geojson'])).optional(),
  token: z.string().optional(),
};

/** `format` alone (the POST routes take their query in the body). */
export const formatQuerySchema = z.object({ format: pagingQuery.format });

export const textSearchQuerySchema = z.strictObject({
  q: oneString(z.string().trim().min(1, 'q must not be empty').max(MAX_TEXT_LENGTH)),
  ...pagingQuery,
});

export const pagingQuerySchema = z.strictObject(pagingQuery);

export const thumbnailQuerySchema = z.strictObject({
  size: sizeParam([128, 256, 512]),
  token: z.string().optional(),
});

export const idParamSchema = z.string().regex(/^[1-9]\d{0,9}$/, 'expected a positive integer id').transform(Number);

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RsclipError('BAD_QUERY', `invalid ${what}: ${describeZodIssues(parsed.error)}`);
  return parsed.data;
}

export function parseId(value: unknown): number {
  return parseWith(idParamSchema, value, 'image id');
}

type PagingQuery = z.output<typeof pagingQuerySchema>;

/** The paging/filter part of a SearchRequest from a validated query string. */
export function pagingFromQuery(query: PagingQuery): Omit<CheckedSearchRequest, 'terms'> {
  const request: Omit<CheckedSearchRequest, 'terms'> = {};
  if (query.k !== undefined) request.k = query.k as number;
  if (query.offset !== undefined) request.offset = query.offset as number;
  if (query.cursor !== undefined) request.cursor = query.cursor as string;
  if (query.exact !== undefined) request.exact = query.exact as boolean;
  if (query.foldCopies !== undefined) request.foldCopies = query.foldCopies as boolean;
  if (query.ef !== undefined) request.ef = query.ef as number;
  const collapse = query.collapse as boolean | number | undefined;
  if (collapse !== undefined) request.collapse = typeof collapse === 'number' ? { threshold: collapse } : collapse;
  const nms = query.nms as boolean | number | undefined;
  if (nms !== undefined) request.nms = nms;
  const specs = [...(query.filter === undefined ? [] : Array.isArray(query.filter) ? query.filter : [query.filter])];
  const place = { bbox: query.bbox, near: query.near, radius: query.radius, within: query.within, since: query.since, until: query.until } as Record<string, string | undefined>;
  specs.push(...placeOptionSpecs(Object.fromEntries(Object.entries(place).filter(([, v]) => v !== undefined))));
  if (specs.length > 0) request.filter = parseFilterSpecs(specs);
  return request;
}
