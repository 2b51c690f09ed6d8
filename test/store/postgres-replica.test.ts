/**
 * A read replica of a PostgreSQL index, as a user scales reads out: a hot standby made with
 * `pg_basebackup -R` from a server that `rsclip index` writes. `search`, `serve`, `export` and `errors`
 * read from it;
 * `serve` on it sees what the primary commits later, once replayed; `rsclip index` into it,
 * `doctor` on it and `index copy --from` it are refused in one line that names the primary.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/postgres/database.js';
import { parsePostgresLocation } from '../../src/store/postgres/location.js';
import { followServe, runCli, spawnCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { postgresHasPgvector, startPostgres, startReplica, type TestPostgres } from './postgres-server.js';

let root: string;
let archive: string;
let modelDir: string;
let primary: TestPostgres;
let replica: TestPostgres;

function addImages(folder: string, seeds: number[]): void {
  mkdirSync(path.join(archive, folder), { recursive: true });
  for (const seed of seeds) writeFileSync(path.join(archive, folder, `scene-${seed}.png`), makePng(100 + seed, 40, 40));
}

/** Runs `body` with a client of the server at `url`. */
async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const { Client } = (await import('pg')).default;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** Waits until `standby` has replayed everything the primary had written when this was called. */
async function replayed(standby: TestPostgres = replica): Promise<void> {
  const { rows } = await withClient(primary.url, (client) => client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'));
  await withClient(standby.url, async (client) => {
    const caughtUp = async () => (await client.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [rows[0]!.lsn])).rows[0]!.done;
    await expect.poll(caughtUp, { timeout: 30_000, interval: 100 }).toBe(true);
  });
}

const searchHits = async (index: string) => {
  const result = await runCli(['search', path.join(archive, 'a', 'scene-1.png'), '--index', index, '-k', '3', '--json', '--threads', '1']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { hits: { path: string; id: number; score: number }[] }).hits;
};

describe.skipIf(!postgresHasPgvector)('a read replica of a PostgreSQL index [needs postgresql with pgvector]', () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-pg-replica-'));
    archive = path.join(root, 'archive');
    addImages('a', [0, 1, 2, 3]);
    modelDir = await tinyModelDir();
    primary = await startPostgres();
    replica = await startReplica(primary);
  }, 180_000);
  afterAll(async () => {
    await replica?.stop();
    await primary?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('searches and serves from the replica, sees later commits of the primary, and refuses to index into it, repair it or copy from it', async () => {
    const onPrimary = `${primary.url}?schema=replicated`;
    const onReplica = `${replica.url}?schema=replicated`;
    const indexed = await runCli(['index', archive, '--index', onPrimary, '--model', modelDir, '--threads', '1']);
    expect(indexed.code, indexed.stderr).toBe(0);
    await replayed();

    const fromPrimary = await searchHits(onPrimary);
    expect(fromPrimary.map((h) => h.path)).toContain('a/scene-1.png');
    expect(await searchHits(onReplica)).toEqual(fromPrimary);

    const serve = spawnCli(['serve', '--index', onReplica, '--model', modelDir, '--port', '0', '--threads', '1']);
    const { url: listening, stderr } = followServe(serve);
    try {
      const url = await listening;
      await expect.poll(async () => (await fetch(`${url}readyz`)).status, { timeout: 30_000, interval: 200 }).toBe(200);
      const items = async () => ((await (await fetch(`${url}api/stats`)).json()) as { index: { items: number } }).index.items;
      const paths = async () => ((await (await fetch(`${url}api/search?q=scene&k=10`)).json()) as { hits: { path: string }[] }).hits.map((h) => h.path).sort();
      expect(await items()).toBe(4);

      // the primary indexes two more images; the server on the replica answers with them once replayed
      addImages('b', [4, 5]);
      const more = await runCli(['index', archive, '--index', onPrimary, '--threads', '1', '--json']);
      expect(more.code, more.stderr).toBe(0);
      expect(JSON.parse(more.stdout)).toMatchObject({ embedded: 2 });
      await replayed();
      await expect.poll(items, { timeout: 10_000, interval: 100 }).toBe(6);
      expect(await paths()).toEqual(['a/scene-0.png', 'a/scene-1.png', 'a/scene-2.png', 'a/scene-3.png', 'b/scene-4.png', 'b/scene-5.png']);
    } finally {
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
    }
    expect(stderr()).not.toMatch(/"level":(50|60)/);

    // `errors` and `export` only read
    const errors = await runCli(['errors', '--index', onReplica, '--json']);
    expect(errors.code, errors.stderr).toBe(0);
    expect(JSON.parse(errors.stdout)).toEqual([]);
    const csv = path.join(root, 'items.csv');
    const exported = await runCli(['export', '--index', onReplica, '--format', 'csv', '-o', csv]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readFileSync(csv, 'utf8').trim().split('\n')).toHaveLength(1 + 6);

    // indexing into the replica, checking it (doctor repairs) or copying from it stops at once in one
    // line that names the way out: not at the first commit, after a batch was embedded for nothing;
    // nor with a copy whose source the primary's writer changed meanwhile (a replica cannot hold it back)
    addImages('c', [6]);
    const refusal = /^rsclip: PostgreSQL at \S+ is a read replica \(a hot standby\): an index is written, checked and copied on its primary server \(point rsclip index, doctor and index copy at the primary server; .*\)$/;
    for (const args of [['index', archive, '--index', onReplica, '--threads', '1'], ['doctor', '--index', onReplica]]) {
      const refused = await runCli(args);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr.trim()).toMatch(refusal);
    }
    const copyDir = path.join(root, 'copied');
    const copy = await runCli(['index', 'copy', '--from', onReplica, '--to', copyDir]);
    expect(copy.code).not.toBe(0);
    expect(copy.stderr.trim()).toMatch(refusal);
    expect(existsSync(path.join(copyDir, 'catalog.sqlite'))).toBe(false);
    expect(await searchHits(onReplica)).toEqual(await searchHits(onPrimary));
  });

  it('names a read that a replica cancelled to replay its primary (a conflict with recovery) as a temporary error, with what avoids it', async () => {
    const strict = await startReplica(primary, ['max_standby_streaming_delay=0']);
    const database = await Database.connect(parsePostgresLocation(strict.url));
    try {
      await withClient(primary.url, (client) => client.query('CREATE TABLE replayed_rows AS SELECT n FROM generate_series(1, 1000) AS n'));
      await replayed(strict);
      const read = database.readStatement('SELECT pg_sleep(5), count(*) FROM public.replayed_rows', []);
      read.catch(() => undefined);
      const running = () => withClient(strict.url, async (client) => (await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%'")).rows[0].n as number);
      await expect.poll(running, { timeout: 5_000, interval: 50 }).toBe(1);
      // the rows the read's snapshot still sees are removed on the primary; replaying that cancels it
      await withClient(primary.url, async (client) => {
        await client.query('DELETE FROM replayed_rows');
        await client.query('VACUUM replayed_rows');
      });
      await expect(read).rejects.toMatchObject({
        code: 'INDEX_UNAVAILABLE',
        message: expect.stringMatching(/, a read replica, cancelled this read to replay its primary's changes: canceling statement due to conflict with recovery$/),
        hint: expect.stringContaining('hot_standby_feedback = on'),
      });
    } finally {
      await database.close();
      await strict.stop();
    }
  });
});
