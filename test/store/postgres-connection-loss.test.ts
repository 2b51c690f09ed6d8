/**
 * A PostgreSQL server that goes away or stops answering: a transaction holding a connection when
 * the server goes fails with INDEX_UNAVAILABLE (the connection's socket error does not end the
 * process as an unheard 'error' event); a server that accepts connections and never answers fails
 * opening the index after the URL's connect_timeout; a read statement left unanswered (in a
 * transaction or on its own) fails after the read timeout, and the next works on a fresh
 * connection once the server answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { openIndex } from '../../src/store/index.js';
import { Database } from '../../src/store/postgres/database.js';
import { parsePostgresLocation } from '../../src/store/postgres/location.js';
import { startPgliteServer } from './pglite-server.js';

const root = mkdtempSync(path.join(tmpdir(), 'rsclip-pg-loss-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A TCP front for `port` that, once frozen, forwards nothing more either way (a server that stopped answering). */
async function startFreezableFront(port: number): Promise<{ port: number; freeze: () => void; thaw: () => void; stop: () => Promise<void> }> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (data) => void (frozen || to.write(data)));
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

it('a server gone between two statements of a transaction fails it with INDEX_UNAVAILABLE, and the process lives on', async () => {
  const server = await startPgliteServer();
  const database = await Database.connect(parsePostgresLocation(server.url));
  const unheard: unknown[] = [];
  const onUncaught = (error: unknown): void => void unheard.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    const gone = database.transaction('read', async (client) => {
      await client.query('SELECT 1');
      await server.stop();
      // the socket's reset reaches the idle connection before the next statement
      await new Promise((resolve) => setTimeout(resolve, 300));
      await client.query('SELECT 1');
    });
    await expect(gone).rejects.toSatisfy((e) => isRsclipError(e, 'INDEX_UNAVAILABLE') && /^cannot use PostgreSQL at /.test((e as Error).message));
    expect(unheard).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
    await database.close();
  }
}, 60_000);

it('a server that never answers fails opening the index after the URL\'s connect_timeout, not never', async () => {
  const silent = net.createServer((socket) => void socket.on('error', () => undefined));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  try {
    const opening = openIndex(`postgres://postgres@127.0.0.1:${port}/postgres?connect_timeout=1`, { readonly: true });
    await expect(opening).rejects.toSatisfy((e) => isRsclipError(e, 'INDEX_UNAVAILABLE') && /did not answer/.test((e as Error).message));
    expect(() => parsePostgresLocation('postgres://h/db?connect_timeout=soon')).toThrow(/invalid connect_timeout "soon"/);
  } finally {
    silent.close();
  }
}, 60_000);

it('a read left unanswered fails after the read timeout (in a transaction or outside one); the next, once the server answers, works on a fresh connection', async () => {
  const server = await startPgliteServer();
  const front = await startFreezableFront(Number(new URL(server.url).port));
  const database = await Database.connect(parsePostgresLocation(`postgres://postgres@127.0.0.1:${front.port}/postgres`), 500);
  const one = (): Promise<number> => database.transaction('read', async (client) => Number((await client.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n));
  try {
    expect(await one()).toBe(1);
    front.freeze();
    await expect(one()).rejects.toSatisfy((e) => isRsclipError(e, 'INDEX_UNAVAILABLE') && /did not answer: Query read timeout/.test((e as Error).message));
    front.thaw();
    expect(await one()).toBe(1);
    // a statement outside a transaction, the same
    const statement = async (): Promise<number> => Number((await database.readStatement<{ n: number }>('SELECT $1::int AS n', [2])).rows[0]!.n);
    expect(await statement()).toBe(2);
    front.freeze();
    await expect(statement()).rejects.toSatisfy((e) => isRsclipError(e, 'INDEX_UNAVAILABLE') && /did not answer: Query read timeout/.test((e as Error).message));
    front.thaw();
    expect(await statement()).toBe(2);
  } finally {
    await database.close();
    await front.stop();
    await server.stop();
  }
}, 60_000);
