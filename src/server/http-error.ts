/**
 * HTTP errors: one class for the errors the HTTP layer itself raises, and the single error
 * middleware that turns every error (RsclipError, body-parser, multer, HttpError, anything)
 * into `{ error: { code, message } }` with the right status.
 */
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler } from 'express';
import multer from 'multer';
import type { Logger } from 'pino';
import { RsclipError, type RsclipErrorCode } from '../errors.js';
import { markRefusedForNow, redactSecrets, wasCutShort } from './request-log.js';

/** Codes only the HTTP layer uses, next to RsclipErrorCode in the `code` of an error body. */
export type HttpErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BAD_REQUEST'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'NOT_READY'
  | 'SERVER_BUSY'
  | 'SHUTTING_DOWN'
  | 'FILE_CHANGED'
  | 'INTERNAL';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** What the client (or the operator) can do about it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

const STATUS_BY_CODE: Partial<Record<RsclipErrorCode, number>> = {
  BAD_QUERY: 400,
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  INDEX_NOT_FOUND: 404,
  IMAGE_UNREADABLE: 415,
  IMAGE_TOO_LARGE: 413,
  GEOREFERENCE_INVALID: 422,
  INDEX_INCOMPATIBLE: 409,
  // the index needs `rsclip doctor` (the error's hint says so): unavailable until then, not an internal error
  INDEX_CORRUPT: 503,
  INDEX_CLOSED: 503,
  // the database went away under a running server (a restart, a failover): it answers again once it is back
  INDEX_UNAVAILABLE: 503,
  INDEX_LOCKED: 503,
  INTERRUPTED: 503,
};

/**
 * 503s that mean "not now": the index's database away, the store shutting down or locked, the
 * server busy or warming up. A database outage refuses every request until it is back, so these
 * are logged as one warning line each with the reason, not as errors with a stack.
 */
const TEMPORARY_CODES: ReadonlySet<string> = new Set<RsclipErrorCode | HttpErrorCode>(['INDEX_UNAVAILABLE', 'INDEX_LOCKED', 'INDEX_CLOSED', 'INTERRUPTED', 'NOT_READY', 'SERVER_BUSY', 'SHUTTING_DOWN']);

function isTemporary(error: unknown): error is RsclipError | HttpError {
  return (error instanceof RsclipError || error instanceof HttpError) && TEMPORARY_CODES.has(error.code);
}

export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

interface BodyParserError {
  type?: string;
  status?: number;
}

function describe(error: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof HttpError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.hint) body.error.hint = error.hint;
    return { status: error.status, body, headers: error.headers };
  }
  if (error instanceof RsclipError) {
    const status = STATUS_BY_CODE[error.code] ?? 500;
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.hint) body.error.hint = error.hint;
    return { status, body, headers: {} };
  }
  if (error instanceof multer.MulterError) {
    if (error.code === 'LIMIT_FILE_SIZE') return describe(new HttpError(413, 'PAYLOAD_TOO_LARGE', `the upload is larger than the limit: ${error.message}`));
    return describe(new HttpError(400, 'BAD_REQUEST', `bad multipart upload: ${error.message}${error.field ? ` (field "${error.field}")` : ''}`));
  }
  const parser = error as BodyParserError;
  if (parser?.type === 'entity.too.large') return describe(new HttpError(413, 'PAYLOAD_TOO_LARGE', 'the request body is larger than the limit'));
  // the JSON parser is strict: valid JSON that is no object or array (null, "text", 3) fails it too
  if (parser?.type === 'entity.parse.failed') return describe(new HttpError(400, 'BAD_REQUEST', 'the request body is not a JSON object or array (or not valid JSON)'));
  if (typeof parser?.status === 'number' && parser.status >= 400 && parser.status < 500) {
    // 415: a charset or an encoding the parser does not take
    return describe(new HttpError(parser.status, parser.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST', (error as Error).message));
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal server error' } }, headers: {} };
}

/** Folders whose absolute paths stay out of error answers, with the words that replace them (`<index folder>`). */
export type PrivateFolders = Record<string, string>;

/** `text` with each private folder's absolute path replaced by its name (longest paths first, so nested ones work). */
function hideFolders(text: string, folders: PrivateFolders): string {
  let out = text;
  for (const [dir, name] of Object.entries(folders).sort(([a], [b]) => b.length - a.length)) {
    if (dir.length > 1) out = out.replaceAll(dir, name);
  }
  return out;
}

export function errorMiddleware(logger: Logger | undefined, privateFolders: PrivateFolders = {}): ErrorRequestHandler {
  return function sendJsonError(error, req, res, next) {
    if (res.headersSent) {
      // a response the server cut short (answered 503 at shutdown, or its connection closed) was logged then
      if (!wasCutShort(res)) next(error);
      return;
    }
    const { status, body, headers } = describe(error);
    if (isTemporary(error)) {
      // the request's one log line: the request log leaves it out
      markRefusedForNow(res);
      logger?.warn({ code: error.code, method: req.method, url: redactSecrets(req.originalUrl), status }, `request refused for now: ${error.message}`);
    } else if (status >= 500) logger?.error({ err: error, url: redactSecrets(req.originalUrl) }, 'request failed');
    // where the index and the model live is the operator's business, whatever a message says
    body.error.message = hideFolders(body.error.message, privateFolders);
    if (body.error.hint) body.error.hint = hideFolders(body.error.hint, privateFolders);
    res.status(status).set(headers).json(body);
  };
}

/**
 * What node's HTTP parser refuses before express sees a request (node would answer with an empty
 * body): a JSON error body like every other refusal. A URL and headers over node's 16 KiB limit
 * (a long `within` polygon in the query string, say) is 431; a request that cannot be parsed, 400;
 * a request too slow to arrive, 408.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const [status, code, message, hint]: [number, HttpErrorCode, string, string | undefined] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'the URL and headers of this request are larger than 16 KiB', 'send long values (e.g. a `within` polygon) in the JSON body of POST /api/search']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive', undefined]
        : [400, 'BAD_REQUEST', 'the request is not valid HTTP', undefined];
  if (error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  answerAndClose(socket, status, code, message, hint);
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** Answers a connection whose request never reached express with a JSON error, then destroys it (at once where it cannot be written). */
export function answerAndClose(socket: Duplex, status: number, code: HttpErrorCode, message: string, hint?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } } satisfies ErrorBody);
  // the answer, then the socket destroyed (as node's own handler does): ending it alone would leave
  // it half-open, counted against maxConnections, for as long as a client that never reads and never
  // closes keeps it (256 slow-loris clients would lock everyone else out)
  const destroy = (): void => void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, destroy);
  // a client whose receive window is full never lets the answer go out: it is cut all the same
  setTimeout(destroy, CLIENT_ERROR_FLUSH_MS).unref();
}

/** How long the answer to a refused connection may take to leave before the socket is destroyed regardless. */
const CLIENT_ERROR_FLUSH_MS = 1000;
