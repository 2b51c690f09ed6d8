/**
 * PostgreSQL's errors as RsclipErrors: a server that cannot be reached, a read-only server (a
 * replica), an index whose tables are gone, a read cancelled by a replica's replay or by a
 * statement_timeout, missing rights, a full disk, spent item ids. Anything else is a bug and stays as it is.
 */
import { RsclipError } from '../../errors.js';
import { isTlsAlert, isUntrustedServerCertificate, tlsReason } from '../../tls.js';
import { ITEM_ID_LIMIT } from '../engines.js';

interface PgError {
  code?: string;
  message: string;
}

/**
 * SQLSTATEs of a server that is going down or not up yet (class 57, operator intervention): 57P01
 * admin_shutdown, 57P02 crash_shutdown (a backend crashed and the server restarts), 57P03
 * cannot_connect_now ("the database system is shutting down", "... is starting up").
 */
const SERVER_NOT_NOW = /^57P0[123]$/;

/** What to check when the connection failed: the TLS settings of the URL (libpq's), or the rest of it. */
function connectHint(code: string, dropped: boolean): string {
  if (isUntrustedServerCertificate(code)) return "the server's certificate is not trusted: name its authority's PEM file in the URL (sslrootcert=/path/to/ca.pem)";
  if (isTlsAlert(code)) return 'the server refused the TLS connection: if it asks for a client certificate, give one signed by an authority it trusts (sslcert=/path/to/client.pem&sslkey=/path/to/client.key)';
  if (SERVER_NOT_NOW.test(code)) return 'the server is shutting down, restarting or starting up: what is committed is kept: once it accepts connections again, run the same command again (rsclip serve answers again by itself)';
  if (dropped || code === 'ECONNRESET') return 'the server closed the connection: if it stopped or restarted, what is committed is kept: run the same command again once it is back; if it never let you in, check the URL, and if the server asks for TLS or a client certificate, its sslmode=verify-full, sslcert and sslkey';
  return 'check that the server runs and that the URL (user, password, host, port, database) is right';
}

/** pg's own errors of a server that did not answer in time (a connection, a pooled connection, a statement). */
export function isTimeout(error: Error): boolean {
  return /^(timeout expired|timeout exceeded when trying to connect|Query read timeout|Connection terminated due to connection timeout)$/.test(error.message);
}

export function databaseError(location: string, error: unknown): unknown {
  if (error instanceof RsclipError || !(error instanceof Error)) return error;
  const { code = '', message } = error as PgError;
  // pg's own errors of a connection the server ended (before or after the TLS handshake) carry no code
  const dropped = code === '' && /^Connection terminated unexpectedly|^The server does not support SSL connections/.test(message);
  if (isTimeout(error)) {
    return new RsclipError('INDEX_UNAVAILABLE', `PostgreSQL at ${location} did not answer: ${message}`, {
      cause: error,
      hint: 'check that the server runs and that this machine reaches it (a firewall that drops packets?); what is committed is kept',
    });
  }
  if (dropped || isUntrustedServerCertificate(code) || isTlsAlert(code) || /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH)$/.test(code) || code.startsWith('08') || SERVER_NOT_NOW.test(code) || code === '28P01' || code === '3D000') {
    return new RsclipError('INDEX_UNAVAILABLE', `cannot use PostgreSQL at ${location}: ${tlsReason(error)}`, {
      cause: error,
      hint: connectHint(code, dropped),
    });
  }
  // the index's tables or their schema gone under an open store (dropped, renamed, restored elsewhere)
  if (code === '42P01' || code === '3F000') {
    return new RsclipError('INDEX_UNAVAILABLE', `the index at ${location} is gone from PostgreSQL: ${message}`, {
      cause: error,
      hint: 'its schema or tables were dropped or renamed: put them back, or index again (rsclip index ... --index URL); the answers resume when they are back',
    });
  }
  // a read cut by a statement_timeout of the database or the role (a writer's transactions lift it for themselves)
  if (code === '57014' && /statement timeout/.test(message)) {
    return new RsclipError('INDEX_UNAVAILABLE', `PostgreSQL at ${location} cancelled a read that ran longer than its statement_timeout: ${message}`, {
      cause: error,
      hint: "raise statement_timeout for the role or database rsclip reads as (ALTER ROLE name SET statement_timeout = '1min'), or narrow the query",
    });
  }
  // a hot standby cancels a read whose rows the primary's changes, replayed, remove (SQLSTATE 40001)
  if (code === '40001' && /conflict with recovery/.test(message)) {
    return new RsclipError('INDEX_UNAVAILABLE', `PostgreSQL at ${location}, a read replica, cancelled this read to replay its primary's changes: ${message}`, {
      cause: error,
      hint: 'ask again; on the replica, hot_standby_feedback = on (or a longer max_standby_streaming_delay) lets reads finish',
    });
  }
  if (code === '25006') {
    return new RsclipError('INDEX_UNWRITABLE', `PostgreSQL at ${location} is read-only (a replica?): ${message}`, { cause: error, hint: 'index into the primary server; search and serve may use replicas' });
  }
  if (code === '42501') {
    return new RsclipError('INDEX_UNWRITABLE', `PostgreSQL at ${location} refused: ${message}`, { cause: error, hint: 'connect as a user who owns the index schema (or may create it)' });
  }
  if (code === '53100') {
    return new RsclipError('INDEX_UNWRITABLE', `PostgreSQL at ${location} is out of disk space; this change was not written: ${message}`, { cause: error, hint: 'free space on the database server' });
  }
  if (code === '2200H') {
    return new RsclipError('INDEX_UNWRITABLE', `index ${location} has given out every item id up to ${ITEM_ID_LIMIT} (ids are never reused); this change was not written`, {
      cause: error,
      hint: 'index the archive again into a new schema (?schema=NAME): its ids start from 1',
    });
  }
  return error;
}
