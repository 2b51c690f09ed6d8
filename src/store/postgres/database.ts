/**
 * The `pg` connections of one index: a pool for reads, and for a writer one more connection
 * that holds the index's advisory lock (one writer at a time, on any machine; readers are never
 * blocked). Every statement runs in a transaction that sets the index's schema first (SET LOCAL:
 * nothing leaks into a pooled connection, and servers that multiplex sessions, such as
 * pglite-socket, keep a transaction's statements together).
 */
import type pg from 'pg';
import { RsclipError } from '../../errors.js';
import { databaseError } from './errors.js';
import type { PostgresLocation } from './location.js';

const INT8_OID = 20;
/** Connections of a store's read pool. */
const POOL_SIZE = 4;

type PgModule = typeof pg;

export type Queryable = Pick<pg.ClientBase, 'query'>;

export class Database {
  private readonly pool: pg.Pool;
  /** The writer's connection holding the advisory lock. */
  private lockClient: pg.Client | undefined;
  /** The parsers of the column types: bigint ids and counts are below 2^53, numbers, not strings. */
  private readonly types: { getTypeParser: typeof pg.types.getTypeParser };

  /** A handle on the index's database; `pg` is loaded here, so that commands that never use PostgreSQL do not load it. */
  static async connect(location: PostgresLocation): Promise<Database> {
    const { default: driver } = await import('pg');
    return new Database(location, driver);
  }

  private constructor(
    readonly location: PostgresLocation,
    private readonly driver: PgModule,
  ) {
    this.types = {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : driver.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
    };
    this.pool = new driver.Pool({ connectionString: location.connectionString, max: POOL_SIZE, types: this.types });
    // an idle connection the server dropped: the next query opens another
    this.pool.on('error', () => undefined);
  }

  /** Takes the index's advisory lock on a connection of its own, or throws INDEX_LOCKED. */
  async lockForWriting(): Promise<void> {
    const client = new this.driver.Client({ connectionString: this.location.connectionString, types: this.types });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtextextended('rsclip index ' || $1, 0)) AS locked", [this.location.schema]);
      if (!rows[0]!.locked) {
        throw new RsclipError('INDEX_LOCKED', `index ${this.location.shown} is being written by another process`, {
          hint: 'wait for the other `rsclip index` to finish; readers (search, serve) are not blocked',
        });
      }
      this.lockClient = client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw databaseError(this.location.shown, error);
    }
  }

  /**
   * Runs `body` in one transaction on a pooled connection (`settings`: SET LOCAL statements for
   * it); rolls back on any error. Errors of the database become RsclipErrors where they are the user's.
   */
  async transaction<T>(mode: 'read' | 'write', body: (client: Queryable) => Promise<T>, settings: string[] = []): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw databaseError(this.location.shown, error);
    }
    let failed: unknown;
    // a checked-out connection's socket error (the server went away between two statements) is
    // not the pool's to handle: unheard, it would end the process. The next statement then fails
    // with pg's "not queryable", which says less than the socket's error
    let lost: Error | undefined;
    const onLostConnection = (error: Error): void => void (lost ??= error);
    client.on('error', onLostConnection);
    try {
      await client.query([`BEGIN${mode === 'read' ? ' READ ONLY' : ''}`, `SET LOCAL search_path TO "${this.location.schema}", public`, ...settings].join('; '));
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failed = lost ?? error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw databaseError(this.location.shown, failed);
    } finally {
      client.off('error', onLostConnection);
      // a connection whose state is unknown (a broken socket) is not reused
      client.release(failed !== undefined && !(failed instanceof RsclipError) && isConnectionError(failed) ? (failed as Error) : undefined);
    }
  }

  async close(): Promise<void> {
    const lock = this.lockClient;
    this.lockClient = undefined;
    if (lock) await lock.end().catch(() => undefined);
    await this.pool.end();
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  return code.startsWith('08') || code.startsWith('E');
}
