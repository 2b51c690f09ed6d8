/**
 * The media type a request declares, also when it sends no body: express's `req.is` answers null
 * for a request without Content-Length or Transfer-Encoding whatever its Content-Type says, so a
 * route that took null for "another type" refused `Content-Type: image/png` with no body as 415
 * "expected ... an image/* body, got image/png". Such a request is an empty one of that type: its
 * parser finds nothing and the route says so (400).
 */
import type { Request } from 'express';

/** `type` (as `req.is` takes it: `image/png`, or `image/*`) matches the bare media type `declared`. */
function matches(declared: string, type: string): boolean {
  return type.endsWith('/*') ? declared.startsWith(type.slice(0, -1)) && declared.length > type.length - 1 : declared === type;
}

/** Whether the request's Content-Type is one of `types`, body or not. */
export function declaresType(req: Request, types: string | string[]): boolean {
  const list = Array.isArray(types) ? types : [types];
  const withBody = req.is(list);
  if (withBody !== null) return withBody !== false;
  const declared = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return declared !== '' && list.some((type) => matches(declared, type));
}
