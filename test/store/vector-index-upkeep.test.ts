/**
 * When a PostgreSQL writer drops pgvector's HNSW index for a bulk load (the rule, against a
 * stand-in database that reports the index's size and records the statements; the PostgreSQL
 * tests run the real thing on PGlite).
 */
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/store/postgres/database.js';
import { vectorIndexSql } from '../../src/store/postgres/schema.js';
import { VectorIndexUpkeep } from '../../src/store/postgres/vector-index-upkeep.js';

const SPEC = { schema: 'tiles', dim: 512, precision: 'halfvec' as const, m: 16, efConstruction: 200 };
const CREATE = vectorIndexSql('tiles', 512, 'halfvec', 16, 200);

/** A database whose index holds `vectors` vectors (and exists or not), with PostgreSQL's default maintenance_work_mem; `statements` records what was run. */
function database(vectors: number, indexed = true): Queryable & { statements: string[] } {
  const statements: string[] = [];
  const query = async (sql: string) => {
    statements.push(sql.startsWith('SELECT') ? 'SELECT' : sql);
    return { rows: [{ vectors: String(vectors), indexed, server_kb: '65536', n: String(vectors) }] };
  };
  return { statements, query } as unknown as Queryable & { statements: string[] };
}

/** The number of vectors committed, in this many commits of this size, at which the index was dropped (undefined: kept). */
async function droppedAfter(atStart: number, commits: number, size: number): Promise<number | undefined> {
  const db = database(atStart);
  const upkeep = new VectorIndexUpkeep(SPEC);
  for (let n = 1; n <= commits; n++) {
    await upkeep.beforeCommit(db, size);
    if (db.statements.includes('DROP INDEX IF EXISTS "tiles".vectors_hnsw')) {
      expect([upkeep.deferred, upkeep.droppedForBulkLoad]).toEqual([true, true]);
      return n * size;
    }
  }
  expect(upkeep.deferred).toBe(false);
  return undefined;
}

describe('VectorIndexUpkeep', () => {
  it('drops the index in the first commit into an empty index, or once a writer has added as many vectors as it held, at least 1,000, below 100,000 held', async () => {
    expect(await droppedAfter(0, 10, 100)).toBe(100);
    expect(await droppedAfter(0, 10, 1)).toBe(1);
    expect(await droppedAfter(1, 10, 100)).toBe(1000);
    expect(await droppedAfter(1, 10, 50)).toBeUndefined();
    expect(await droppedAfter(5000, 10, 1000)).toBe(5000);
    expect(await droppedAfter(99_999, 2, 99_999)).toBe(99_999);
    // an established index keeps its graph, whatever a run adds
    expect(await droppedAfter(100_000, 10, 100_000)).toBeUndefined();
  });

  it('a missing index is built at the end, once; the next commits count afresh', async () => {
    const db = database(5000, false);
    const upkeep = new VectorIndexUpkeep(SPEC);
    await upkeep.beforeCommit(db, 10);
    // found missing (a writer killed mid-load): built at the end, a repair
    expect([upkeep.deferred, upkeep.droppedForBulkLoad]).toEqual([true, false]);
    expect(db.statements).toEqual(['SELECT']);
    await upkeep.build(db);
    expect([upkeep.deferred, upkeep.droppedForBulkLoad]).toEqual([false, false]);
    // whether it exists, the vectors counted, then built (5,000 vectors fit the default 64 MB: no setting raised)
    expect(db.statements).toEqual(['SELECT', 'SELECT', 'SELECT', CREATE]);
    await upkeep.beforeCommit(db, 10);
    expect(db.statements).toEqual(['SELECT', 'SELECT', 'SELECT', CREATE, 'SELECT']);
  });
});
