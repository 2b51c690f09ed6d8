/**
 * The IndexStore back ends the contract suite runs against. A back end gives a fresh location
 * per test and opens it; `embedded` marks the ones whose files (lock, graph, catalog) tests
 * may touch directly. The embedded back end runs once per vector engine; `engine` is what an
 * index it creates records. PostgreSQL runs on PGlite with pgvector (pglite-server.ts), on a
 * throwaway local server where PostgreSQL and pgvector are installed (postgres-server.ts), and on
 * the server at RSCLIP_TEST_POSTGRES_URL when it is set; each test gets a schema of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { ModelInfo } from '../../src/model/index.js';
import { DEFAULT_ENGINE, ENGINE_DEFAULTS, openIndex, WHOLE_IMAGE_KEY, type EngineSpec, type IndexStore, type NewFile, type OpenIndexOptions } from '../../src/store/index.js';
import { startPgliteServer } from './pglite-server.js';
import { postgresHasPgvector, startPostgres } from './postgres-server.js';

export interface Backend {
  name: string;
  embedded: boolean;
  engine: EngineSpec;
  /** Starts what the back end needs (a server) before a suite's first newLocation; stops it after the suite. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** A location no index exists at yet, and its clean-up. */
  newLocation(): { location: string; dispose(): void | Promise<void> };
  open(location: string, options?: OpenIndexOptions): Promise<IndexStore>;
}

let schemas = 0;

/** Runs `body` with a client of the database of a PostgreSQL index's location, and the index's schema. */
export async function withDatabase<T>(location: string, body: (client: pg.Client, schema: string) => Promise<T>): Promise<T> {
  const url = new URL(location);
  const schema = url.searchParams.get('schema')!;
  url.searchParams.delete('schema');
  // loaded here: most store tests never reach a PostgreSQL server
  const { Client } = (await import('pg')).default;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await body(client, schema);
  } finally {
    await client.end();
  }
}

/** A server the back end starts for a suite (or one already running): its URL, and how to stop it. */
interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** A PostgreSQL back end on the server `startServer` gives, one schema per location. */
function postgresBackend(name: string, startServer: () => Promise<RunningServer>): Backend {
  let server: RunningServer | undefined;
  return {
    name,
    embedded: false,
    // pgvector's HNSW is built with the engine's M and ef_construction; the engine recorded is the one an embedded copy gets
    engine: DEFAULT_ENGINE,
    async start() {
      server = await startServer();
    },
    async stop() {
      await server?.stop();
      server = undefined;
    },
    newLocation() {
      if (!server) throw new Error(`${name}: start() the back end first`);
      const schema = `rsclip_test_${process.pid}_${++schemas}`;
      const location = `${server.url}${server.url.includes('?') ? '&' : '?'}schema=${schema}`;
      return {
        location,
        async dispose() {
          await withDatabase(location, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
        },
      };
    },
    open: (location, options) => openIndex(location, options),
  };
}

export const PGLITE_BACKEND = postgresBackend('PostgreSQL (PGlite + pgvector over pglite-socket)', () => startPgliteServer());

/** A PostgreSQL server of this machine's installation with pgvector, started for the suite on a loopback port. */
const LOCAL_SERVER_BACKEND = postgresHasPgvector ? postgresBackend('PostgreSQL server (local) + pgvector', startPostgres) : undefined;

const serverUrl = process.env.RSCLIP_TEST_POSTGRES_URL;

/** The PostgreSQL server at RSCLIP_TEST_POSTGRES_URL, when it is set. */
const SERVER_BACKEND = serverUrl ? postgresBackend('PostgreSQL at RSCLIP_TEST_POSTGRES_URL', async () => ({ url: serverUrl, stop: async () => undefined })) : undefined;

/** Every PostgreSQL back end this machine has: PGlite always, the servers where available. */
export const POSTGRES_BACKENDS: Backend[] = [PGLITE_BACKEND, ...(LOCAL_SERVER_BACKEND ? [LOCAL_SERVER_BACKEND] : []), ...(SERVER_BACKEND ? [SERVER_BACKEND] : [])];

function embedded(engine: EngineSpec): Backend {
  return {
    name: `embedded (catalog.sqlite + ${engine.name} ${engine.name === 'ivf' ? 'lists' : 'graph'} file)`,
    embedded: true,
    engine,
    newLocation() {
      const parent = mkdtempSync(path.join(tmpdir(), 'rsclip-store-'));
      return { location: path.join(parent, 'index'), dispose: () => rmSync(parent, { recursive: true, force: true }) };
    },
    // readers look for new commits at every call, so that tests need not wait, and scan filters in a thread as the server's do
    open: (location, options) => openIndex(location, { refreshIntervalMs: 0, scanFiltersOffThread: true, ...options, engine: { name: engine.name, ...options?.engine } }),
  };
}

export const BACKENDS: Backend[] = [embedded(ENGINE_DEFAULTS.hnswlib), embedded(ENGINE_DEFAULTS.usearch), embedded(ENGINE_DEFAULTS.ivf), ...POSTGRES_BACKENDS];

export const DIM = 8;

export const MODEL: ModelInfo = {
  id: 'test/model-a',
  dir: '/nonexistent',
  variant: 'fp32',
  fingerprint: 'a'.repeat(64),
  embeddingDim: DIM,
  contextLength: 77,
  imageSize: 224,
  logitScale: undefined,
};

export function newFile(rel: string, extra: Partial<NewFile> = {}): NewFile {
  return { root: '/archive', path: rel, bytes: 1000, mtimeMs: 1_700_000_000_000, contentHash: `hash-${rel}`, width: 224, height: 224, format: 'jpeg', ...extra };
}

/** The unit vector of axis i (mod DIM), leaning `tilt` towards the next axis. */
export function axis(i: number, tilt = 0): Float32Array {
  const v = new Float32Array(DIM);
  v[i % DIM] = 1;
  v[(i + 1) % DIM] = tilt;
  return v;
}

const tileWindow = (x: number) => ({ x, y: 0, width: 100, height: 100, scale: 1 });

/**
 * Every kind of change, ending with a.png and d.png ok (two vectors), c.png failed and b.png
 * removed: new files, failures, a fixed failure, re-tiling (an item retired), a touch, a removal,
 * an ok file failing and coming back.
 */
export async function commitEveryKindOfChange(store: IndexStore, afterEachCommit: () => Promise<void> = async () => {}): Promise<void> {
  const commit: IndexStore['commit'] = async (changes) => {
    const results = await store.commit(changes);
    await afterEachCommit();
    return results;
  };
  const [a, b] = await commit([
    { kind: 'put', file: newFile('a.png'), vector: axis(1) },
    { kind: 'put', file: newFile('b.png'), vector: axis(2) },
    { kind: 'fail', file: newFile('c.png'), error: 'truncated PNG' },
    { kind: 'fail', file: newFile('d.png'), error: 'truncated PNG' },
  ]);
  await commit([
    // d.png fixed; b.png cut into three windows, then two (one retired)
    { kind: 'put', file: newFile('d.png', { contentHash: 'fixed' }), vector: axis(4) },
    { kind: 'put', file: newFile('b.png', { plan: 'tiles' }), items: [0, 1, 2].map((i) => ({ key: `t${i}`, window: tileWindow(100 * i), place: null, vector: axis(i) })), complete: true },
  ]);
  await commit([{ kind: 'put', file: newFile('b.png', { plan: 'tiles' }), items: [0, 1].map((i) => ({ key: `t${i}`, window: tileWindow(100 * i), place: null, vector: axis(i + 3) })), complete: true }]);
  await commit([{ kind: 'touch', fileId: a!.fileId, bytes: 2000, mtimeMs: 1_800_000_000_000 }]);
  await commit([{ kind: 'remove', fileId: b!.fileId }]);
  await commit([{ kind: 'fail', file: newFile('a.png', { contentHash: 'broken' }), error: 'unreadable' }]);
  await commit([{ kind: 'put', file: newFile('a.png', { contentHash: 'again' }), items: [{ key: WHOLE_IMAGE_KEY, window: tileWindow(0), place: null, vector: axis(5) }], complete: true }]);
}
