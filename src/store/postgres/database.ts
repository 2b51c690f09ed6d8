/**
 * The `pg` connections of one index: a pool for reads, and for a writer one more connection
 * that holds the index's advisory lock (one writer at a time, on any machine; readers are never
 * blocked). Statements run in a transaction that sets the index's schema first (SET LOCAL:
 * nothing leaks into a pooled connection, and servers that multiplex sessions, such as
 * pglite-socket, keep a transaction's statements together); reads that need no transaction run
 * alone, or as one script, in one round trip where a transaction takes three.
 */
import type pg from 'pg';
import { RsclipError } from '../../errors.js';
import { databaseError, isTimeout } from './errors.js';
import type { PostgresLocation } from './location.js';

const INT8_OID = 20;
/** Connections of a store's read pool. */
const POOL_SIZE = 4;
/**
 * How long a read statement may go unanswered: a server gone in the middle of a query sends
 * nothing more. Writes have no such limit (an HNSW index build takes minutes); TCP keepalive,
 * from this idle time on, finds their connection dead in the end.
 */
const READ_TIMEOUT_MS = 120_000;
const KEEPALIVE_DELAY_MS = 10_000;

type PgModule = typeof pg;

export type Queryable = Pick<pg.ClientBase, 'query'>;

export class Database {
  private readonly pool: pg.Pool;
  /** The writer's connection holding the advisory lock. */
  private lockClient: pg.Client | undefined;
  /** Why that connection failed or ended, once it has. */
  private lockLost: Error | undefined;
  /** The parsers of the column types: bigint ids and counts are below 2^53, numbers, not strings. */
  private readonly types: { getTypeParser: typeof pg.types.getTypeParser };

  /** A handle on the index's database; `pg` is loaded here, so that commands that never use PostgreSQL do not load it. */
  static async connect(location: PostgresLocation, readTimeoutMs = READ_TIMEOUT_MS): Promise<Database> {
    const { default: driver } = await import('pg');
    return new Database(location, driver, readTimeoutMs);
  }

  private constructor(
    readonly location: PostgresLocation,
    private readonly driver: PgModule,
    /** READ_TIMEOUT_MS but in tests. */
    private readonly readTimeoutMs: number,
  ) {
    this.types = {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : driver.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
    };
    this.pool = new driver.Pool({ ...this.connectionConfig(), max: POOL_SIZE });
    // an idle connection the server dropped: the next query opens another
    this.pool.on('error', () => undefined);
  }

  private connectionConfig(): pg.ClientConfig {
    // a server that never answers (its host gone, a firewall dropping packets) fails a command or a
    // request after the URL's connect_timeout, also while waiting for a pooled connection, instead of hanging it
    return { connectionString: this.location.connectionString, types: this.types, connectionTimeoutMillis: this.location.connectTimeoutMs, keepAlive: true, keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS };
  }

  /**
   * Takes the index's advisory lock on a connection of its own, or throws INDEX_LOCKED. Connected
   * to the server itself, the lock is the session's. Through a pooler (PgBouncer, Supavisor, RDS
   * Proxy: its BackendKeyData names a process other than the server's backend), the connection's
   * next statement may run in another server session, where a session's lock is not this
   * writer's and another client's is (a second writer's try would succeed there): the lock is
   * then a transaction's, in a transaction held open while the writer runs, which keeps one
   * server session for this connection in every pool mode.
   */
  async lockForWriting(): Promise<void> {
    const client = new this.driver.Client({ ...this.connectionConfig(), application_name: 'rsclip write lock' });
    const onLost = (error: Error): void => void (this.lockClient === client && (this.lockLost ??= error));
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('the server ended the connection')));
    try {
      await client.connect();
      const { rows: session } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const pooled = session[0]!.pid !== (client as pg.Client & { processID?: number }).processID;
      // one simple query, the schema a literal (a name of [a-z0-9_]): a statement of the extended protocol
      // would leave the open transaction holding a snapshot's xmin, which keeps VACUUM from every
      // row version that dies while the writer runs. A pooler's own limit on idle transactions
      // cannot be lifted here (PgBouncer's idle_transaction_timeout is off unless set)
      const key = `hashtextextended('rsclip index ${this.location.schema}', 0)`;
      const take = pooled ? 'BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0; SELECT pg_try_advisory_xact_lock' : 'SELECT pg_try_advisory_lock';
      const answers = (await client.query(`${take}(${key}) AS locked, pg_is_in_recovery() AS standby`)) as pg.QueryResult | pg.QueryResult[];
      const rows = (Array.isArray(answers) ? answers.at(-1)! : answers).rows as { locked: boolean; standby: boolean }[];
      // a hot standby grants advisory locks, but they hold nothing back on its primary, and it takes no
      // writes: say so before anything is scanned, embedded, repaired or copied
      if (rows[0]!.standby) {
        throw new RsclipError('INDEX_UNWRITABLE', `PostgreSQL at ${this.location.shown} is a read replica (a hot standby): an index is written, checked and copied on its primary server`, {
          hint: 'point rsclip index, doctor and index copy at the primary server; search, serve, export and errors may use replicas',
        });
      }
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

  /** Throws if the connection holding the write lock is gone: another writer may hold the lock now. */
  private checkLockHeld(): void {
    if (this.lockClient && this.lockLost) {
      throw new RsclipError('INDEX_UNAVAILABLE', `lost the connection holding the write lock of index ${this.location.shown} (${this.lockLost.message}); this change was not written`, {
        cause: this.lockLost,
        hint: 'what is committed is kept: run the command again once the server is back',
      });
    }
  }

  /**
   * Runs `body` in one transaction on a pooled connection (`settings`: SET LOCAL statements for
   * it); rolls back on any error. Errors of the database become RsclipErrors where they are the user's.
   */
  async transaction<T>(mode: 'read' | 'write', body: (client: Queryable) => Promise<T>, settings: string[] = []): Promise<T> {
    return this.onConnection(mode, true, async (statements) => {
      if (mode === 'write') this.checkLockHeld();
      // a writer's statements are its own bounded work (a commit, an HNSW build that takes minutes at a
      // million items): a statement_timeout set for the database or the role would cut them, and the run, short
      const begin = mode === 'read' ? ['BEGIN READ ONLY'] : ['BEGIN', 'SET LOCAL statement_timeout = 0'];
      await statements.query([...begin, `SET LOCAL search_path TO "${this.location.schema}", public`, ...settings].join('; '));
      const result = await body(statements);
      // checked again before the commit: the lock may have gone while the body ran
      if (mode === 'write') this.checkLockHeld();
      await statements.query('COMMIT');
      return result;
    });
  }

  /**
   * One read statement on a pooled connection, outside a transaction: one round trip where a
   * transaction takes three. The connection's search_path is the server's default, so the SQL
   * names the index's tables with their schema.
   */
  async readStatement<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.onConnection('read', false, (statements) => statements.query<R>(text, values));
  }

  /**
   * Read statements whose values are all literals in their SQL, sent as one simple query: one
   * round trip where a transaction takes three. The server runs them as one implicit transaction
   * (a SET LOCAL among them holds for those after it, as in `transaction`) and ends it itself,
   * rolled back on an error, so the connection goes back to the pool clean. Answers the last
   * statement's rows.
   */
  async readScript<R extends pg.QueryResultRow>(statements: string[]): Promise<R[]> {
    return this.onConnection('read', false, async (client) => {
      const answers = (await client.query<R>([`SET LOCAL search_path TO "${this.location.schema}", public`, ...statements].join(';\n'))) as pg.QueryResult<R> | pg.QueryResult<R>[];
      return (Array.isArray(answers) ? answers.at(-1)! : answers).rows;
    });
  }

  private async onConnection<T>(mode: 'read' | 'write', inTransaction: boolean, body: (client: Queryable) => Promise<T>): Promise<T> {
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
    const statements: Queryable = mode === 'read' ? readStatements(client, this.readTimeoutMs) : client;
    try {
      return await body(statements);
    } catch (error) {
      failed = lost ?? error;
      // a broken connection cannot roll back (a ROLLBACK behind an unanswered statement would wait
      // for ever); the server rolls back a transaction whose connection is gone
      if (inTransaction && !isBrokenConnection(failed)) await client.query('ROLLBACK').catch(() => undefined);
      throw databaseError(this.location.shown, failed);
    } finally {
      client.off('error', onLostConnection);
      // a connection whose state is unknown (a broken socket, a statement unanswered) is not reused
      client.release(isBrokenConnection(failed) ? (failed as Error) : undefined);
    }
  }

  async close(): Promise<void> {
    const lock = this.lockClient;
    this.lockClient = undefined;
    // ending the connection releases the lock: a session's ends with it, and a pooler closes the
    // server session of a client that leaves in the middle of a transaction
    if (lock) await lock.end().catch(() => undefined);
    await this.pool.end();
  }
}

/** The client's statements, each failed once unanswered for `timeoutMs`. */
function readStatements(client: pg.PoolClient, timeoutMs: number): Queryable {
  // pg honours a statement's query_timeout; its types do not list it
  const query = (text: string, values?: unknown[]) => client.query({ text, values, query_timeout: timeoutMs } as pg.QueryConfig);
  return { query } as Queryable;
}

function isBrokenConnection(error: unknown): boolean {
  if (error === undefined || error instanceof RsclipError || !(error instanceof Error)) return false;
  const code = (error as { code?: string }).code ?? '';
  return code.startsWith('08') || code.startsWith('E') || isTimeout(error);
}
