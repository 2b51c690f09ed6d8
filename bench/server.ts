/**
 * HTTP search latency with autocannon against `rsclip serve` (a child process) on an index of
 * CLIP-like vectors (bench/clip-like-vectors.ts: clustered in a narrow cone as real image
 * embeddings are), with a real query encoder (a random-weight CLIP of the chosen size,
 * int8 by default: same compute as the trained model). Also: start-up time, RSS, and the
 * in-process cost of HNSW and exact search (what a request spends on the event loop).
 *
 * Usage: npx tsx bench/server.ts [--vectors 100000] [--size vit-b-32|small|tiny] [--model DIR]
 *        [--variant int8|fp32] [--threads N] [--seconds 10] [--index DIR] [--engine LABEL]
 *        [--efc N] [--efs 128,512,2048] [--build-only] [--store embedded|postgres-local] [--shared-buffers SIZE]
 * The server runs from dist/cli.js when it is built (`npm run build`: as users run it), else
 * through tsx (whose TypeScript loading adds about a second to start-up).
 * The model and the index are cached under the OS temp folder between runs (--index names an
 * index built elsewhere for this model instead); an interrupted build resumes. `--efc` builds with
 * another expansion_add than the engine's default: a faster build, for start-up and memory at 10M
 * (the graph's size and layout depend on M, not on it; recall does). Prints JSON: start-up
 * (listening, ready, first answer), text queries at 1, 4 and 16 connections, a cached text
 * embedding, a folder filter (the same folder, then a folder not asked for before each time, until
 * every folder has been), image queries; in process, the graph search time of text and image
 * queries and the recall@10 of 100 of each, at the searcher's default breadth for each kind and at each of
 * `--efs`. Recall needs exact search: skipped past the store's in-memory copy of the vectors (a
 * million 512-d ones), where each exact query reads the whole catalog (bench/engines.ts measures
 * recall at any size).
 * `--store postgres-local`: the server answers from a copy of the index (`index copy`, so the same
 * items and vectors) in this machine's PostgreSQL with pgvector, started in a temp folder as the
 * tests start it (fsync off; see .ci/install-pgvector); a text query with a folder filter is
 * measured as well, and recall's exact answers come from the embedded index (the same data).
 * `--shared-buffers SIZE`: that server's shared_buffers (PostgreSQL's default: 128MB).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { openClip, type ModelVariant } from '../src/model/index.js';
import { writeRandomClipModel, type RandomClipSize } from '../src/model/export/index.js';
import { chooseEf, DEFAULT_K } from '../src/search/index.js';
import { EXACT_COPY_LIMITS } from '../src/store/embedded/search-planner.js';
import { copyIndex, openIndex, parseEngineLabel, type CatalogChange } from '../src/store/index.js';
import { ClipLikeVectors, vectorRows } from './clip-like-vectors.js';
import { makePng } from '../test/fixtures/images.js';

const { values } = parseArgs({
  options: {
    vectors: { type: 'string', default: '100000' },
    size: { type: 'string', default: 'vit-b-32' },
    model: { type: 'string' },
    variant: { type: 'string', default: 'int8' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    seconds: { type: 'string', default: '10' },
    index: { type: 'string' },
    engine: { type: 'string', default: 'usearch' },
    efc: { type: 'string' },
    efs: { type: 'string' },
    'build-only': { type: 'boolean', default: false },
    store: { type: 'string', default: 'embedded' },
    'shared-buffers': { type: 'string' },
  },
});
if (values.store !== 'embedded' && values.store !== 'postgres-local') throw new Error(`--store embedded or postgres-local, got ${values.store}`);
const vectorCount = Number(values.vectors);
const threads = Number(values.threads);
const seconds = Number(values.seconds);
const variant = values.variant as ModelVariant;
/** Breadths measured in process besides the searcher's defaults. */
const extraEfs = (values.efs ?? '').split(',').filter((x) => x !== '').map(Number);
if (extraEfs.some((ef) => !Number.isInteger(ef) || ef < 1)) throw new Error(`--efs takes positive integers, got ${values.efs}`);
const repoRoot = path.resolve(import.meta.dirname, '..');
const log = (message: string) => process.stderr.write(`bench/server: ${message}\n`);

const modelDir = values.model ?? path.join(os.tmpdir(), `rsclip-bench-model-${values.size}-int8`);
if (!existsSync(modelDir)) {
  log(`writing a random ${values.size} CLIP to ${modelDir}`);
  await writeRandomClipModel(modelDir, { size: values.size as RandomClipSize, seed: 0, quantize: 'int8', writeCheckpoint: false });
}
const probe = await openClip(modelDir, { variant, threads: 1 });
const model = probe.info;
await probe.close();

/** An engine label as `rsclip index --engine` takes it (usearch, hnswlib, usearch:i8, usearch:f16:M32 ...). */
const engine = values.engine;
const engineChoice = parseEngineLabel(engine);
const efConstruction = values.efc === undefined ? undefined : Number(values.efc);
const vectors = new ClipLikeVectors({ items: vectorCount, dim: model.embeddingDim, seed: 1 });
const indexDir = values.index ?? path.join(os.tmpdir(), `rsclip-bench-index-${model.fingerprint.slice(0, 12)}-${vectorCount}-${engine.replaceAll(':', '-')}${efConstruction === undefined ? '' : `-efc${efConstruction}`}`);
// A build of millions takes hours on 2 cores: it resumes where it stopped (each commit is atomic and
// items go in order), and is complete once its marker is written.
const builtMarker = path.join(indexDir, 'bench-built.json');
let build: { seconds: number; items: number } | undefined;
if (!values.index && !existsSync(builtMarker)) {
  const start = performance.now();
  const store = await openIndex(indexDir, { model, create: true, engine: { ...engineChoice, ...(efConstruction === undefined ? {} : { efConstruction }) } });
  const resumeAt = await store.countItems();
  log(`building an index of ${vectorCount} CLIP-like ${model.embeddingDim}-d vectors (${engine}) in ${indexDir}${resumeAt ? `, resuming at ${resumeAt}` : ''}`);
  const batch = 2000;
  for (let done = resumeAt; done < vectorCount; done += batch) {
    const changes: CatalogChange[] = vectorRows(vectors.images(done, Math.min(batch, vectorCount - done)), model.embeddingDim).map((vector, i) => {
      const n = done + i;
      return {
        kind: 'put',
        file: { root: '/bench/archive', path: `f${Math.floor(n / 1000)}/img-${n}.jpg`, bytes: 100_000, mtimeMs: 1_600_000_000_000 + n, contentHash: `h${n}`, width: 256, height: 256, format: 'jpeg' },
        vector,
      };
    });
    await store.commit(changes);
    if (((done - resumeAt) / batch) % 10 === 0) log(`  ${done + changes.length}/${vectorCount}`);
  }
  await store.close();
  build = { seconds: (performance.now() - start) / 1000, items: vectorCount - resumeAt };
  writeFileSync(builtMarker, `${JSON.stringify(build)}\n`);
}
if (values['build-only']) {
  console.log(JSON.stringify({ index: { vectors: vectorCount, engine, efConstruction: efConstruction ?? 'default', dir: indexDir, build: build ?? 'cached' } }, null, 2));
  process.exit(0);
}

/** The index the server answers from: the embedded one, or its copy in a local PostgreSQL. */
let servedIndex = indexDir;
let copyToPostgres: { seconds: number } | undefined;
let stopPostgres = async () => {};
if (values.store === 'postgres-local') {
  const { postgresHasPgvector, startPostgres } = await import('../test/store/postgres-server.js');
  if (!postgresHasPgvector) throw new Error('--store postgres-local needs PostgreSQL with pgvector installed on this machine (.ci/install-pgvector builds it for Debian 12)');
  const local = await startPostgres(values['shared-buffers'] ? [`shared_buffers=${values['shared-buffers']}`] : []);
  stopPostgres = local.stop;
  servedIndex = `${local.url}?schema=bench`;
  log(`copying the index into PostgreSQL (${servedIndex})`);
  const start = performance.now();
  await copyIndex(indexDir, servedIndex, { pageSize: 5000 });
  copyToPostgres = { seconds: (performance.now() - start) / 1000 };
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

log('starting rsclip serve');
const spawnedAt = performance.now();
const builtCli = path.join(repoRoot, 'dist/cli.js');
const cli = existsSync(builtCli) ? [builtCli] : ['--import', 'tsx', path.join(repoRoot, 'src/cli.ts')];
const child = spawn(process.execPath, [...cli, 'serve', '--index', servedIndex, '--model', modelDir, '--variant', variant, '--port', '0', '--threads', String(threads)], {
  cwd: repoRoot,
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serverLog = '';
const url = await new Promise<string>((resolve, reject) => {
  const onData = (d: Buffer) => {
    serverLog += d.toString();
    const match = /"url":"(http:\/\/[^"]+)"/.exec(serverLog);
    if (match) {
      // keep draining the request logs, without keeping them
      child.stderr.off('data', onData);
      child.stderr.resume();
      resolve(match[1]!.replace(/\/$/, ''));
    }
  };
  child.stderr.on('data', onData);
  child.on('exit', (code) => reject(new Error(`rsclip serve exited with ${code}: ${serverLog}`)));
});
const listeningMs = performance.now() - spawnedAt;
// the first answer to a text query (the text tower opens while the server binds)
const firstAnswer = await fetch(`${url}/api/search?q=${encodeURIComponent('an airport')}&k=${DEFAULT_K}`);
const firstAnswerMs = performance.now() - spawnedAt;
if (firstAnswer.status !== 200) throw new Error(`first query answered ${firstAnswer.status}: ${await firstAnswer.text()}`);
while ((await fetch(`${url}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 20));
const readyMs = performance.now() - spawnedAt;
const rssReadyMiB = rssMiB(child.pid!);

const phrases = ['an airport with parked planes', 'a river crossing farmland', 'a dense residential area', 'a stadium next to a parking lot', 'a forest with a road', 'a harbour with boats', 'a beach and the sea', 'a bridge over a river', 'a baseball field', 'storage tanks near a port', 'a church in a town', 'bare land', 'a desert with dunes', 'a meadow', 'a mountain road', 'an industrial area', 'a playground', 'a pond in a park', 'a railway station', 'a school', 'a square with trees', 'a viaduct', 'farmland with circles', 'a commercial area'];

interface Run {
  connections: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  non2xx: number;
  errors: number;
}

async function load(connections: number, request: autocannon.Request): Promise<Run> {
  const result = await autocannon({ url, connections, duration: seconds, requests: [request] });
  return {
    connections,
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.average, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

let n = 0;
const textQuery: autocannon.Request = {
  method: 'GET',
  // every text is new, so that the server's text-embedding cache never answers
  setupRequest: (req) => ({ ...req, path: `/api/search?q=${encodeURIComponent(`${phrases[n % phrases.length]} ${n++}`)}&k=${DEFAULT_K}` }),
};
/** One text again and again: the cached embedding, i.e. HTTP + HNSW + catalog lookups without the model. */
const cachedTextQuery: autocannon.Request = { method: 'GET', path: `/api/search?q=${encodeURIComponent(phrases[0]!)}&k=${DEFAULT_K}` };
const png = makePng(77, 320, 320);
/** A text query over one folder of the 1,000-item folders (f0/...): the selection counted by the searcher, as every filtered query. */
const filteredTextQuery: autocannon.Request = {
  method: 'GET',
  setupRequest: (req) => ({ ...req, path: `/api/search?q=${encodeURIComponent(`${phrases[n % phrases.length]} ${n++}`)}&k=${DEFAULT_K}&filter=${encodeURIComponent('folder=f0')}` }),
};
/** Folders of the index (1,000 items each: f0, f1, ...). */
const folderCount = Math.ceil(vectorCount / 1000);
let folder = 0;
/** A text query over a folder not asked for before (f1, f2, ... in turn): the folder's first read of its items, which the server then keeps. */
const newFolderTextQuery: autocannon.Request = {
  method: 'GET',
  setupRequest: (req) => ({ ...req, path: `/api/search?q=${encodeURIComponent(`${phrases[n % phrases.length]} ${n++}`)}&k=${DEFAULT_K}&filter=${encodeURIComponent(`folder=f${1 + (folder++ % Math.max(1, folderCount - 1))}`)}` }),
};
const imageQuery: autocannon.Request = { method: 'POST', path: `/api/search/image?k=${DEFAULT_K}`, headers: { 'content-type': 'image/png' }, body: png };

log('warm-up');
await load(4, textQuery);
log('text queries, 1 connection');
const text1 = await load(1, textQuery);
log('text queries, 4 connections');
const text4 = await load(4, textQuery);
log('text queries, 16 connections');
const text16 = await load(16, textQuery);
log('cached text query, 1 connection');
const cached1 = await load(1, cachedTextQuery);
log('text queries with a folder filter, 1 connection');
const filtered1 = await load(1, filteredTextQuery);
log('text queries with the filter of a new folder each, 1 connection');
const newFolder1 = await load(1, newFolderTextQuery);
log('image queries, 1 connection');
const image1 = await load(1, imageQuery);
log('image queries, 4 connections');
const image4 = await load(4, imageQuery);
const stats = (await (await fetch(`${url}/api/stats`)).json()) as { textBatching: { calls: number; texts: number } };
const rssAfterMiB = rssMiB(child.pid!);
const exited = new Promise((resolve) => child.on('exit', resolve));
child.kill('SIGTERM');
await exited;

// in-process: what one search costs the event loop, and what the searcher's default breadths find
log('in-process HNSW and exact search');
const store = await openIndex(servedIndex, { readonly: true });
// exact answers from the embedded index: the same items and vectors as its copy, and far faster
const exactStore = servedIndex === indexDir ? store : await openIndex(indexDir, { readonly: true });
const queries = vectorRows(vectors.texts(0, 500), model.embeddingDim);
const imageQueries = vectorRows(vectors.images(vectorCount, 500), model.embeddingDim);
const efOf = { image: chooseEf(DEFAULT_K + 1, undefined, 'image'), text: chooseEf(DEFAULT_K + 1, undefined, 'text') };
const breadths = [...new Set([...Object.values(efOf), ...extraEfs])].sort((a, b) => a - b);
// a first pass at the widest breadth faults the mapped graph's pages in, so that no breadth is timed cold
for (const q of queries) await store.search(q, DEFAULT_K + 1, { ef: breadths.at(-1)! });
const hnswMs: Record<'text' | 'image', Record<string, number[]>> = { text: {}, image: {} };
for (const [kind, qs] of [['text', queries], ['image', imageQueries]] as const) {
  for (const ef of breadths) {
    const ms: number[] = (hnswMs[kind][`ef${ef}`] = []);
    for (const q of qs) {
      const start = performance.now();
      await store.search(q, DEFAULT_K + 1, { ef });
      ms.push(performance.now() - start);
    }
  }
}
// past the store's in-memory copy, each exact query reads the whole catalog (minutes at 10M)
const exactFits = vectorCount * model.embeddingDim * 4 <= EXACT_COPY_LIMITS.bytes;
const RECALL_QUERIES = 100;
const RECALL_K = 10;
let firstExactMs: number | undefined;
const exactMs: number[] = [];
const recallAt10: Record<string, Record<string, number>> = {};
if (exactFits) {
  const recallQueries = { text: queries.slice(0, RECALL_QUERIES), image: imageQueries.slice(0, RECALL_QUERIES) };
  const firstExactStart = performance.now();
  await exactStore.search(queries[0]!, DEFAULT_K, { exact: true });
  firstExactMs = performance.now() - firstExactStart;
  for (const [kind, qs] of Object.entries(recallQueries)) {
    const truths: Set<number>[] = [];
    for (const q of qs) {
      const start = performance.now();
      truths.push(new Set((await exactStore.search(q, RECALL_K, { exact: true })).map((h) => h.id)));
      exactMs.push(performance.now() - start);
    }
    recallAt10[kind] = {};
    for (const ef of breadths) {
      let found = 0;
      for (const [i, q] of qs.entries()) found += (await store.search(q, RECALL_K, { ef })).filter((h) => truths[i]!.has(h.id)).length;
      recallAt10[kind][`ef${ef}`] = found / (RECALL_K * qs.length);
    }
  }
}
await store.close();
if (exactStore !== store) await exactStore.close();
await stopPostgres();
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const round = (x: number) => Math.round(x * 100) / 100;
const msSummary = (byEf: Record<string, number[]>) => Object.fromEntries(Object.entries(byEf).map(([ef, ms]) => [ef, { k: DEFAULT_K, p50: round(pct(ms, 0.5)), p99: round(pct(ms, 0.99)) }]));

process.stdout.write(
  `${JSON.stringify(
    {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      node: process.version,
      model: { id: model.id, variant, embeddingDim: model.embeddingDim, threads },
      store: values.store,
      ...(values.store === 'postgres-local' ? { sharedBuffers: values['shared-buffers'] ?? 'default (128MB)' } : {}),
      ...(copyToPostgres ? { copyToPostgresSeconds: round(copyToPostgres.seconds) } : {}),
      index: { vectors: vectorCount, engine, efConstruction: efConstruction ?? 'default', dir: indexDir, build: build ? { seconds: round(build.seconds), items: build.items, itemsPerSecond: round(build.items / build.seconds) } : 'cached' },
      server: cli[0] === builtCli ? 'dist/cli.js' : 'tsx src/cli.ts',
      secondsPerRun: seconds,
      startup: { listeningMs: Math.round(listeningMs), firstAnswerMs: Math.round(firstAnswerMs), readyMs: Math.round(readyMs), rssReadyMiB, rssAfterLoadMiB: rssAfterMiB },
      textQuery: { c1: text1, c4: text4, c16: text16, cachedEmbeddingC1: cached1, folderFilterC1: filtered1, newFolderFilterC1: { ...newFolder1, foldersAskedFor: Math.min(folder, folderCount - 1) } },
      imageQuery: { c1: image1, c4: image4 },
      textBatching: { encoderCalls: stats.textBatching.calls, texts: stats.textBatching.texts, meanBatch: round(stats.textBatching.texts / stats.textBatching.calls) },
      inProcess: {
        hnswSearchMsOfTextQueries: msSummary(hnswMs.text),
        hnswSearchMsOfImageQueries: msSummary(hnswMs.image),
        exactSearchMs: exactFits ? { firstCallWithCacheBuild: round(firstExactMs!), p50: round(pct(exactMs, 0.5)), max: round(Math.max(...exactMs)) } : 'skipped: past the in-memory copy, each exact query reads the catalog',
        defaultEf: efOf,
        recallAt10: exactFits ? recallAt10 : 'skipped (no exact search)',
      },
    },
    null,
    2,
  )}\n`,
);
