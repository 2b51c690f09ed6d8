/**
 * `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS) to a connected ioredis
 * client for BullMQ (which, as an ES module, is handed clients rather than options); Redis that
 * does not answer in time is a one-line error, not a hang.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { RsclipError } from '../errors.js';

const CONNECT_TIMEOUT_MS = 10_000;

export function parseQueueUrl(url: string): RedisOptions & { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RsclipError('BAD_INPUT', `not a Redis URL: "${url}"`, { hint: 'e.g. --queue redis://localhost:6379/0' });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RsclipError('BAD_INPUT', `expected a redis:// or rediss:// URL, got "${url}"`, { hint: 'e.g. --queue redis://localhost:6379/0' });
  }
  const dbText = parsed.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new RsclipError('BAD_INPUT', `the Redis database in "${url}" must be a number, got "${dbText}"`);
  return {
    host: parsed.hostname || 'localhost',
    port: parsed.port ? Number(parsed.port) : 6379,
    db,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

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
  // a refused connection is reported on each retry: the wait below turns it into one error
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.connect().then(() => client.ping()), timeout]);
    return client;
  } catch (cause) {
    client.disconnect();
    throw new RsclipError('QUEUE_FAILED', `cannot reach Redis at ${options.host}:${options.port}: ${(cause as Error).message}`, {
      cause,
      hint: 'start it (e.g. `redis-server --port 6379`) or check the --queue URL',
    });
  } finally {
    clearTimeout(timer);
  }
}
