/**
 * Pagination cursors: base64url JSON holding the next offset and a key of the query it
 * belongs to, so a cursor used with another query is refused instead of paging nonsense.
 */
import { createHash } from 'node:crypto';
import { RsclipError } from '../errors.js';
import { nmsShare } from './nms.js';
import type { SearchRequest } from './types.js';

interface CursorBody {
  v: 1;
  offset: number;
  key: string;
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

export function encodeCursor(offset: number, key: string): string {
  const body: CursorBody = { v: 1, offset, key };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(cursor: string, key: string): number {
  let body: Partial<CursorBody> | undefined;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
  } catch {
    body = undefined;
  }
  if (!body || body.v !== 1 || typeof body.offset !== 'number' || !Number.isInteger(body.offset) || body.offset < 0 || typeof body.key !== 'string') {
    throw new RsclipError('BAD_QUERY', 'invalid cursor: expected the nextCursor of a previous page', { hint: 'start again without a cursor' });
  }
  if (body.key !== key) {
    throw new RsclipError('BAD_QUERY', 'the cursor belongs to a different query (terms, filter, collapse, nms or exact changed)', {
      hint: 'start again without a cursor',
    });
  }
  return body.offset;
}
