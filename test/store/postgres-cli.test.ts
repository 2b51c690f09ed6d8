/**
 * The CLI on a PostgreSQL index, as a user runs it: `rsclip index` into a postgres:// URL,
 * `rsclip search` from it, `rsclip index copy` to a directory and back, and `rsclip doctor`,
 * against every PostgreSQL back end of backends.ts (PGlite with pgvector served on a loopback port
 * by this test process, and the servers where available); and, on PGlite, through TLS with a
 * client certificate.
 */
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makeCertificates, type TestCertificates } from '../fixtures/certificates.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { POSTGRES_BACKENDS } from './backends.js';
import { startPgliteServer, startTlsFront, type PgliteServer } from './pglite-server.js';

let root: string;
let archive: string;
let modelDir: string;
let server: PgliteServer;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-pg-cli-'));
  archive = path.join(root, 'archive');
  for (let i = 0; i < 6; i++) {
    const file = path.join(archive, i < 3 ? 'a' : 'b', `scene-${i}.png`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, makePng(100 + i, 40, 40));
  }
  modelDir = await tinyModelDir();
  server = await startPgliteServer();
}, 180_000);
afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const searchJson = async (file: string, index: string) => {
  const result = await runCli(['search', file, '--index', index, '-k', '3', '--json', '--threads', '1', '--filter', 'folder=b']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { hits: { path: string; id: number; score: number }[] }).hits;
};

describe.each(POSTGRES_BACKENDS)('$name', (backend) => {
  beforeAll(() => backend.start!());
  afterAll(() => backend.stop!());

  it('indexes into PostgreSQL, searches it, copies it to a directory and back, and checks it', async () => {
    const url = backend.newLocation().location;
    const indexed = await runCli(['index', archive, '--index', url, '--model', modelDir, '--threads', '1', '--json']);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(JSON.parse(indexed.stdout)).toMatchObject({ index: url });

    const file = path.join(archive, 'b', 'scene-4.png');
    const hits = await searchJson(file, url);
    expect(hits.map((h) => h.path)).toEqual(['b/scene-4.png', expect.stringMatching(/^b\//), expect.stringMatching(/^b\//)]);
    expect(hits[0]!.score).toBeCloseTo(1, 4);

    // an unchanged archive embeds nothing again
    const again = await runCli(['index', archive, '--index', url, '--threads', '1', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ embedded: 0 });

    const dir = path.join(root, `copied-${POSTGRES_BACKENDS.indexOf(backend)}`);
    const copied = await runCli(['index', 'copy', '--from', url, '--to', dir, '--engine', 'hnswlib:M24', '--json']);
    expect(copied.code, copied.stderr).toBe(0);
    expect(JSON.parse(copied.stdout)).toMatchObject({ resumed: false, rows: { files: 6, items: 6, vectors: 6 } });
    // the same hits; the scores to within half precision, at which a directory's catalog keeps vectors (PostgreSQL scores full-precision ones)
    expect(await searchJson(file, dir)).toEqual(hits.map((h) => ({ ...h, score: expect.closeTo(h.score, 3) })));
    const catalog = new Database(path.join(dir, 'catalog.sqlite'), { readonly: true });
    const engineMeta = catalog.prepare("SELECT key, value FROM meta WHERE key IN ('engine', 'hnsw_m', 'hnsw_ef_construction') ORDER BY key").all();
    catalog.close();
    expect(engineMeta).toEqual([{ key: 'engine', value: 'hnswlib' }, { key: 'hnsw_ef_construction', value: '200' }, { key: 'hnsw_m', value: '24' }]);
    const back = backend.newLocation().location;
    const returned = await runCli(['index', 'copy', '--from', dir, '--to', back]);
    expect(returned.code, returned.stderr).toBe(0);
    expect(returned.stdout).toMatch(/^copied .* 6 files, 6 items, 6 vectors/);
    expect((await searchJson(file, back)).map((h) => h.id)).toEqual(hits.map((h) => h.id));

    const doctor = await runCli(['doctor', '--index', back, '--json']);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true, repaired: [] });

    const copiedAgain = await runCli(['index', 'copy', '--from', dir, '--to', back]);
    expect(copiedAgain.code, copiedAgain.stderr).toBe(0);
    expect(copiedAgain.stdout).toMatch(/already holds the finished copy of .*: nothing left to copy/);
    expect(copiedAgain.stderr).not.toMatch(/building the vector graph/);
    const refused = await runCli(['index', 'copy', '--from', url, '--to', back]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/already holds an index/);
  }, 300_000);
});

it.skipIf(!hasOpenssl)('reaches a server that asks for TLS and a client certificate through the URL\'s sslmode, sslrootcert, sslcert and sslkey [needs openssl]', async () => {
  const certificates = makeCertificates(path.join(root, 'tls'));
  const stranger = makeCertificates(path.join(root, 'tls-stranger'), 'another authority');
  const front = await startTlsFront(server, certificates);
  const file = path.join(archive, 'b', 'scene-4.png');
  const trusting = `sslmode=verify-full&sslrootcert=${encodeURIComponent(certificates.caFile)}`;
  const showing = (client: TestCertificates) => `${trusting}&sslcert=${encodeURIComponent(client.clientCertFile)}&sslkey=${encodeURIComponent(client.clientKeyFile)}`;
  try {
    const url = `${front.url}?schema=tls&${showing(certificates)}`;
    const indexed = await runCli(['index', archive, '--index', url, '--model', modelDir, '--threads', '1', '--json']);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(JSON.parse(indexed.stdout)).toMatchObject({ added: 6, embedded: 6 });
    expect((await searchJson(file, url)).map((h) => h.path)).toEqual(['b/scene-4.png', expect.stringMatching(/^b\//), expect.stringMatching(/^b\//)]);

    // no certificate, one of another authority, no TLS at all: refused in one line that points at the URL's TLS settings
    const refusal = async (query: string) => {
      const refused = await runCli(['search', file, '--index', `${front.url}?schema=tls${query ? `&${query}` : ''}`, '--json']);
      expect(refused.code, query).not.toBe(0);
      expect(refused.stderr.trim().split('\n'), refused.stderr).toHaveLength(1);
      expect(refused.stderr).toMatch(/^rsclip: cannot use PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?schema=tls/);
      return refused.stderr;
    };
    for (const query of [trusting, showing(stranger), '']) expect(await refusal(query)).toMatch(/\(the server (refused the TLS connection|closed the connection): .*sslcert/);
    // a file that cannot be read, a certificate without its key: refused before connecting, naming the URL's parameter
    const missing = await runCli(['search', file, '--index', `${front.url}?${trusting}&sslcert=${encodeURIComponent(certificates.clientCertFile)}&sslkey=${encodeURIComponent(path.join(root, 'no-such.key'))}`]);
    expect(missing.stderr).toMatch(/^rsclip: cannot read the sslkey file ".*no-such\.key" of the index URL: ENOENT/);
    const alone = await runCli(['search', file, '--index', `${front.url}?${trusting}&sslcert=${encodeURIComponent(certificates.clientCertFile)}`]);
    expect(alone.stderr).toMatch(/^rsclip: a client certificate needs its key: give both sslcert and sslkey in the index URL/);
    for (const refused of [missing, alone]) expect([refused.code, refused.stderr.trim().split('\n').length]).toEqual([1, 1]);
    // the server's certificate checked against another authority
    expect(await refusal(`sslmode=verify-full&sslrootcert=${encodeURIComponent(stranger.caFile)}`)).toMatch(/certificate.*\(the server's certificate is not trusted: .*sslrootcert=/);
  } finally {
    await front.stop();
  }
}, 300_000);

it('never shows the password of an index URL that names no index (given or in a config file); the hint quotes the URL with PASSWORD to put back', async () => {
  // PGlite's server trusts every client: the password is sent to no one, and only the messages are at stake
  const url = server.url.replace('postgres@', 'postgres:Sek%3Ar3t@') + '?schema=nowhere';
  // a config file's "index" is a URL too, not a folder beside the file
  const config = path.join(root, 'pg-config.json');
  writeFileSync(config, JSON.stringify({ index: url }));
  const commands = [
    ['search', 'a river', '--index', url],
    ['eval', 'labels', '--index', url, '--labels-from-folders'],
    ['bench', '--index', url, '--model', modelDir],
    ['search', 'a river', '--config', config],
  ];
  for (const args of commands) {
    const result = await runCli(args);
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).not.toMatch(/Sek/);
    expect(result.stderr).toMatch(/no index at postgres:\/\/postgres:\*\*\*@/);
    expect(result.stderr).toContain(`--index '${url.replace('Sek%3Ar3t', 'PASSWORD')}'`);
  }
}, 120_000);
