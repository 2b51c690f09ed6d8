/**
 * Against a real PostgreSQL server (Debian's, started on a loopback port), what PGlite cannot
 * show: the write lock between two sessions (PGlite is one session that pglite-socket shares),
 * freed when a writer's connection dies; a database's statement_timeout, which a writer's
 * commits and HNSW build must outlast. And a server without pgvector, which `rsclip index` must
 * name in one line, leaving nothing behind, where it failed with an internal error and a stack
 * trace: this server where it lacks pgvector (Debian 12 packages none), otherwise PGlite without
 * its pgvector (the error is PostgreSQL's own either way).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/postgres/database.js';
import { parsePostgresLocation } from '../../src/store/postgres/location.js';
import { readPostgresMeta } from '../../src/store/postgres/open.js';
import { openIndex } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { MODEL, newFile } from './backends.js';
import { startPgliteServer } from './pglite-server.js';
import { postgresBin, startPostgres, type TestPostgres } from './postgres-server.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-postgres-server-'));

describe.skipIf(!postgresBin)('a real PostgreSQL server [needs postgresql]', () => {
  let server: TestPostgres;
  let admin: pg.Client;
  beforeAll(async () => {
    server = await startPostgres();
    admin = new pg.Client(server.url);
    await admin.connect();
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const indexUrl = (schema: string): string => `${server.url}?schema=${schema}`;

  it('lets one writer of an index in at a time, other indexes and readers meanwhile, and frees the lock of a writer whose connection died', async () => {
    const first = await Database.connect(parsePostgresLocation(indexUrl('survey')));
    const second = await Database.connect(parsePostgresLocation(indexUrl('survey')));
    const other = await Database.connect(parsePostgresLocation(indexUrl('other')));
    try {
      await first.lockForWriting();
      await expectRsclipError(second.lockForWriting(), 'INDEX_LOCKED', /is being written by another process/);
      await other.lockForWriting();
      // a reader is not held back (there is no index yet: it says so)
      expect(await readPostgresMeta(indexUrl('survey'))).toBeUndefined();
      // the first writer's process is killed: the server ends its session, and the lock with it
      const holders = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('rsclip index survey', 0)",
      );
      expect(holders.rows).toHaveLength(1);
      await admin.query('SELECT pg_terminate_backend($1)', [holders.rows[0]!.pid]);
      let locked = false;
      for (let attempt = 0; attempt < 50 && !locked; attempt++) {
        try {
          await second.lockForWriting();
          locked = true;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      expect(locked).toBe(true);
    } finally {
      await Promise.all([first.close(), second.close(), other.close()]);
    }
  });

  it('answers INDEX_UNAVAILABLE while an open index\'s schema is renamed away (not an internal error), and as before once it is back', async () => {
    const writer = await openIndex(indexUrl('moving'), { model: MODEL, create: true });
    const vector = (i: number) => Float32Array.from({ length: MODEL.embeddingDim }, (_, j) => Math.cos(i * 3.1 + j));
    await writer.commit([0, 1, 2].map((i) => ({ kind: 'put' as const, file: newFile(`m${i}.jpg`), vector: vector(i) })));
    await writer.close();
    const reader = await openIndex(indexUrl('moving'), { readonly: true });
    try {
      expect((await reader.search(vector(1), 1))[0]!.id).toBe(2);
      await admin.query('ALTER SCHEMA moving RENAME TO moved_away');
      await expectRsclipError(reader.search(vector(1), 1), 'INDEX_UNAVAILABLE', /^the index at .* is gone from PostgreSQL: /);
      await expectRsclipError(reader.countItems({}), 'INDEX_UNAVAILABLE', /is gone from PostgreSQL/);
      await admin.query('ALTER SCHEMA moved_away RENAME TO moving');
      expect((await reader.search(vector(1), 1))[0]!.id).toBe(2);
    } finally {
      await reader.close();
    }
  });

  it("lets a writer's commits and HNSW build run past the database's statement_timeout, and names a read that it cut", async () => {
    await admin.query('CREATE DATABASE limited');
    await admin.query("ALTER DATABASE limited SET statement_timeout = '20ms'");
    const url = `${server.url.replace(/\/postgres$/, '/limited')}?schema=survey`;
    const dim = 256;
    const store = await openIndex(url, { model: { ...MODEL, embeddingDim: dim }, create: true });
    try {
      const vector = (i: number) => Float32Array.from({ length: dim }, (_, j) => Math.sin(i * 7.3 + j * 1.9));
      for (let i = 0; i < 4000; i += 1000) {
        await store.commit(Array.from({ length: 1000 }, (_, n) => ({ kind: 'put' as const, file: newFile(`img${i + n}.jpg`), vector: vector(i + n) })));
      }
      // the load into an empty index built pgvector's HNSW index at its end, in one statement
      await store.flush();
      expect((await store.search(vector(1234), 1))[0]!.id).toBe(1235);
    } finally {
      await store.close();
    }
    const database = await Database.connect(parsePostgresLocation(url));
    try {
      await expectRsclipError(database.readStatement('SELECT pg_sleep(1)', []), 'INDEX_UNAVAILABLE', /cancelled a read that ran longer than its statement_timeout: canceling statement due to statement timeout$/);
    } finally {
      await database.close();
    }
  });

  it('index copy into a database whose owner may not create pgvector says who must create it, as index does', async (context) => {
    const available = await admin.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
    // shown as skipped, not passed, on a server without pgvector (.ci/run installs it)
    if (available.rowCount === 0) context.skip('this PostgreSQL server has no pgvector to refuse creating');
    await admin.query('CREATE ROLE plain_owner LOGIN');
    await admin.query('CREATE DATABASE plain_db OWNER plain_owner');
    const source = path.join(work, 'copy-source');
    const writer = await openIndex(source, { model: MODEL, create: true });
    await writer.commit([{ kind: 'put', file: newFile('a.jpg'), vector: Float32Array.from({ length: MODEL.embeddingDim }, (_, j) => Math.sin(j)) }]);
    await writer.close();
    const target = `${server.url.replace(/\/\/postgres@(.*)\/postgres$/, '//plain_owner@$1/plain_db')}?schema=copied`;
    const copied = await runCli(['index', 'copy', '--from', source, '--to', target]);
    expect(copied.code).not.toBe(0);
    expect(copied.stderr).toMatch(/refused to create the pgvector extension: permission denied to create extension "vector"/);
    expect(copied.stderr).toMatch(/have the database owner \(or a superuser\) run `CREATE EXTENSION vector;` in this database once/);
  });

  it('on a server without pgvector, rsclip index names what is missing in one line and leaves no schema', async () => {
    const available = await admin.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
    const bare = available.rowCount! > 0 ? await startPgliteServer(undefined, 0, { pgvector: false }) : undefined;
    const client = bare ? new pg.Client(bare.url) : admin;
    if (bare) await client.connect();
    try {
      await expectMissingPgvectorNamed(bare?.url ?? server.url, client);
    } finally {
      if (bare) {
        await client.end();
        await bare.stop();
      }
    }
  });

  async function expectMissingPgvectorNamed(url: string, client: pg.Client): Promise<void> {
    const survey = `${url}?schema=survey`;
    const archive = path.join(work, 'archive');
    mkdirSync(archive);
    writeFileSync(path.join(archive, 'a.png'), makePng(1, 40, 32));
    const model = await tinyModelDir();
    const indexed = await runCli(['index', archive, '--index', survey, '--model', model, '--threads', '1']);
    expect(indexed.code).toBe(1);
    expect(indexed.stderr).toMatch(/^rsclip: PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?schema=survey lacks the pgvector extension: extension "vector" is not available \(install pgvector \(0\.8 or later\) on the database server/);
    expect(indexed.stderr.trim().split('\n')).toHaveLength(1);
    const schemas = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = 'survey'");
    expect(schemas.rowCount).toBe(0);
    const searched = await runCli(['search', 'a river', '--index', survey, '--model', model]);
    expect(searched.code).toBe(1);
    expect(searched.stderr).toMatch(/^rsclip: no index at postgres:\/\/.*\?schema=survey/);
  }
});
