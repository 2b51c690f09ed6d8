/**
 * The structured JSON form of a query (POST /api/search, library callers with untrusted input):
 *
 *   { "terms": [ {"text": "stadium"}, {"id": 123, "weight": 0.5}, {"image": "<base64>", "weight": -1} ],
 *     "k": 20, "offset": 0 | "cursor": "...", "exact": false, "ef": 128,
 *     "filter": { "folder": "2020", "formats": ["jpeg"], "fields": {"label": "airport"},
 *                 "bbox": [12.3, 41.8, 12.6, 42.0], "near": {"lon": 12.49, "lat": 41.89, "radius": "5km"},
 *                 "within": {"type": "Polygon", ...}, "since": "2023-01-01" },   (see store/filter.ts)
 *     "collapse": true | 0.95, "nms": true | false | 0.5, "foldCopies": true }
 *
 * `image` is base64 of the encoded file; a path is never accepted from JSON.
 */
import { z } from 'zod';
import { RsclipError } from '../errors.js';
import { catalogFilterSchema, libraryFilterSchema } from '../store/filter.js';
import { MAX_EF, MAX_K, MAX_TERMS, MAX_TEXT_LENGTH, MAX_WINDOW } from './limits.js';
import type { CheckedSearchRequest, QueryTerm } from './types.js';

const weight = z.number().finite().refine((w) => w !== 0, 'weight must not be 0').default(1);

// `kind` may be given as the library's terms have it (a request object serves both), and must then match
const termSchema = z.union([
  z.strictObject({ kind: z.literal('text').optional(), text: z.string().trim().min(1, 'text must not be empty').max(MAX_TEXT_LENGTH), weight }),
  z.strictObject({ kind: z.literal('id').optional(), id: z.number().int().positive(), weight }),
  z.strictObject({ kind: z.literal('image').optional(), image: z.base64().min(1, 'image must not be empty'), weight }),
]);

const COLLAPSE_EXPECTED = 'expected true, false or a cosine threshold in (0, 1]';
const NMS_EXPECTED = 'expected on (true), off (false) or a share of the smaller window in (0, 1]';

/** Cosine similarity at which `collapse` folds a result into a better one. */
const collapseThreshold = z.number().gt(0, `${COLLAPSE_EXPECTED} (0 would fold every hit into one; false collapses none)`).max(1, COLLAPSE_EXPECTED);

/** Paging and search knobs shared by every search route (JSON body or query string, coerced by the caller). */
export const pagingShape = {
  k: z.number().int().min(1).max(MAX_K).optional(),
  offset: z.number().int().min(0).max(MAX_WINDOW).optional(),
  cursor: z.string().min(1).max(500).optional(),
  exact: z.boolean().optional(),
  ef: z.number().int().min(1).max(MAX_EF).optional(),
  collapse: z.union([z.boolean(), collapseThreshold], { error: COLLAPSE_EXPECTED }).optional(),
  nms: z.union([z.boolean(), z.number().gt(0, `${NMS_EXPECTED} (off, not 0, shows every tile)`).max(1, NMS_EXPECTED)], { error: NMS_EXPECTED }).optional(),
  /** false: byte-identical copies are separate hits (default: folded into the best, listed as `copies`). */
  foldCopies: z.boolean().optional(),
};

/** Words a collapse or nms value may be written with in text (a CLI option, a query parameter); `''` is a bare `?collapse`. */
const THRESHOLD_WORDS: Record<'collapse' | 'nms', Readonly<Record<string, boolean>>> = {
  collapse: { '': true, true: true, false: false },
  nms: { '': true, true: true, on: true, false: false, off: false },
};

/**
 * `collapse` or `nms` written as text, as its JSON form reads it: a word is a boolean, a decimal
 * number a threshold (so `1` is the threshold 1, not true, and `0` the threshold 0, refused, not
 * off); anything else stays text, for pagingShape to refuse.
 */
export function thresholdFromText(name: 'collapse' | 'nms', text: string): boolean | number | string {
  const word = THRESHOLD_WORDS[name][text.trim().toLowerCase()];
  if (word !== undefined) return word;
  return /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : text;
}

/** The terms of a query as JSON: what POST /api/search and a locate request with a JSON body take. */
export const queryTermsSchema = z.array(termSchema).min(1, 'expected at least one term').max(MAX_TERMS);

/** Validated JSON terms as query terms (an image's base64 decoded). */
export function toQueryTerms(terms: z.output<typeof queryTermsSchema>): QueryTerm[] {
  return terms.map((t) => {
    if ('text' in t) return { kind: 'text', text: t.text, weight: t.weight };
    if ('id' in t) return { kind: 'id', id: t.id, weight: t.weight };
    return { kind: 'image', image: Buffer.from(t.image, 'base64'), weight: t.weight };
  });
}

export const searchRequestSchema = z.strictObject({
  terms: queryTermsSchema,
  filter: catalogFilterSchema.optional(),
  ...pagingShape,
});

export type SearchRequestJson = z.input<typeof searchRequestSchema>;

/**
 * A library caller's SearchRequest, whose types TypeScript cannot promise (a JavaScript caller, an
 * `as`, a request built from a config file): the JSON form's bounds (pagingShape) over the
 * library's own shapes (terms with a `kind`, an image as a path or bytes, collapse as an object).
 * Counts and emptiness of the terms are the searcher's own checks (queryVector), with its messages.
 */
const termWeightSchema = z.number({ error: 'weight must be a finite, non-zero number' }).finite().refine((w) => w !== 0, 'weight must be a finite, non-zero number');

export const libraryTermSchema = z.discriminatedUnion(
  'kind',
  [
    z.object({
      kind: z.literal('text'),
      text: z.string({ error: 'text must be a string' }).max(MAX_TEXT_LENGTH, `a text may have at most ${MAX_TEXT_LENGTH} characters (CLIP reads its first 77 tokens, about 300 characters)`),
      weight: termWeightSchema,
    }),
    z.object({ kind: z.literal('image'), image: z.union([z.string().min(1), z.instanceof(Uint8Array)], { error: 'image must be a file path or the bytes of an image file (a Buffer)' }), weight: termWeightSchema }),
    z.object({ kind: z.literal('id'), id: z.number({ error: 'id must be a positive integer' }).int('id must be a positive integer').positive('id must be a positive integer'), weight: termWeightSchema }),
  ],
  { error: 'each term needs kind "text", "image" or "id"' },
);

export const libraryTermsSchema = z.array(libraryTermSchema, { error: 'terms must be an array of query terms' });

export const librarySearchRequestSchema = z.strictObject(
  {
    terms: libraryTermsSchema,
    ...pagingShape,
    collapse: z.union([z.boolean(), z.object({ threshold: collapseThreshold })], { error: 'collapse must be true, false or { threshold } with a threshold in (0, 1]' }).optional(),
    excludeIds: z.array(z.number().int(), { error: 'excludeIds must be an array of item ids' }).optional(),
    filter: libraryFilterSchema.optional(),
  },
  // a key the request does not have (a misspelt `kk`) keeps zod's message, which names it
  { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'a search request must be an object with terms') },
);

/** `request` with its filter parsed; throws BAD_QUERY naming every argument that is not what a SearchRequest holds. */
export function checkLibrarySearchRequest(request: unknown): CheckedSearchRequest {
  const parsed = librarySearchRequestSchema.safeParse(request);
  if (!parsed.success) throw new RsclipError('BAD_QUERY', `invalid search request: ${describeZodIssues(parsed.error)}`);
  const { filter } = parsed.data;
  // the rest as given: the schema's output drops what it does not name, and copies the terms' images
  const { filter: _given, ...rest } = request as CheckedSearchRequest;
  return filter === undefined ? rest : { ...rest, filter };
}

/** Throws BAD_QUERY unless `terms` is an array of QueryTerms (see libraryTermSchema). */
export function checkLibraryTerms(terms: unknown): asserts terms is QueryTerm[] {
  const parsed = libraryTermsSchema.safeParse(terms);
  if (!parsed.success) throw new RsclipError('BAD_QUERY', `invalid query terms: ${describeZodIssues(parsed.error)}`);
}

/** Each issue as `path: message`; an issue with the whole value (a JSON body, a path parameter) as its message alone. */
export function describeZodIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

function collapseOption(collapse: boolean | number | undefined): CheckedSearchRequest['collapse'] {
  return typeof collapse === 'number' ? { threshold: collapse } : collapse;
}

/** Validates the JSON form and turns it into a SearchRequest; throws BAD_QUERY naming every problem. */
export function parseSearchRequestJson(body: unknown): CheckedSearchRequest {
  const parsed = searchRequestSchema.safeParse(body);
  if (!parsed.success) throw new RsclipError('BAD_QUERY', `invalid search request: ${describeZodIssues(parsed.error)}`);
  const { terms, filter, collapse, ...rest } = parsed.data;
  return { terms: toQueryTerms(terms), ...rest, ...(filter ? { filter } : {}), ...(collapse === undefined ? {} : { collapse: collapseOption(collapse) }) };
}
