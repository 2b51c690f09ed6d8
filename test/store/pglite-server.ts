/**
 * A PostgreSQL engine with pgvector for tests: PGlite (PostgreSQL compiled to WebAssembly) with
 * its pgvector extension, served over the PostgreSQL wire protocol by pglite-socket on a loopback
 * port, so the store reaches it through the same `pg` client code users point at a server.
 * PGlite is one session: pglite-socket multiplexes its clients onto it and keeps a transaction's
 * statements together (the store runs every statement in a transaction); session state (advisory
 * locks) is shared, so the write lock is tested against a real server only.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface PgliteServer {
  /** postgres:// URL of the server's one database. */
  url: string;
  stop(): Promise<void>;
}

/** `dataDir`: keep the database in that directory (kept after stop) instead of in memory. */
export async function startPgliteServer(dataDir?: string): Promise<PgliteServer> {
  const db = await PGlite.create({ dataDir, extensions: { vector } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 64 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
