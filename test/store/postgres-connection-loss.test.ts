/**
 * A PostgreSQL server that goes away while a transaction holds a connection between two
 * statements: the transaction fails with INDEX_UNAVAILABLE (a one-line error for the CLI), and
 * the connection's socket error does not end the process as an unheard 'error' event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { isRsclipError } from '../../src/errors.js';
import { Database } from '../../src/store/postgres/database.js';
import { parsePostgresLocation } from '../../src/store/postgres/location.js';
import { startPgliteServer } from './pglite-server.js';

const root = mkdtempSync(path.join(tmpdir(), 'rsclip-pg-loss-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

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
