/**
 * Embedding on a queue, the measures of issue 15 item 1. Prints one JSON object.
 *   commit   the coordinator's rate with the embedding replaced by precomputed vectors (a responder
 *            process answers every job at once without reading a file), on a tiled scene (many
 *            items per file) and on many small files (a hash and a header read per item):
 *              absorption  items/s from the first result that reaches the coordinator to the end
 *                          of the run (its last commit, the graph caught up and its file written),
 *                          and the coordinator's CPU ms per item over that span: the rate it can
 *                          take results from a fleet (issue 15's goal: >= 5,000 items/s);
 *                          commitsItemsPerSecond the same up to the run's last commit, and
 *                          saveSeconds the flush after it (on PostgreSQL, the HNSW index's
 *                          build on the server)
 *              endToEnd    the whole run, scan, hashing and scene stretch included
 *              redis       Redis's memory after the run (what it left there) and its peak so far
 *            with the store's own commit rate alone (its ceiling; commits of 64 items, then a flush)
 *            for comparison; `--graph thread` (default, as `rsclip index --queue` opens its index:
 *            write-only, the graph built in a thread of its own) or `main` (the graph inserts on
 *            the event loop, as before);
 *            `--profile DIR` writes a CPU profile of each run there; `--store postgres` commits into
 *            PostgreSQL instead of the embedded index: PGlite with pgvector (WebAssembly, one
 *            thread, slower than a server) served by pglite-socket from a child process, a schema
 *            per run; `--store postgres-local` into this machine's PostgreSQL with pgvector (see
 *            .ci/install-pgvector), started in a temp folder as the tests start it (fsync off)
 *   workers  indexing N images with 1, 2 and 3 `rsclip worker` processes (--threads split between
 *            them), and one worker with 2 and 3 model sessions (`--model-sessions`, the threads split
 *            between the sessions), against the single-process indexer on --threads cores (shared
 *            as `rsclip index` shares them), same model, batches of 8; wall time, items/s and CPU seconds per item
 *            (coordinator + workers, from /proc), with the machine's load average (it is shared:
 *            numbers are noisy)
 * Needs redis-server on PATH (started on a free loopback port in --dir).
 * Usage: npx tsx bench/queue.ts [--part commit,workers] [--store embedded|postgres|postgres-local] [--graph thread|main] [--profile DIR] [--model DIR] [--threads N (default: the cores)] [--images 64]
 *        [--scene-size 16384] [--files 2000] [--dim 512] [--dir DIR]
 * Without --model: $TMPDIR/rsclip-bench-vit-b-32 (bench/scenes.ts writes it), else the tiny test model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';
import { chooseIndexingThreads, indexArchive, indexingEncoderOptions, type Embedder, type IndexProgress } from '../src/indexer/index.js';
import { openClip } from '../src/model/index.js';
import { connectRedis } from '../src/queue/connection.js';
import { QueueEmbedder } from '../src/queue/index.js';
import { DEFAULT_QUEUE_NAME, encodeVector, type EmbedJobData, type EmbedJobResult } from '../src/queue/protocol.js';
import { openIndex } from '../src/store/index.js';
import { makePng } from '../test/fixtures/images.js';
import { ClipLikeVectors, vectorRows } from './clip-like-vectors.js';
import { tinyModelDir } from '../test/fixtures/model.js';
import { FakeEncoder } from '../test/indexer/fake-encoder.js';
import { startRedis } from '../test/queue/redis-server.js';
import { writeBigScene } from '../test/raster/big-scene.js';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'commit,workers' },
    model: { type: 'string' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    images: { type: 'string', default: '64' },
    'scene-size': { type: 'string', default: '16384' },
    files: { type: 'string', default: '2000' },
    dim: { type: 'string', default: '512' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'rsclip-bench-queue') },
    child: { type: 'string' },
    url: { type: 'string' },
    profile: { type: 'string' },
    store: { type: 'string', default: 'embedded' },
    graph: { type: 'string', default: 'thread' },
  },
});
const REPO = path.resolve(import.meta.dirname, '..');
const CLI = path.join(REPO, 'src/cli.ts');
const threads = Number(values.threads);
const dir = values.dir;
if (values.graph !== 'thread' && values.graph !== 'main') throw new Error(`--graph thread or main, got ${values.graph}`);
/** How the coordinator's index is opened. */
const writeOnly = values.graph === 'thread';

/**
 * `count` distinct CLIP-like unit vectors (clustered in a narrow cone as image embeddings are):
 * a graph's build costs far more on them than on spread-out vectors, and a fleet sends those.
 */
function benchVectors(count: number, dim: number): Float32Array[] {
  return vectorRows(new ClipLikeVectors({ items: count, dim, seed: 1 }).images(0, count), dim);
}

/** Distinct vectors the responder hands out in turn: more than one run's items at the default sizes (a larger run repeats them). */
const RESPONDER_VECTORS = 65_536;

/** A worker stand-in that answers each job with precomputed distinct unit vectors, reading nothing. */
async function responder(url: string, dim: number): Promise<void> {
  const table = benchVectors(RESPONDER_VECTORS, dim).map(encodeVector);
  let next = 0;
  const connection = await connectRedis(url);
  const worker = new Worker<EmbedJobData, EmbedJobResult>(
    DEFAULT_QUEUE_NAME,
    async (job) => ({
      worker: `responder:${process.pid}`,
      modelSeconds: 0,
      windows: job.data.files.flatMap((f) => f.reads.map((r) => ({ root: f.root, path: f.path, key: r.key, vector: table[next++ % table.length]!, ...(r.read.whole ? { decoded: { width: 64, height: 64, format: 'png' } } : {}) }))),
    }),
    { connection, concurrency: 16 },
  );
  await worker.waitUntilReady();
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
}

function startProcess(args: string[], env: Record<string, string> = {}): ChildProcess & { log: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return Object.assign(child, { log: () => log });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 300_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** CPU seconds (user + system) a live process has used, from /proc. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : (c.once('exit', resolve), c.kill('SIGTERM'))))));
}

/** A CPU profile of this process until the returned function is called (it gives the .cpuprofile's text). */
async function startProfile(): Promise<() => Promise<string>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    return JSON.stringify(profile);
  };
}

/** Redis's memory in MB after a run (what the run left there) and its peak so far, from INFO. */
async function redisMemory(url: string): Promise<{ usedMB: number; peakMB: number }> {
  const client = await connectRedis(url);
  try {
    const info = await client.info('memory');
    const field = (name: string) => +(Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]) / 2 ** 20).toFixed(1);
    return { usedMB: field('used_memory'), peakMB: field('used_memory_peak') };
  } finally {
    client.disconnect();
  }
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * PGlite with pgvector served on a loopback port until SIGTERM (the commit part's PostgreSQL).
 * Imported here only: PGlite is a development dependency, not needed by the other parts.
 */
async function pgliteServer(): Promise<void> {
  const { startPgliteServer } = await import('../test/store/pglite-server.js');
  const server = await startPgliteServer();
  process.stdout.write(`url ${server.url}\n`);
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}

/** Where the commit part's indexes go: a folder under --dir, or a fresh schema on the PostgreSQL child's server. */
interface IndexPlaces {
  place(name: string): string;
  stop(): Promise<void>;
}

async function indexPlaces(): Promise<IndexPlaces> {
  if (values.store === 'embedded') {
    return {
      place(name) {
        const index = path.join(dir, `index-${name}`);
        rmSync(index, { recursive: true, force: true });
        return index;
      },
      stop: async () => undefined,
    };
  }
  const run = Date.now().toString(36);
  const schema = (name: string): string => `schema=bench_${run}_${name.replaceAll('-', '_')}`;
  if (values.store === 'postgres-local') {
    const { postgresHasPgvector, startPostgres } = await import('../test/store/postgres-server.js');
    if (!postgresHasPgvector) throw new Error('--store postgres-local needs PostgreSQL with pgvector installed on this machine (.ci/install-pgvector builds it for Debian 12)');
    const local = await startPostgres();
    return { place: (name) => `${local.url}?${schema(name)}`, stop: () => local.stop() };
  }
  if (values.store !== 'postgres') throw new Error(`--store embedded, postgres or postgres-local, got ${values.store}`);
  const server = startProcess(['bench/queue.ts', '--child', 'pglite']);
  let url: string | undefined;
  await until(() => (url = /^url (\S+)$/m.exec(server.log())?.[1]) !== undefined, 'PGlite');
  return { place: (name) => `${url}?${schema(name)}`, stop: () => stop([server]) };
}

/**
 * The store alone: items/s of commits of 64 items with their vectors (catalog rows + graph
 * inserts), the coordinator's ceiling; as the windows of one file each (tiles), or one item per
 * file (small files: a file row per item).
 */
async function storeCommitRate(index: string, dim: number, itemsPerFile: number): Promise<{ itemsPerSecond: number; cpuMsPerItem: number }> {
  const store = await openIndex(index, { model: new FakeEncoder({ dim }).info, create: true, writeOnly });
  const commits = itemsPerFile === 1 ? 320 : 40;
  const perCommit = 64;
  const vectors = benchVectors(commits * perCommit, dim);
  const file = (f: number) => ({ root: dir, path: `f${f}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${f}`, width: 1, height: 1, format: 'png', plan: 'whole' });
  const item = (n: number, key: string) => ({ key, window: { x: n % 64, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: vectors[n]! });
  const cpu0 = cpuNow();
  const t0 = performance.now();
  for (let c = 0; c < commits; c++) {
    const first = c * perCommit;
    const changes =
      itemsPerFile === 1
        ? Array.from({ length: perCommit }, (_, i) => ({ kind: 'put' as const, file: file(first + i), items: [item(first + i, 'whole')], complete: true }))
        : [{ kind: 'put' as const, file: file(c), items: Array.from({ length: perCommit }, (_, i) => item(first + i, `k${i}`)), complete: true }];
    await store.commit(changes);
  }
  await store.flush();
  const items = commits * perCommit;
  const rate = { itemsPerSecond: Math.round(items / ((performance.now() - t0) / 1000)), cpuMsPerItem: +((1000 * (cpuNow() - cpu0)) / items).toFixed(3) };
  await store.close();
  return rate;
}

async function commitPart(url: string, places: IndexPlaces): Promise<Record<string, unknown>> {
  const dim = Number(values.dim);
  const responders = [startProcess(['bench/queue.ts', '--child', 'responder', '--url', url, '--dim', String(dim)])];
  await until(() => responders.every((r) => r.log().includes('ready')), 'the responder');
  const encoder = new FakeEncoder({ dim });
  const run = async (name: string, archive: string): Promise<Record<string, unknown>> => {
    const store = await openIndex(places.place(`commit-${name}`), { model: encoder.info, create: true, writeOnly });
    const queue = await QueueEmbedder.open({ url, info: encoder.info, inFlight: 16 });
    // absorption: from the first result that reaches the coordinator to the end of the run
    let first: { at: number; cpu: number; embedded: number } | undefined;
    let embedded = 0;
    const embedder: Embedder = {
      info: queue.info,
      decodesHere: queue.decodesHere,
      inFlight: queue.inFlight,
      localModelRuns: queue.localModelRuns,
      embed: async (batch) => {
        const out = await queue.embed(batch);
        first ??= { at: performance.now(), cpu: cpuNow(), embedded };
        return out;
      },
    };
    // the end of the run's commits: its flush follows (the graph caught up; on PostgreSQL, the HNSW index built)
    let saveAt: number | undefined;
    const onProgress = (p: IndexProgress): void => {
      embedded = p.embedded;
      if (p.phase === 'save') saveAt ??= performance.now();
    };
    const profiler = values.profile ? await startProfile() : undefined;
    const cpu0 = cpuNow();
    const t0 = performance.now();
    const summary = await indexArchive({ roots: [archive], store, encoder, embedder, batchSize: 64, onProgress });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuNow() - cpu0;
    const last = { at: performance.now(), cpu: cpuNow(), embedded: summary.embedded };
    if (profiler) writeFileSync(path.join(values.profile!, `coordinator-${name}.cpuprofile`), await profiler());
    await queue.close();
    await store.close();
    const items = summary.embedded;
    const redis = await redisMemory(url);
    const absorbedItems = first ? last.embedded - first.embedded : 0;
    const absorbSeconds = first ? (last.at - first.at) / 1000 : 0;
    return {
      items,
      endToEnd: { seconds: +seconds.toFixed(2), itemsPerSecond: Math.round(items / seconds), cpuMsPerItem: +((1000 * cpu) / items).toFixed(3) },
      redis,
      absorption:
        absorbSeconds > 0
          ? {
              items: absorbedItems,
              seconds: +absorbSeconds.toFixed(2),
              itemsPerSecond: Math.round(absorbedItems / absorbSeconds),
              cpuMsPerItem: +((1000 * (last.cpu - first!.cpu)) / absorbedItems).toFixed(3),
              commitsItemsPerSecond: saveAt ? Math.round(absorbedItems / ((saveAt - first!.at) / 1000)) : undefined,
              saveSeconds: saveAt ? +((last.at - saveAt) / 1000).toFixed(2) : undefined,
            }
          : undefined,
    };
  };
  try {
    const size = Number(values['scene-size']);
    const sceneDir = path.join(dir, `commit-scene-${size}`);
    mkdirSync(sceneDir, { recursive: true });
    if (!existsSync(path.join(sceneDir, `scene-${size}.tif`))) writeBigScene(path.join(sceneDir, `scene-${size}.tif`), size);
    const filesDir = path.join(dir, `commit-files-${values.files}`);
    if (!existsSync(filesDir)) {
      mkdirSync(filesDir, { recursive: true });
      for (let i = 0; i < Number(values.files); i++) writeFileSync(path.join(filesDir, `f${i}.png`), makePng(i, 64, 64));
    }
    if (values.profile) mkdirSync(values.profile, { recursive: true });
    return {
      dim,
      store: values.store,
      graph: values.store === 'embedded' ? values.graph : 'PostgreSQL',
      storeAlone: { tiles: await storeCommitRate(places.place('store-tiles'), dim, 64), smallFiles: await storeCommitRate(places.place('store-files'), dim, 1) },
      scene: { size, ...(await run('scene', sceneDir)) },
      smallFiles: await run('files', filesDir),
    };
  } finally {
    await stop(responders);
  }
}

async function workersPart(url: string): Promise<Record<string, unknown>> {
  const bench = path.join(os.tmpdir(), 'rsclip-bench-vit-b-32');
  const model = values.model ?? (existsSync(path.join(bench, 'onnx')) ? bench : await tinyModelDir());
  const archive = path.join(dir, `images-${values.images}`);
  if (!existsSync(archive)) {
    mkdirSync(archive, { recursive: true });
    for (let i = 0; i < Number(values.images); i++) writeFileSync(path.join(archive, `img${i}.png`), makePng(1000 + i, 256, 256));
  }
  const variant = existsSync(path.join(model, 'onnx', 'vision_model_quantized.onnx')) ? 'int8' : 'fp32';
  // the single process shares --threads cores as `rsclip index` shares a machine of that many (from
  // 4 on, a quarter of them decode); its model runs take this part's batches of 8, as the workers' jobs do
  const machine = chooseIndexingThreads({ batchSize: 8 }, threads);
  const encoder = await openClip(model, { variant, ...indexingEncoderOptions(machine) });
  const results: Record<string, unknown>[] = [];
  const index = async (name: string, embedder?: QueueEmbedder) => {
    const target = path.join(dir, `index-workers-${name}`);
    rmSync(target, { recursive: true, force: true });
    const store = await openIndex(target, { model: encoder.info, create: true });
    const cpu0 = cpuNow();
    const t0 = performance.now();
    const summary = await indexArchive({ roots: [archive], store, encoder, ...(embedder ? { embedder } : {}), batchSize: machine.batchSize, decodeThreads: machine.decodeThreads });
    const seconds = (performance.now() - t0) / 1000;
    await store.close();
    return { items: summary.embedded, seconds, coordinatorCpu: cpuNow() - cpu0 };
  };
  try {
    const local = await index('local');
    results.push({ mode: 'single process', threads: machine.onnxThreads, decodeThreads: machine.decodeThreads, items: local.items, seconds: +local.seconds.toFixed(1), itemsPerSecond: +(local.items / local.seconds).toFixed(2), cpuSecondsPerItem: +(local.coordinatorCpu / local.items).toFixed(3), load: os.loadavg()[0] });
    // worker processes, then one worker with as many model sessions (--threads shared the same way)
    const setups = [1, 2, 3].map((n) => ({ n, sessions: 1 })).concat([2, 3].filter((s) => s <= threads).map((s) => ({ n: 1, sessions: s })));
    for (const { n, sessions } of setups) {
      const workerThreads = Math.max(1, Math.floor(threads / n));
      const sessionArgs = sessions > 1 ? ['--model-sessions', String(sessions)] : [];
      const workers = Array.from({ length: n }, () => startProcess([CLI, 'worker', '--queue', url, '--model', model, '--variant', variant, '--threads', String(workerThreads), ...sessionArgs]));
      await until(() => workers.every((w) => w.log().includes('waiting for jobs')), 'the workers');
      const cpuBefore = workers.map((w) => cpuSecondsOf(w.pid!));
      const embedder = await QueueEmbedder.open({ url, info: encoder.info, inFlight: 2 * n * sessions });
      const run = await index(`queue-${n}-${sessions}`, embedder);
      await embedder.close();
      const workerCpu = workers.reduce((sum, w, i) => sum + cpuSecondsOf(w.pid!) - cpuBefore[i]!, 0);
      await stop(workers);
      results.push({
        mode: `${n} worker${n > 1 ? 's' : ''}${sessions > 1 ? `, ${sessions} model sessions` : ''}`,
        threadsPerWorker: workerThreads,
        items: run.items,
        seconds: +run.seconds.toFixed(1),
        itemsPerSecond: +(run.items / run.seconds).toFixed(2),
        cpuSecondsPerItem: +((run.coordinatorCpu + workerCpu) / run.items).toFixed(3),
        coordinatorCpuSecondsPerItem: +(run.coordinatorCpu / run.items).toFixed(4),
        load: os.loadavg()[0],
      });
    }
  } finally {
    await encoder.close();
  }
  return { model: encoder.info.id, variant, images: Number(values.images), results };
}

async function main(): Promise<void> {
  if (values.child === 'responder') return responder(values.url!, Number(values.dim));
  if (values.child === 'pglite') return pgliteServer();
  mkdirSync(dir, { recursive: true });
  const redis = await startRedis(dir);
  const parts = values.part.split(',');
  const out: Record<string, unknown> = { machine: { cores: os.availableParallelism(), loadAverage: os.loadavg() } };
  try {
    if (parts.includes('commit')) {
      const places = await indexPlaces();
      try {
        out.commit = await commitPart(redis.url, places);
      } finally {
        await places.stop();
      }
    }
    if (parts.includes('workers')) out.workers = await workersPart(redis.url);
  } finally {
    await redis.stop();
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
