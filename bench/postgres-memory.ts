/**
 * pgvector builds the HNSW graph in memory while it fits maintenance_work_mem (64 MB by default:
 * about 95,000 64-d items at M 16) and inserts the rest one by one on disk, many times slower.
 * The graph takes about 560 bytes per item plus 2 per dimension; a quarter more is given. PGlite
 * is one session, shared by every client of the socket, so a SET from this client holds for the
 * copy's CREATE INDEX too; the local server's other sessions take the database's setting.
 */
import pg from 'pg';

export async function fitGraphInMemory(serverUrl: string, kind: 'pglite' | 'local', items: number, dim: number): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const memory = `'${Math.max(64, Math.ceil((items * (560 + 2 * dim) * 1.25) / 2 ** 20))}MB'`;
    await client.query(kind === 'pglite' ? `SET maintenance_work_mem = ${memory}` : `ALTER DATABASE ${client.escapeIdentifier(client.database!)} SET maintenance_work_mem = ${memory}`);
  } finally {
    await client.end();
  }
}
