/**
 * Query latency through PostgreSQL (pgvector's HNSW index, reached by the `pg` client) against
 * the embedded back end, on the same N random unit vectors. The embedded index is built by
 * commits; the PostgreSQL one by `copyIndex` from it (bulk load, then the HNSW index). Prints one
 * JSON object: build times, and p50 / p95 latency of k=10 searches unfiltered, with a broad filter
 * (a third of the items), the same with the selection counted first (as a search request does),
 * one scene's tiles counted first, exact, and an unfiltered search request's calls as the
 * searcher makes them (the count with the search, then the hits' items with their fields).
 * Usage: npx tsx bench/postgres.ts [--items 100000] [--dim 512] [--queries 200] [--ef-construction 200] [--dir DIR]
 *   [--server pglite|local|postgres://...] [--rtt MS] [--shared-buffers SIZE]
 * --server: PGlite (the default: PostgreSQL compiled to WebAssembly, served in this process by
 * pglite-socket on a loopback port, one thread), `local` (this machine's PostgreSQL with pgvector,
 * started in a temp folder as the tests start it: fsync off; see .ci/install-pgvector), or the
 * URL of a server of your own (a schema `bench` is made there; its settings are left alone: the
 * copy's HNSW build raises maintenance_work_mem for itself, see src/store/postgres/vector-index-build.ts).
 * With --dir both indexes (PGlite's database in DIR/pglite) are kept, and a run started again on
 * the same DIR resumes: the embedded build from its last committed scene, the copy where it
 * stopped (index copy resumes), and skips what is complete, so the queries can be re-run alone
 * (a `local` server's database is not kept: its copy starts again).
 * --shared-buffers SIZE: the `local` server's shared_buffers (PostgreSQL's default: 128MB).
 * --rtt MS: the queries reach the server through a loopback proxy that delays each direction by
 * half of MS (bench/delay-proxy.ts), as a server on another machine would be reached.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { copyIndex, openIndex, type CatalogChange, type IndexStore, type SearchOptions } from '../src/store/index.js';
import { startPgliteServer } from '../test/store/pglite-server.js';
import { startDelayProxy } from './delay-proxy.js';
import { postgresHasPgvector, startPostgres } from '../test/store/postgres-server.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '200' },
    'ef-construction': { type: 'string', default: '200' },
    dir: { type: 'string' },
    server: { type: 'string', default: 'pglite' },
    rtt: { type: 'string', default: '0' },
    'shared-buffers': { type: 'string' },
  },
});
const N = Number(values.items);
const DIM = Number(values.dim);
const QUERIES = Number(values.queries);
const dir = values.dir ?? mkdtempSync(path.join(os.tmpdir(), 'rsclip-bench-pg-'));
mkdirSync(dir, { recursive: true });

let seed = 7;
/** Each scene's vectors come from its own seed, so a resumed build makes the same ones. */
const seedScene = (scene: number) => (seed = 7 + scene * 7919);
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
function randomUnit(): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => rand() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const model = { id: 'bench/random', dir: '/nonexistent', variant: 'fp32' as const, fingerprint: 'b'.repeat(64), embeddingDim: DIM, contextLength: 77, imageSize: 224, logitScale: undefined };

/** Whether a complete index is at `location` (a copy into it finished). */
async function openableIndex(location: string): Promise<boolean> {
  try {
    await (await openIndex(location, { readonly: true })).close();
    return true;
  } catch {
    return false;
  }
}

/** The PostgreSQL server --server names, started when it is ours. */
async function startServer(): Promise<{ url: string; kind: 'pglite' | 'local' | 'url'; stop(): Promise<void> }> {
  if (values.server === 'pglite') return { ...(await startPgliteServer(values.dir ? path.join(dir, 'pglite') : undefined)), kind: 'pglite' };
  if (values.server === 'local') {
    if (!postgresHasPgvector) throw new Error('--server local needs PostgreSQL with pgvector installed on this machine (.ci/install-pgvector builds it for Debian 12)');
    return { ...(await startPostgres(values['shared-buffers'] ? [`shared_buffers=${values['shared-buffers']}`] : [])), kind: 'local' };
  }
  if (!/^postgres(ql)?:\/\//.test(values.server!)) throw new Error(`--server: pglite, local or a postgres:// URL, not ${values.server}`);
  return { url: values.server!, kind: 'url', stop: async () => undefined };
}

function percentile(sorted: number[], p: number): number {
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(2));
}

/** p50 of a `SELECT 1` on an open connection: the round trip the queries pay (timers round the proxy's delay up). */
async function roundTrip(location: string): Promise<number> {
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const start = performance.now();
    await client.query('SELECT 1');
    times.push(performance.now() - start);
  }
  await client.end();
  return percentile(times.sort((a, b) => a - b), 0.5);
}

/**
 * Search latency. `counted`: the selection counted first; `request`: also the hits' items and
 * fields read after, as a search request does (src/search/searcher.ts).
 */
async function latency(store: IndexStore, options: SearchOptions, calls: 'search' | 'counted' | 'request' = 'search'): Promise<{ p50: number; p95: number }> {
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const query = randomUnit();
    const start = performance.now();
    if (calls === 'request') {
      // as the searcher makes an unfiltered query's calls: the count with the search, then the hits' items with their fields
      const [, hits] = await Promise.all([store.countItems(options), store.search(query, 10, options)]);
      const ids = hits.map((h) => h.id);
      await Promise.all([store.getItems(ids), store.getFields(ids)]);
    } else {
      if (calls === 'counted') await store.countItems(options);
      await store.search(query, 10, options);
    }
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95) };
}

const server = await startServer();
try {
  const embeddedDir = path.join(dir, 'embedded');
  let start = performance.now();
  const embedded = await openIndex(embeddedDir, existsSync(embeddedDir) ? {} : { model, create: true, engine: { efConstruction: Number(values['ef-construction']) } });
  if (embedded.meta.embeddingDim !== DIM) throw new Error(`${embeddedDir} holds ${embedded.meta.embeddingDim}-d vectors, not ${DIM}-d: use another --dir`);
  // scenes of 1,000 tiles: a commit per scene, as a tiled archive is indexed; a resumed build starts after the last committed scene
  const firstScene = await embedded.countFiles('ok');
  for (let scene = firstScene; scene * 1000 < N; scene++) {
    const count = Math.min(1000, N - scene * 1000);
    seedScene(scene);
    const change: CatalogChange = {
      kind: 'put',
      file: { root: '/bench', path: `${scene % 3 === 0 ? 'a' : 'b'}/scene${scene}.tif`, bytes: 1, mtimeMs: 1, contentHash: `h${scene}`, width: 1, height: 1, format: 'tiff', plan: 'tiles' },
      items: Array.from({ length: count }, (_, i) => ({ key: `t${i}`, window: { x: i, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: randomUnit() })),
      complete: true,
    };
    await embedded.commit([change]);
    if (scene % 100 === 99) console.error(`embedded: ${(scene + 1) * 1000} items, ${((performance.now() - start) / 1000).toFixed(0)} s`);
  }
  await embedded.close();
  const embeddedBuildS = (performance.now() - start) / 1000;
  const url = `${server.url}${server.url.includes('?') ? '&' : '?'}schema=bench`;
  start = performance.now();
  const copied = await openableIndex(url);
  if (!copied) {
    await copyIndex(embeddedDir, url, {
      pageSize: 5000,
      onProgress: ({ table, rows }) => rows % 100000 === 0 && console.error(`copy: ${table} ${rows} rows, ${((performance.now() - start) / 1000).toFixed(0)} s`),
    });
  }
  const copyS = (performance.now() - start) / 1000;

  const result: Record<string, unknown> = { server: server.kind, items: N, dim: DIM, queries: QUERIES, k: 10, efConstruction: Number(values['ef-construction']), build: { embeddedCommitsS: Number(embeddedBuildS.toFixed(1)), copyToPostgresS: Number(copyS.toFixed(1)), resumed: firstScene > 0 || copied } };
  const rtt = Number(values.rtt);
  result.rttMs = rtt;
  const { hostname, port } = new URL(server.url);
  if (rtt > 0 && !port) throw new Error(`--rtt needs the server's port in its URL: ${server.url}`);
  const proxy = rtt > 0 ? await startDelayProxy({ host: hostname, port: Number(port) }, rtt / 2) : undefined;
  const queried = proxy ? url.replace(`:${port}/`, `:${proxy.port}/`) : url;
  result.roundTripMs = await roundTrip(queried);
  for (const [name, location] of [['embedded', embeddedDir], ['postgres', queried]] as const) {
    const store = await openIndex(location, { readonly: true });
    await latency(store, {}); // warm caches
    result[name] = {
      unfilteredMs: await latency(store, {}),
      filteredMs: await latency(store, { filter: { folder: 'a' } }),
      filteredCountedMs: await latency(store, { filter: { folder: 'a' } }, 'counted'),
      // one scene's 1,000 tiles: a selection scored exactly, by the keys of its items once they are kept
      sceneCountedMs: await latency(store, { filter: { pathGlob: 'a/scene0.tif' } }, 'counted'),
      requestMs: await latency(store, {}, 'request'),
      exactMs: await latency(store, { exact: true }),
    };
    await store.close();
  }
  await proxy?.close();
  console.log(JSON.stringify(result, null, 2));
} finally {
  await server.stop();
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
}
