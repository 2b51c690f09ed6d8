/**
 * The one error type the library throws for things a user can cause.
 * `cli.ts` prints `message` (and `hint`) on one line and exits non-zero;
 * the server maps `code` to an HTTP status in its error middleware.
 */
export type RsclipErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'MODEL_FETCH_FAILED'
  | 'CHECKPOINT_INVALID'
  | 'CHECKPOINT_UNSAFE'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_TOO_LARGE'
  /** A file's georeference (GeoKeys, world file, .prj, a datum grid) cannot be used: the file is refused rather than indexed without its place. */
  | 'GEOREFERENCE_INVALID'
  | 'BAD_INPUT'
  | 'BAD_QUERY'
  | 'NOT_FOUND'
  | 'INDEX_NOT_FOUND'
  /**
   * The index's database cannot be used now: it cannot be reached, or refused the connection (down,
   * restarting, a wrong URL or password), or cancelled a read (a replica's replay, a statement_timeout),
   * or a writer lost the connection holding its write lock.
   */
  | 'INDEX_UNAVAILABLE'
  | 'INDEX_INCOMPATIBLE'
  | 'INDEX_CORRUPT'
  | 'INDEX_LOCKED'
  /** The store was closed (e.g. a request that outlived the server's shutdown). */
  | 'INDEX_CLOSED'
  /** A write on a store opened read-only: a caller's mistake, never a user's. */
  | 'INDEX_READ_ONLY'
  /** A search (or stats, or verify) on a store opened to write only, whose graph is built in a thread of its own: a caller's mistake. */
  | 'INDEX_WRITE_ONLY'
  /** The index directory cannot be written (permissions, a full disk); what is committed stays. */
  | 'INDEX_UNWRITABLE'
  | 'CONFIG_INVALID'
  | 'DATASET_INVALID'
  | 'OFFLINE'
  /** The embedding queue (Redis) cannot be reached, or a job failed on its workers. */
  | 'QUEUE_FAILED'
  /**
   * A package rsclip needs cannot load (an incomplete install, a native binary built for another
   * platform): never an input's fault, so never recorded as a file's failure.
   */
  | 'DEPENDENCY_MISSING'
  | 'INTERRUPTED';

export interface RsclipErrorOptions {
  /** What the user should do next, e.g. "run `rsclip model fetch`". */
  hint?: string;
  cause?: unknown;
}

export class RsclipError extends Error {
  override readonly name = 'RsclipError';
  readonly code: RsclipErrorCode;
  readonly hint: string | undefined;

  constructor(code: RsclipErrorCode, message: string, options: RsclipErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  /** The message and the hint on one line, as the CLI prints it. */
  toOneLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isRsclipError(error: unknown, code?: RsclipErrorCode): error is RsclipError {
  return error instanceof RsclipError && (code === undefined || error.code === code);
}

/** `error` (an RsclipError; anything else as it is) with each path of `renames` in its message written as the user knows it: a temporary or real path named by what the user gave. */
export function withPathsRenamed(error: unknown, renames: readonly (readonly [from: string, to: string])[]): unknown {
  if (!(error instanceof RsclipError)) return error;
  const message = renames.reduce((text, [from, to]) => text.replaceAll(from, to), error.message);
  return new RsclipError(error.code, message, { ...(error.hint ? { hint: error.hint } : {}), cause: error });
}

/** sharp-style parameter check message: "Expected positive integer for batch but received 0 of type number". */
export function invalidParameter(name: string, expected: string, actual: unknown): RsclipError {
  const shown = typeof actual === 'string' ? JSON.stringify(actual) : String(actual);
  return new RsclipError('BAD_INPUT', `Expected ${expected} for ${name} but received ${shown} of type ${typeof actual}`);
}
