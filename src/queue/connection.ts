/**
 * `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS, with optional
 * `?sslrootcert=&sslcert=&sslkey=` files) to a connected ioredis client for BullMQ (which, as an
 * ES module, is handed clients rather than options); Redis that does not answer in time is a
 * one-line error, not a hang.
 */
import type { ConnectionOptions } from 'node:tls';
import type { Redis, RedisOptions } from 'ioredis';
import { RsclipError } from '../errors.js';
import { CERTIFICATE_PARAMETERS, isCertificateParameter, isTlsAlert, isUntrustedServerCertificate, readCertificateFiles, tlsReason } from '../tls.js';
import { hidePassword } from '../url-password.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** The TLS options of a rediss:// URL (with its certificate files, for a Redis that asks for client certificates: `tls-auth-clients`). */
function tlsOptions(parsed: URL, shown: string): ConnectionOptions | undefined {
  for (const name of parsed.searchParams.keys()) {
    if (!isCertificateParameter(name)) {
      throw new RsclipError('BAD_INPUT', `unknown parameter "${name}" in the Redis URL "${shown}"`, { hint: `a rediss:// URL takes ${CERTIFICATE_PARAMETERS.join(', ')} (paths of PEM files)` });
    }
  }
  if (parsed.protocol !== 'rediss:') {
    if (parsed.search !== '') throw new RsclipError('BAD_INPUT', `certificate files need TLS: "${shown}" is not a rediss:// URL`);
    return undefined;
  }
  return readCertificateFiles(parsed.searchParams, 'the Redis URL');
}

export function parseQueueUrl(url: string): RedisOptions & { host: string; port: number } {
  const shown = hidePassword(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RsclipError('BAD_INPUT', `not a Redis URL: "${shown}"`, { hint: 'e.g. --queue redis://localhost:6379/0' });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RsclipError('BAD_INPUT', `expected a redis:// or rediss:// URL, got "${shown}"`, { hint: 'e.g. --queue redis://localhost:6379/0' });
  }
  const dbText = parsed.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new RsclipError('BAD_INPUT', `the Redis database in "${shown}" must be a number, got "${dbText}"`);
  const tls = tlsOptions(parsed, shown);
  return {
    host: parsed.hostname || 'localhost',
    port: parsed.port ? Number(parsed.port) : 6379,
    db,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(tls ? { tls } : {}),
  };
}

/**
 * The URL with `password` when it names none: the commands take it from the settings
 * (RSCLIP_QUEUE_PASSWORD or `queuePassword`), which other users of the machine cannot list as
 * they can a command's arguments.
 */
export function withQueuePassword(url: string, password: string | undefined): string {
  if (!password) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') return url;
    parsed.password = encodeURIComponent(password);
    return parsed.href;
  } catch {
    // parseQueueUrl reports the malformed URL
    return url;
  }
}

function connectHint(reason: Error, tls: ConnectionOptions | undefined): string {
  const code = (reason as NodeJS.ErrnoException).code ?? '';
  if (isUntrustedServerCertificate(code)) {
    return "the server's TLS certificate is not trusted: for a certificate signed by your own authority, add ?sslrootcert=/path/to/ca.pem to the --queue URL (or point NODE_EXTRA_CA_CERTS at it)";
  }
  // Redis drops a TLS client without a certificate, or with one it does not trust, when it asks for
  // one (tls-auth-clients, on by default): a reset, or the handshake's alert when it arrives first
  if (tls && (isTlsAlert(code) || code === 'ECONNRESET')) {
    return tls.cert
      ? 'the server closed the TLS connection: if it checks client certificates, yours must be signed by an authority it trusts (its tls-ca-cert-file)'
      : 'the server closed the TLS connection: if it asks for client certificates, add ?sslcert=/path/to/client.pem&sslkey=/path/to/client.key to the --queue URL';
  }
  if (/^(WRONGPASS|NOAUTH)\b/.test(reason.message)) return 'check the user name and password in the --queue URL (rediss://user:password@host:port/db)';
  return 'start it (e.g. `redis-server --port 6379`) or check the --queue URL';
}

/**
 * The connection errors of a Redis that is not there (yet): not running, restarting, its host or
 * network down. Not a wrong URL, password or certificate, which waiting would not mend.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EAI_AGAIN', 'EPIPE']);

/** The errors of connectRedis that say Redis is not reachable (now): worth waiting out. */
const unreachable = new WeakSet<Error>();

/** ioredis' own default: a little longer after each failed attempt, at most 2 s. */
const reconnectDelay = (attempt: number): number => Math.min(attempt * 50, 2000);

/**
 * A connected client; BullMQ needs `maxRetriesPerRequest: null` (its blocking commands wait as
 * long as they must). It reconnects after a lost connection (Redis restarting) for as long as
 * `keepReconnecting` says, and so do its duplicates (BullMQ makes some): once it says no, every
 * one of them ends at its next attempt, so a process whose Redis is gone can close and exit.
 */
export async function connectRedis(url: string, keepReconnecting: () => boolean = () => true): Promise<Redis> {
  const options = parseQueueUrl(url);
  // loaded here, like bullmq by its users: commands that never use a queue do not load them
  const { Redis } = await import('ioredis');
  const client = new Redis({ ...options, maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: (attempt) => (keepReconnecting() ? reconnectDelay(attempt) : null) });
  // a refused connection is reported on each retry: the wait below turns the last into one error
  // (the connection's own rejection says only "Connection is closed.")
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  const noAnswer = new Error(`no answer in ${CONNECT_TIMEOUT_MS / 1000}s`);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(noAnswer), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.connect().then(() => client.ping()), timeout]);
    return client;
  } catch (cause) {
    client.disconnect();
    const reason = lastError ?? (cause as Error);
    const error = new RsclipError('QUEUE_FAILED', `cannot reach Redis at ${options.host}:${options.port}: ${tlsReason(reason)}`, { cause: reason, hint: connectHint(reason, options.tls) });
    // a reset is what a TLS Redis does to a client without the certificate it asks for: not waited out
    const code = (reason as NodeJS.ErrnoException).code ?? '';
    if (UNREACHABLE_CODES.has(code) || (code === 'ECONNRESET' && !options.tls) || reason === noAnswer) unreachable.add(error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds between attempts while waiting for Redis to come up. */
const WAIT_RETRY_MS = 2000;

/**
 * connectRedis, retried every 2 s for as long as Redis is unreachable (not running yet, its host
 * down) and `keepTrying` says so; `onWaiting` hears each failed attempt (`where` is host:port). A
 * wrong URL, password or certificate fails at once, as in connectRedis.
 */
export async function connectRedisWhenUp(url: string, onWaiting: (where: string, reason: string) => void, keepTrying: () => boolean = () => true, retryMs = WAIT_RETRY_MS): Promise<Redis> {
  const { host, port } = parseQueueUrl(url);
  for (;;) {
    try {
      return await connectRedis(url, keepTrying);
    } catch (error) {
      if (!(error instanceof Error) || !unreachable.has(error) || !keepTrying()) throw error;
      onWaiting(`${host}:${port}`, tlsReason((error.cause as Error | undefined) ?? error));
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
}

/** What to do about a command Redis refused: a Redis at its maxmemory says what to raise; undefined for any other cause. */
export function queueFailureHint(cause: Error): string | undefined {
  // Redis refuses writes past its maxmemory under the noeviction policy a queue needs
  if (!cause.message.startsWith('OOM ')) return undefined;
  return 'Redis is at its maxmemory: raise it (CONFIG SET maxmemory, or maxmemory in redis.conf) or free memory, and keep maxmemory-policy noeviction (a queue must not lose its jobs); a run needs about 2.7 KB per vector of the jobs in flight. What is committed is kept: run the same command again to go on';
}
