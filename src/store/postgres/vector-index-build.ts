/**
 * Builds pgvector's HNSW index with the memory its graph needs. pgvector builds the graph in
 * memory while it fits maintenance_work_mem (PostgreSQL's default, 64 MB, holds about 37,000
 * 512-d vectors at M 16) and inserts the rest one by one on disk, many times slower. The build
 * raises the setting for its own transaction to the graph's estimated size, at most
 * BUILD_MEMORY_CAP_KB, where the server's is lower; a higher setting of the server is kept.
 *
 * A parallel build (pgvector's default: 2 maintenance workers) allocates that much shared memory
 * at its start; a server that cannot (in a container, /dev/shm is 64 MB unless raised: "could not
 * resize shared memory segment") fails at once, and the build runs again with the server's own
 * setting, as it did before it was raised.
 */
import type { Queryable } from './database.js';
import { pgvectorGraphParameters, q, vectorIndexName, vectorIndexSql, type IndexPrecision } from './schema.js';

/** The most a build asks for unless the server's own setting is higher: 1M 512-d vectors at M 16 (about 1.8 GB) fit. */
export const BUILD_MEMORY_CAP_KB = 2 * 1024 * 1024;

/** PostgreSQL's errors for shared memory it could not get: disk_full (ENOSPC on /dev/shm), out_of_memory. */
const SHARED_MEMORY_ERRORS = new Set(['53100', '53200']);

export interface VectorIndexSpec {
  schema: string;
  dim: number;
  precision: IndexPrecision;
  /** The engine's M and ef_construction (brought within pgvector's bounds by the build). */
  m: number;
  efConstruction: number;
}

/**
 * What the in-memory graph takes per vector, a fifth added: its neighbour lists, header and vector
 * in the index's precision. pgvector 0.8.0 at M 16, half precision, measured by where it said the
 * graph no longer fit: about 1,140 bytes at 64-d, 1,820 at 512-d.
 */
export function graphBytesPerVector(spec: Pick<VectorIndexSpec, 'dim' | 'precision' | 'm'>): number {
  const { m } = pgvectorGraphParameters(spec.m, 2 * spec.m);
  const bytesPerDim = spec.precision === 'halfvec' ? 2 : 4;
  return Math.ceil((64 + 64 * m + bytesPerDim * spec.dim) * 1.2);
}

/** The maintenance_work_mem (kB) a build of `vectors` vectors asks for, given the server's setting (kB). */
export function buildMemoryKb(vectors: number, spec: VectorIndexSpec, serverKb: number): number {
  const graphKb = Math.ceil((vectors * graphBytesPerVector(spec)) / 1024);
  return Math.max(serverKb, Math.min(graphKb, BUILD_MEMORY_CAP_KB));
}

/** Creates the index if it is missing (a catalog lookup when it exists), in `db`'s transaction. */
export async function buildVectorIndex(db: Queryable, spec: VectorIndexSpec): Promise<void> {
  const createSql = vectorIndexSql(spec.schema, spec.dim, spec.precision, spec.m, spec.efConstruction);
  const { rows } = await db.query<{ indexed: boolean; server_kb: string }>(
    "SELECT to_regclass($1) IS NOT NULL AS indexed, (SELECT setting FROM pg_settings WHERE name = 'maintenance_work_mem') AS server_kb",
    [vectorIndexName(spec.schema)],
  );
  if (rows[0]!.indexed) return;
  const serverKb = Number(rows[0]!.server_kb);
  const vectors = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${q(spec.schema)}.vectors`)).rows[0]!.n);
  const memoryKb = buildMemoryKb(vectors, spec, serverKb);
  if (memoryKb === serverKb) {
    await db.query(createSql);
    return;
  }
  await db.query('SAVEPOINT vector_index_build');
  try {
    await db.query(`SET LOCAL maintenance_work_mem = '${memoryKb}kB'`);
    await db.query(createSql);
  } catch (error) {
    if (!SHARED_MEMORY_ERRORS.has((error as { code?: string }).code ?? '')) throw error;
    // the rollback takes the raised setting back too
    await db.query('ROLLBACK TO SAVEPOINT vector_index_build');
    await db.query(createSql);
  }
  await db.query('RELEASE SAVEPOINT vector_index_build');
}
