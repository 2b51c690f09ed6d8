/**
 * How `fetchModel` talks about the endpoint and the token: credentials in HF_ENDPOINT, network
 * failures that are not the network (an untrusted certificate, a redirect loop), a token that
 * cannot be sent, a token the Hub refuses, and endpoints that are not URLs.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel, type FetchModelOptions } from '../../../src/model/hub/index.js';
import { DEFAULT_ENDPOINT, parseEndpoint } from '../../../src/model/hub/endpoint.js';
import { hasOpenssl, makeCertificates } from '../../fixtures/certificates.js';
import { startHubServer, type HubServer } from '../../fixtures/hub-server.js';
import { buildTinyHubRepos } from './hub-repos.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return String((server.address() as AddressInfo).port);
}

describe('fetchModel: endpoint, token and request failures', () => {
  let hub: HubServer;
  let work: string;
  let onnxFiles: Record<string, Uint8Array>;
  let caches = 0;
  const servers: Server[] = [];
  const fetchFrom = (repoId: string, options: FetchModelOptions): ReturnType<typeof fetchModel> =>
    fetchModel({ repoId, cacheDir: path.join(work, `cache-${++caches}`), token: '', ...options });
  const failureOf = (promise: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> =>
    promise.then(
      () => {
        throw new Error('expected a failure');
      },
      (error: unknown) => error as { code: string; message: string; hint?: string },
    );

  beforeAll(async () => {
    hub = await startHubServer();
    work = await mkdtemp(path.join(tmpdir(), 'rsclip-hub-errors-'));
    ({ onnxFiles } = await buildTinyHubRepos(work));
  });
  afterAll(async () => {
    await hub.close();
    for (const server of servers) server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('sends a user and password in HF_ENDPOINT as basic auth and never shows the password', async () => {
    hub.addRepo({ id: 'tests/basic-auth', files: onnxFiles });
    const withCredentials = hub.endpoint.replace('http://', 'http://user:hunter2pass@');
    await expect(fetchFrom('tests/basic-auth', { endpoint: withCredentials })).resolves.toMatchObject({ fromCache: false });
    const asked = hub.requests.filter((r) => r.path.includes('tests/basic-auth') && !r.path.startsWith('/cdn/'));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.authorization === `Basic ${Buffer.from('user:hunter2pass').toString('base64')}`)).toBe(true);

    const refused = await failureOf(fetchFrom('tests/basic-auth', { endpoint: 'http://user:hunter2pass@127.0.0.1:1' }));
    expect(refused.message).not.toContain('hunter2pass');
    expect(refused.message).toContain('http://127.0.0.1:1');
    // port 1 is one that fetch refuses to use, and the message says so
    expect(refused).toMatchObject({ message: expect.stringContaining('fetch failed: bad port'), hint: expect.stringContaining('another port') });
  });

  it.skipIf(!hasOpenssl)('names an untrusted certificate and says to set NODE_EXTRA_CA_CERTS', async () => {
    const certificates = makeCertificates(path.join(work, 'certs'));
    const server = createHttpsServer({ cert: readFileSync(certificates.certFile), key: readFileSync(certificates.keyFile) }, (_req, res) => res.end('{}'));
    servers.push(server);
    const port = await listen(server);
    const failure = await failureOf(fetchFrom('tests/tls', { endpoint: `https://127.0.0.1:${port}` }));
    expect(failure.code).toBe('MODEL_FETCH_FAILED');
    expect(failure.message).toMatch(/certificate .*not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)\)/);
    expect(failure.hint).toContain('NODE_EXTRA_CA_CERTS');
  });

  it('names a redirect loop instead of "cannot reach"', async () => {
    const server = createHttpServer((req, res) => res.writeHead(302, { location: req.url ?? '/' }).end());
    servers.push(server);
    const port = await listen(server);
    const failure = await failureOf(fetchFrom('tests/loop', { endpoint: `http://127.0.0.1:${port}` }));
    expect(failure.code).toBe('MODEL_FETCH_FAILED');
    expect(failure.message).toMatch(/fetch failed: redirect count exceeded/);
  });

  it('refuses a token that cannot go in a header without showing it, and says a refused token was refused', async () => {
    hub.addRepo({ id: 'tests/bad-token', files: onnxFiles });
    const failure = await failureOf(fetchFrom('tests/bad-token', { endpoint: hub.endpoint, token: 'hf_abc\u0001def' }));
    expect(failure).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('HF_TOKEN') });
    expect(failure.message).not.toContain('hf_abc');
    // the line break a token file ends with is not part of the token
    hub.requireToken('tests/bad-token', 'hf_good');
    await expect(fetchFrom('tests/bad-token', { endpoint: hub.endpoint, token: 'hf_good\n' })).resolves.toMatchObject({ fromCache: false });
    const refused = await failureOf(fetchFrom('tests/bad-token', { endpoint: hub.endpoint, token: 'hf_expired' }));
    expect(refused.message).toContain('the token in HF_TOKEN was refused');
    expect(refused.message).not.toContain('hf_expired');
  });

  it('reads an empty HF_ENDPOINT as the default and refuses one without a scheme', async () => {
    expect(parseEndpoint('')).toEqual({ url: DEFAULT_ENDPOINT });
    expect(parseEndpoint('http://mirror.example:8080/hub/')).toEqual({ url: 'http://mirror.example:8080/hub' });
    const failure = await failureOf(fetchFrom('tests/no-scheme', { endpoint: '127.0.0.1:18080' }));
    expect(failure).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('http:// or https://') });
  });

  it('refuses repository ids and revisions the Hub refuses, before any request', async () => {
    const before = hub.requests.length;
    for (const repoId of ['a--b/c', 'a/b--c', 'a/..b', '-a/b', 'a/b.', 'a/b/c', 'a/b.git']) {
      await expect(fetchFrom(repoId, { endpoint: hub.endpoint })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('repository id') });
    }
    for (const revision of ['..', '.', '', 'a/../b', 'feature/.hidden', 'x.lock', 'a b', 'a@{1}']) {
      await expect(fetchFrom('tests/names', { endpoint: hub.endpoint, revision })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('--revision') });
    }
    expect(hub.requests.length).toBe(before);
    hub.addRepo({ id: 'tests/names', files: onnxFiles, branches: ['main', 'refs/pr/1', 'release/v1.0'] });
    await expect(fetchFrom('tests/names', { endpoint: hub.endpoint, revision: 'release/v1.0' })).resolves.toMatchObject({ fromCache: false });
  });
});
