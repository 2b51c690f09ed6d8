/**
 * pgvector's HNSW index is built with the memory its graph needs: the setting asked for, the
 * retry where the server cannot give a parallel build that much shared memory (a stand-in
 * database), and, on this machine's PostgreSQL where installed, a build that pgvector no longer
 * says spilled to disk.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/store/postgres/database.js';
import { vectorIndexSql } from '../../src/store/postgres/schema.js';
import { BUILD_MEMORY_CAP_KB, buildMemoryKb, buildVectorIndex, graphBytesPerVector } from '../../src/store/postgres/vector-index-build.js';
import { postgresHasPgvector, startPostgres, type TestPostgres } from './postgres-server.js';

const SPEC = { schema: 'tiles', dim: 512, precision: 'halfvec' as const, m: 16, efConstruction: 200 };
const DEFAULT_KB = 64 * 1024;

/** A database of `vectors` vectors without the index whose CREATE INDEX fails first with `firstError` (a SQLSTATE); `statements` records what was run. */
function database(vectors: number, firstError?: string): Queryable & { statements: string[] } {
  const statements: string[] = [];
  let failed = false;
  const query = async (sql: string) => {
    statements.push(sql.startsWith('SELECT') ? 'SELECT' : sql);
    if (sql.startsWith('CREATE INDEX') && firstError && !failed) {
      failed = true;
      throw Object.assign(new Error('could not resize shared memory segment "/PostgreSQL.1" to 1610612736 bytes: No space left on device'), { code: firstError });
    }
    return { rows: [{ indexed: false, server_kb: String(DEFAULT_KB), n: String(vectors) }] };
  };
  return { statements, query } as unknown as Queryable & { statements: string[] };
}

describe('the HNSW build memory', () => {
  it('asks for the graph’s size where it exceeds the server’s setting, up to the cap; a higher setting is kept', () => {
    // 1,088 bytes plus 2 per dimension at M 16, half precision, a fifth added
    expect(graphBytesPerVector(SPEC)).toBe(Math.ceil((1088 + 1024) * 1.2));
    expect(graphBytesPerVector({ ...SPEC, dim: 3000, precision: 'vector', m: 32 })).toBe(Math.ceil((64 + 2048 + 12_000) * 1.2));
    expect(buildMemoryKb(10_000, SPEC, DEFAULT_KB)).toBe(DEFAULT_KB);
    expect(buildMemoryKb(500_000, SPEC, DEFAULT_KB)).toBe(Math.ceil((500_000 * 2535) / 1024));
    expect(buildMemoryKb(10_000_000, SPEC, DEFAULT_KB)).toBe(BUILD_MEMORY_CAP_KB);
    expect(buildMemoryKb(10_000_000, SPEC, 8 * BUILD_MEMORY_CAP_KB)).toBe(8 * BUILD_MEMORY_CAP_KB);
  });

  it('raises the setting in a savepoint, and builds again with the server’s own where shared memory runs out', async () => {
    const create = vectorIndexSql('tiles', 512, 'halfvec', 16, 200);
    const fits = database(500_000);
    await buildVectorIndex(fits, SPEC);
    expect(fits.statements).toEqual(['SELECT', 'SELECT', 'SAVEPOINT vector_index_build', "SET LOCAL maintenance_work_mem = '1237793kB'", create, 'RELEASE SAVEPOINT vector_index_build']);
    for (const code of ['53100', '53200']) {
      const short = database(500_000, code);
      await buildVectorIndex(short, SPEC);
      expect(short.statements.slice(2)).toEqual(['SAVEPOINT vector_index_build', "SET LOCAL maintenance_work_mem = '1237793kB'", create, 'ROLLBACK TO SAVEPOINT vector_index_build', create, 'RELEASE SAVEPOINT vector_index_build']);
    }
    // any other error is the caller's
    await expect(buildVectorIndex(database(500_000, '42P01'), SPEC)).rejects.toThrow(/shared memory/);
  });
});

describe.skipIf(!postgresHasPgvector)('the HNSW build on PostgreSQL [needs postgresql with pgvector]', () => {
  let server: TestPostgres;
  let client: pg.Client;
  const notices: string[] = [];
  const spec = { schema: 'tiles', dim: 64, precision: 'halfvec' as const, m: 16, efConstruction: 32 };

  beforeAll(async () => {
    // the server's smallest setting: 3,000 64-d vectors (about 3.4 MB of graph) do not fit it
    server = await startPostgres(['maintenance_work_mem=1MB']);
    client = new pg.Client(server.url);
    await client.connect();
    client.on('notice', (notice) => notices.push(notice.message ?? ''));
    await client.query('CREATE EXTENSION vector; CREATE SCHEMA tiles; CREATE TABLE tiles.vectors (item_id bigint PRIMARY KEY, embedding vector(64) NOT NULL)');
    await client.query('INSERT INTO tiles.vectors SELECT i, (SELECT array_agg(sin(i * 7.1 + d * 1.3))::vector(64) FROM generate_series(1, 64) d) FROM generate_series(1, 3000) i');
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  const spilled = () => notices.some((n) => n.includes('no longer fits into maintenance_work_mem'));

  it('builds the graph in memory, where the server’s setting alone spills it to disk', async () => {
    await client.query('BEGIN');
    await buildVectorIndex(client, spec);
    await client.query('COMMIT');
    expect(spilled()).toBe(false);
    expect((await client.query("SELECT to_regclass('tiles.vectors_hnsw') IS NOT NULL AS built")).rows[0].built).toBe(true);
    // the setting was the transaction's own
    expect((await client.query('SHOW maintenance_work_mem')).rows[0].maintenance_work_mem).toBe('1MB');
    // the same build with the server's setting: pgvector says the graph spilled
    await client.query('DROP INDEX tiles.vectors_hnsw');
    await client.query(vectorIndexSql('tiles', 64, 'halfvec', 16, 32));
    expect(spilled()).toBe(true);
  }, 60_000);
});
