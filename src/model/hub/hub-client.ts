/**
 * The few Hugging Face Hub endpoints a model fetch needs, over plain `fetch`:
 *   GET {endpoint}/api/models/{repo}/revision/{rev}        -> commit sha (+ siblings)
 *   GET {endpoint}/api/models/{repo}/tree/{sha}?recursive=true  -> paths, sizes, git/LFS oids
 *   GET {endpoint}/{repo}/resolve/{sha}/{path}              -> file bytes (302 to a CDN for LFS)
 * Every network or HTTP failure becomes an RsclipError with what to do next.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RsclipError } from '../../errors.js';
import { hidePassword } from '../../url-password.js';

export interface HubFile {
  path: string;
  size: number;
  /** sha256 of the content (the LFS oid), for files stored in LFS. */
  sha256?: string;
  /** git blob sha1 of the content, for files stored in git. */
  gitOid?: string;
}

export interface HubRepoListing {
  commit: string;
  files: HubFile[];
}

export interface HubClientOptions {
  /** Without credentials (see endpoint.ts). */
  endpoint: string;
  repoId: string;
  token?: string;
  /** `Basic ...` for credentials the endpoint URL carried; sent instead of the token, as `requests` does. */
  basicAuthorization?: string;
  signal?: AbortSignal;
  /** Whether the caller can take a local model directory instead (`--model <dir>`), so hints may offer it (default true). */
  offerLocalModel?: boolean;
}

/**
 * Answers that say "try again": rate limited, server errors, gateways (huggingface_hub's
 * http_backoff retries the same); any other 4xx is final at once.
 */
const TRANSIENT_STATUSES = new Set([429, 500, 502, 503, 504]);
/** Failures of a request that never got an answer and may be sent again. */
const RESET_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);
/** Attempts of one request in all, after transient answers or resets. */
export const REQUEST_ATTEMPTS = 5;
/** The first wait before trying again; it doubles each time (1, 2, 4, 8 s, as huggingface_hub waits). */
export const RETRY_BASE_MS = 1000;
/** The longest wait between attempts: 8 s of backoff, a server's Retry-After up to a minute. */
const MAX_BACKOFF_MS = 8000;
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long to wait before attempt `attempt + 1`: the server's Retry-After (seconds or an HTTP
 * date) when it gives one, else the backoff; undefined when the server asks for more than
 * `MAX_RETRY_AFTER_MS` (not worth holding the command for).
 */
export function retryWaitMs(retryAfter: string | null, attempt: number, baseMs = RETRY_BASE_MS, now = Date.now()): number | undefined {
  const backoff = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (attempt - 1));
  const value = retryAfter?.trim();
  if (!value) return backoff;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (Number.isNaN(ms)) return backoff;
  if (ms > MAX_RETRY_AFTER_MS) return undefined;
  return Math.max(0, ms);
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET']);
const CERTIFICATE_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/** The innermost error of a `fetch` failure (undici's TypeError "fetch failed" hides it in `cause`) and the innermost code on the way. */
function innermost(error: unknown): { code: string | undefined; message: string } {
  let code: string | undefined;
  let message = error instanceof Error ? error.message : String(error);
  for (let e: unknown = error; e instanceof Error; e = e instanceof AggregateError && e.errors.length > 0 ? e.errors[0] : e.cause) {
    code = (e as NodeJS.ErrnoException).code ?? code;
    if (e.message) message = e.message;
  }
  return { code, message };
}

/**
 * Turns a failed `fetch` (no HTTP answer at all) into an error that names its cause: OFFLINE for
 * the network, an untrusted certificate with what to do about it, anything else (a redirect loop,
 * a port fetch blocks) with undici's words for it; an abort becomes INTERRUPTED.
 */
export function requestFailure(error: unknown, endpoint: string, signal?: AbortSignal, offerLocalModel = true): RsclipError {
  if (error instanceof RsclipError) return error;
  const wayOut = offerLocalModel ? 'check the network, set HF_ENDPOINT to a reachable mirror, or pass --model <local model dir>' : 'check the network, or set HF_ENDPOINT to a reachable mirror';
  if (signal?.aborted) return new RsclipError('INTERRUPTED', 'model fetch cancelled', { cause: error });
  const { code, message } = innermost(error);
  const outer = (error as Error).message;
  const detail = hidePassword(message === outer ? outer : `${outer}: ${message}`);
  const where = hidePassword(endpoint);
  if (code && NETWORK_CODES.has(code)) {
    return new RsclipError('OFFLINE', `cannot reach the Hugging Face Hub at ${where} (${code}): ${detail}`, {
      cause: error,
      hint: wayOut,
    });
  }
  if (code && CERTIFICATE_CODE.test(code)) {
    return new RsclipError('MODEL_FETCH_FAILED', `the TLS certificate of ${where} is not trusted (${code}): ${detail}`, {
      cause: error,
      hint:
        code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? 'the certificate is for another host name: use that name in HF_ENDPOINT'
          : "a mirror signed by a private or corporate authority needs it trusted: set NODE_EXTRA_CA_CERTS to the authority's certificate (PEM file) and run again",
    });
  }
  return new RsclipError('MODEL_FETCH_FAILED', `cannot reach the Hugging Face Hub at ${where}${code ? ` (${code})` : ''}: ${detail}`, {
    cause: error,
    hint: /bad port/.test(message)
      ? 'fetch refuses this port (it is kept for another protocol, as browsers keep it): serve the mirror on another port and set HF_ENDPOINT to it'
      : /redirect/.test(message)
        ? 'the endpoint redirects in a loop: check HF_ENDPOINT'
        : wayOut,
  });
}

/** Maps an HTTP error answer to an RsclipError naming the repo, revision or file. */
export function httpFailure(response: Response, what: { repoId: string; revision: string; file?: string; authorization?: 'token' | 'basic' }): RsclipError {
  const status = response.status;
  const hubCode = response.headers.get('x-error-code');
  const target = what.file ? `${what.file} in ${what.repoId}@${what.revision}` : `${what.repoId}@${what.revision}`;
  if (hubCode === 'RepoNotFound' || (status === 404 && !what.file && hubCode !== 'RevisionNotFound')) {
    return new RsclipError('MODEL_NOT_FOUND', `model repository ${what.repoId} not found on the Hub (HTTP ${status})`, {
      hint: 'check the repository id (owner/name); private or gated repositories need HF_TOKEN',
    });
  }
  if (hubCode === 'RevisionNotFound') {
    return new RsclipError('MODEL_NOT_FOUND', `revision ${what.revision} not found in ${what.repoId} (HTTP ${status})`, {
      hint: 'pass an existing branch, tag or commit with --revision',
    });
  }
  if (status === 401 || status === 403) {
    const sent = what.authorization === 'token' ? ': the token in HF_TOKEN was refused' : what.authorization === 'basic' ? ": the user and password in HF_ENDPOINT were refused" : '';
    return new RsclipError('MODEL_FETCH_FAILED', `access to ${target} denied (HTTP ${status})${sent}`, {
      hint:
        what.authorization === 'token'
          ? 'check that HF_TOKEN is a current token with read access, and that you accepted the terms of a gated repository on its Hub page'
          : what.authorization === 'basic'
            ? 'check the user and password in HF_ENDPOINT'
            : 'set HF_TOKEN to a Hugging Face token that can read this repository (gated or private)',
    });
  }
  if (status === 404) {
    return new RsclipError('MODEL_FETCH_FAILED', `${target} not found (HTTP 404) although the repository listing names it`, {
      hint: 'the repository changed while fetching; run the fetch again',
    });
  }
  return new RsclipError('MODEL_FETCH_FAILED', `the Hub answered HTTP ${status} ${response.statusText} for ${target}`, {
    hint: 'try again later, or set HF_ENDPOINT to a mirror',
  });
}

export class HubClient {
  constructor(private readonly options: HubClientOptions) {}

  get aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const { basicAuthorization, token } = this.options;
    if (basicAuthorization) return { authorization: basicAuthorization, ...extra };
    return token ? { authorization: `Bearer ${token}`, ...extra } : extra;
  }

  /** `httpFailure`, told what authorization this client sent and how often the request was tried. */
  httpFailure(response: Response, what: { repoId: string; revision: string; file?: string }): RsclipError {
    const authorization = this.options.basicAuthorization ? 'basic' : this.options.token ? 'token' : undefined;
    const failure = httpFailure(response, { ...what, ...(authorization ? { authorization } : {}) });
    const tried = this.attemptsOf.get(response);
    if (!tried) return failure;
    if (tried.retryAfter !== undefined) {
      const wait = /^\d+$/.test(tried.retryAfter.trim()) ? `${tried.retryAfter.trim()} s` : `until ${tried.retryAfter.trim()}`;
      return new RsclipError(failure.code, `${failure.message}, asking to wait ${wait} (Retry-After) before trying again`, {
        hint: 'run the command again after that wait; downloads resume where they stopped',
      });
    }
    return new RsclipError(failure.code, `${failure.message} (tried ${tried.attempts} times)`, failure.hint ? { hint: failure.hint } : {});
  }

  /**
   * `fetch` with auth headers, tried again (`REQUEST_ATTEMPTS` in all) after a transient status or
   * a connection reset before any answer; network failures become OFFLINE. The answer after the
   * last attempt is returned as it is, for the caller's `httpFailure`.
   */
  async request(url: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
    const { signal } = this.options;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, { headers: this.headers(extraHeaders), redirect: 'follow', signal });
      } catch (error) {
        // a kept-alive connection the server had closed, or one dropped before the answer: the request never got one
        if (attempt < REQUEST_ATTEMPTS && !signal?.aborted && RESET_CODES.has(innermost(error).code ?? '')) {
          // at once the first time (the usual case: a stale kept-alive connection), then with the backoff
          await this.wait(attempt === 1 ? 0 : (retryWaitMs(null, attempt - 1) ?? 0));
          continue;
        }
        throw requestFailure(error, this.options.endpoint, signal, this.options.offerLocalModel);
      }
      if (!TRANSIENT_STATUSES.has(response.status)) return response;
      const wait = retryWaitMs(response.headers.get('retry-after'), attempt);
      if (attempt >= REQUEST_ATTEMPTS || wait === undefined) {
        this.attemptsOf.set(response, { attempts: attempt, ...(wait === undefined ? { retryAfter: response.headers.get('retry-after') ?? '' } : {}) });
        return response;
      }
      await response.body?.cancel();
      await this.wait(wait);
    }
  }

  /** How often a request was tried before the answer `httpFailure` reports. */
  private readonly attemptsOf = new WeakMap<Response, { attempts: number; retryAfter?: string }>();

  private async wait(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, this.options.signal ? { signal: this.options.signal } : {});
    } catch (error) {
      throw requestFailure(error, this.options.endpoint, this.options.signal, this.options.offerLocalModel);
    }
  }

  resolveUrl(commit: string, file: string): string {
    const encodedPath = file.split('/').map(encodeURIComponent).join('/');
    return `${this.options.endpoint}/${this.options.repoId}/resolve/${commit}/${encodedPath}`;
  }

  private async json(url: string, what: { repoId: string; revision: string }): Promise<{ body: unknown; response: Response }> {
    const response = await this.request(url, { accept: 'application/json' });
    if (!response.ok) {
      await response.body?.cancel();
      throw this.httpFailure(response, what);
    }
    try {
      return { body: await response.json(), response };
    } catch (cause) {
      throw new RsclipError('MODEL_FETCH_FAILED', `the Hub at ${this.options.endpoint} answered ${url} with something that is not JSON`, {
        cause,
        hint: 'check HF_ENDPOINT',
      });
    }
  }

  /** Resolves `revision` to a commit and lists every file of the repository at that commit. */
  async listRepository(revision: string): Promise<HubRepoListing> {
    const { endpoint, repoId } = this.options;
    const what = { repoId, revision };
    const info = (await this.json(`${endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`, what)).body as { sha?: unknown };
    if (typeof info?.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha)) {
      throw new RsclipError('MODEL_FETCH_FAILED', `the Hub gave no commit sha for ${repoId}@${revision}`, { hint: 'check HF_ENDPOINT' });
    }
    const commit = info.sha;
    const files: HubFile[] = [];
    let url: string | undefined = `${endpoint}/api/models/${repoId}/tree/${commit}?recursive=true&expand=false`;
    while (url) {
      const { body, response } = await this.json(url, what);
      if (!Array.isArray(body)) throw new RsclipError('MODEL_FETCH_FAILED', `the Hub's file listing of ${repoId} is not a list`, { hint: 'check HF_ENDPOINT' });
      for (const entry of body as { type?: string; path?: string; size?: number; oid?: string; lfs?: { oid?: string } }[]) {
        if (entry.type !== 'file' || typeof entry.path !== 'string') continue;
        files.push({
          path: entry.path,
          size: typeof entry.size === 'number' ? entry.size : -1,
          ...(entry.lfs?.oid ? { sha256: entry.lfs.oid } : entry.oid ? { gitOid: entry.oid } : {}),
        });
      }
      url = nextPage(response.headers.get('link'), endpoint);
    }
    return { commit, files };
  }
}

/** The `rel="next"` target of a Link header (the Hub paginates long listings). */
function nextPage(link: string | null, endpoint: string): string | undefined {
  const match = link?.match(/<([^>]+)>;\s*rel="next"/);
  if (!match) return undefined;
  return new URL(match[1]!, endpoint).toString();
}
