/**
 * The index's write lock on a real server, reached directly and through PgBouncer in both of its
 * pool modes, as deployments with many clients reach PostgreSQL. In transaction pooling a
 * connection's statements may run in any server session, so a session's advisory lock taken
 * there was held by a pooled server session rather than by the writer: a second writer whose
 * try ran in that session got the lock as well. And the CLI, indexing and searching through
 * transaction pooling.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/postgres/database.js';
import { parsePostgresLocation } from '../../src/store/postgres/location.js';
import { runCli } from '../fixtures/cli.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { pgbouncerBin, postgresHasPgvector, startPgbouncer, startPostgres, type TestPostgres } from './postgres-server.js';

type Route = 'the server itself' | 'PgBouncer, transaction pooling' | 'PgBouncer, session pooling';
const ROUTES: Route[] = ['the server itself', 'PgBouncer, transaction pooling', 'PgBouncer, session pooling'];

describe.skipIf(!postgresHasPgvector || !pgbouncerBin)('the write lock through a connection pooler [needs postgresql with pgvector, pgbouncer]', () => {
  let server: TestPostgres;
  let bouncers: TestPostgres[];
  let admin: pg.Client;
  let root: string;
  const urls = new Map<Route, string>();
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-pg-pooler-'));
    server = await startPostgres();
    bouncers = await Promise.all([startPgbouncer(server, 'transaction'), startPgbouncer(server, 'session')]);
    urls.set('the server itself', server.url).set('PgBouncer, transaction pooling', bouncers[0]!.url).set('PgBouncer, session pooling', bouncers[1]!.url);
    admin = new pg.Client(server.url);
    await admin.connect();
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    for (const bouncer of bouncers ?? []) await bouncer.stop();
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** The server sessions holding the write lock of `schema`. */
  const holders = async (schema: string) =>
    (
      await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('rsclip index ' || $1, 0)",
        [schema],
      )
    ).rows.map((row) => row.pid);

  it.each(ROUTES)('through %s: one writer at a time, the lock freed when it closes, and no commit once its connection is gone', async (route) => {
    const schema = `lock_${ROUTES.indexOf(route)}`;
    const location = () => parsePostgresLocation(`${urls.get(route)!}?schema=${schema}`);
    const [first, second, third] = await Promise.all([Database.connect(location()), Database.connect(location()), Database.connect(location())]);
    const open = new Set([first, second, third]);
    const close = async (database: Database) => open.delete(database) && (await database.close());
    try {
      await first.lockForWriting();
      // the second writer's statements run in other server sessions of the pool, or in the first's
      for (let attempt = 0; attempt < 4; attempt++) await expectRsclipError(second.lockForWriting(), 'INDEX_LOCKED', /is being written by another process/);
      expect(await holders(schema)).toHaveLength(1);

      await close(first);
      await expect.poll(() => holders(schema), { timeout: 5_000, interval: 50 }).toEqual([]);
      await second.lockForWriting();
      await second.transaction('write', (db) => db.query('SELECT 1'));
      // the session holding the lock (idle in its transaction, through a pooler) keeps nothing from VACUUM
      const session = await admin.query('SELECT backend_xmin, backend_xid FROM pg_stat_activity WHERE pid = $1', [(await holders(schema))[0]]);
      expect(session.rows).toEqual([{ backend_xmin: null, backend_xid: null }]);

      // the server ends the lock's session: the writer commits nothing more, and the next one gets in
      await admin.query('SELECT pg_terminate_backend($1)', [(await holders(schema))[0]]);
      const tryWrite = () => second.transaction('write', (db) => db.query('SELECT 1')).then(() => 'written', (error: { code?: string }) => error.code);
      await expect.poll(tryWrite, { timeout: 5_000, interval: 50 }).toBe('INDEX_UNAVAILABLE');
      await expectRsclipError(second.transaction('write', (db) => db.query('SELECT 1')), 'INDEX_UNAVAILABLE', /^lost the connection holding the write lock of index .*; this change was not written$/);
      await third.lockForWriting();
    } finally {
      await Promise.all([...open].map(close));
    }
  });

  it('indexes and searches through transaction pooling with the CLI', async () => {
    const archive = path.join(root, 'archive');
    mkdirSync(archive);
    for (let i = 0; i < 4; i++) writeFileSync(path.join(archive, `scene-${i}.png`), makePng(300 + i, 40, 40));
    const index = `${urls.get('PgBouncer, transaction pooling')!}?schema=through_pooler`;
    const indexed = await runCli(['index', archive, '--index', index, '--model', await tinyModelDir(), '--threads', '1', '--json']);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(JSON.parse(indexed.stdout)).toMatchObject({ embedded: 4 });
    const searched = await runCli(['search', path.join(archive, 'scene-2.png'), '--index', index, '-k', '2', '--json', '--threads', '1']);
    expect(searched.code, searched.stderr).toBe(0);
    const hits = (JSON.parse(searched.stdout) as { hits: { path: string; score: number }[] }).hits;
    expect(hits).toHaveLength(2);
    expect(hits[0]).toMatchObject({ path: 'scene-2.png', score: expect.closeTo(1, 4) });
    expect(await holders('through_pooler')).toEqual([]);
  });
});
