/**
 * Pagination cursors: base64url JSON holding the next page's offset (its first rank), the
 * previous page's last hit (its score and id) and a key of the query it belongs to, so a cursor
 * used with another query is refused instead of paging nonsense. The next page holds the hits
 * that order after that last hit (lower score, or the same score and a higher id): whatever the
 * graph's search finds this time, no hit comes twice and scores never rise from page to page.
 */
import { createHash } from 'node:crypto';
import { RsclipError } from '../errors.js';
import { nmsShare } from './nms.js';
import type { SearchRequest } from './types.js';
import type { ScoredId } from '../vector-math.js';

/** v1 (offset only) is still read: its page is the one at that offset. */
interface CursorBody {
  v: 1 | 2;
  offset: number;
  key: string;
  /** v2: the previous page's last hit, [score, id]. */
  after?: [number, number];
}

export interface CursorPosition {
  /** The next page's offset: the rank of its first hit, less one. */
  offset: number;
  /** The last hit of the previous page (absent for an old cursor). */
  after?: ScoredId;
}

/** A stable key of everything that decides the order of results (not k or the page). */
export function queryKey(request: SearchRequest): string {
  const hash = createHash('sha256');
  const terms = request.terms.map((t) => {
    if (t.kind !== 'image') return t;
    const image = typeof t.image === 'string' ? `path:${t.image}` : `sha256:${createHash('sha256').update(t.image).digest('hex')}`;
    return { kind: 'image', image, weight: t.weight };
  });
  hash.update(JSON.stringify({ terms, filter: request.filter ?? null, collapse: request.collapse ?? false, exact: request.exact ?? false, nms: nmsShare(request.nms) ?? false, exclude: request.excludeIds ?? [], copies: request.foldCopies ?? true }));
  return hash.digest('base64url').slice(0, 16);
}

export function encodeCursor(offset: number, key: string, after: ScoredId): string {
  const body: CursorBody = { v: 2, offset, key, after: [after.score, after.id] };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** Whether `hit` comes after `last` in the order of results: best score first, ties by id. */
export function ordersAfter(hit: ScoredId, last: ScoredId): boolean {
  return hit.score < last.score || (hit.score === last.score && hit.id > last.id);
}

function validAfter(after: unknown): after is [number, number] {
  return Array.isArray(after) && after.length === 2 && Number.isFinite(after[0]) && Number.isSafeInteger(after[1]);
}

export function decodeCursor(cursor: string, key: string): CursorPosition {
  let body: Partial<CursorBody> | undefined;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    body = undefined;
  }
  const valid =
    body !== undefined &&
    body !== null &&
    (body.v === 1 || (body.v === 2 && validAfter(body.after))) &&
    typeof body.offset === 'number' &&
    Number.isInteger(body.offset) &&
    body.offset >= 0 &&
    typeof body.key === 'string';
  if (!valid) {
    throw new RsclipError('BAD_QUERY', 'invalid cursor: expected the nextCursor of a previous page', { hint: 'start again without a cursor' });
  }
  if (body!.key !== key) {
    throw new RsclipError('BAD_QUERY', 'the cursor belongs to a different query (terms, filter, collapse, nms or exact changed)', {
      hint: 'start again without a cursor',
    });
  }
  const after = body!.after;
  return after ? { offset: body!.offset!, after: { score: after[0], id: after[1] } } : { offset: body!.offset! };
}
