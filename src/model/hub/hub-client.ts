/**
 * The few Hugging Face Hub endpoints a model fetch needs, over plain `fetch`:
 *   GET {endpoint}/api/models/{repo}/revision/{rev}        -> commit sha (+ siblings)
 *   GET {endpoint}/api/models/{repo}/tree/{sha}?recursive=true  -> paths, sizes, git/LFS oids
 *   GET {endpoint}/{repo}/resolve/{sha}/{path}              -> file bytes (302 to a CDN for LFS)
 * Every network or HTTP failure becomes an RsclipError with what to do next.
 */
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
export function requestFailure(error: unknown, endpoint: string, signal?: AbortSignal): RsclipError {
  if (error instanceof RsclipError) return error;
  if (signal?.aborted) return new RsclipError('INTERRUPTED', 'model fetch cancelled', { cause: error });
  const { code, message } = innermost(error);
  const outer = (error as Error).message;
  const detail = hidePassword(message === outer ? outer : `${outer}: ${message}`);
  const where = hidePassword(endpoint);
  if (code && NETWORK_CODES.has(code)) {
    return new RsclipError('OFFLINE', `cannot reach the Hugging Face Hub at ${where} (${code}): ${detail}`, {
      cause: error,
      hint: 'check the network, set HF_ENDPOINT to a reachable mirror, or pass --model <local model dir>',
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
        : 'check the network, set HF_ENDPOINT to a reachable mirror, or pass --model <local model dir>',
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

  /** `httpFailure`, told what authorization this client sent. */
  httpFailure(response: Response, what: { repoId: string; revision: string; file?: string }): RsclipError {
    const authorization = this.options.basicAuthorization ? 'basic' : this.options.token ? 'token' : undefined;
    return httpFailure(response, { ...what, ...(authorization ? { authorization } : {}) });
  }

  /** `fetch` with auth headers; network failures become OFFLINE. */
  async request(url: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
    try {
      return await fetch(url, { headers: this.headers(extraHeaders), redirect: 'follow', signal: this.options.signal });
    } catch (error) {
      throw requestFailure(error, this.options.endpoint, this.options.signal);
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
