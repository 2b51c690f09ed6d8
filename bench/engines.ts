/**
 * The vector engines side by side on the same CLIP-like vectors (bench/clip-like-vectors.ts):
 * build rate, recall@k against exact float32 search at several ef (image queries and text
 * queries apart; of the engine's own top k, and `reranked`: of the candidates the store asks of
 * an engine of reduced precision, ordered by float32 cosine as the store orders them), single-thread
 * QPS, RSS per item, file size, and the time from process start
 * to the first answer, loading the file or (usearch) mapping it as a server opens its index: with
 * the sha256 that the index's checkpoint recorded for the file, so it is not hashed again (the
 * build writes it beside the file; a file kept from an older build is hashed once, untimed), and
 * for ivf (opened as a reader, `--mapped`) the time until every list's vectors are read. Each engine builds in its own
 * process and is served from its file in fresh processes, so RSS and start-up are its own.
 *
 *   npx tsx bench/engines.ts [--items 1000000] [--queries 1000] [--k 10] [--efs 32,64,128,256]
 *     [--engines hnswlib,usearch:f32,usearch:f16,usearch:i8] [--work DIR] [--seed 1] [--keep]
 * An engine label may set build parameters: usearch:f16:M32, hnswlib:M24:efc300; `ivf` is the
 * inverted-file engine.
 *
 * Ground truth (exact top-k, float32) is computed once per (items, dim, seed, queries) and kept
 * in --work (default $TMPDIR/rsclip-bench-engines) with the built graphs (deleted unless --keep).
 * An engine whose estimated memory exceeds 70 % of the available memory is skipped, so that the
 * run never drives a shared machine into swap. Prints JSON on stdout, progress on stderr.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { checkGraphFile, createGraph, loadGraph, parseEngineLabel, resolveEngine, type EngineSpec } from '../src/store/engines.js';
import { fileIdentity } from '../src/store/file-identity.js';
import type { GraphFileDigest } from '../src/store/graph-index.js';
import { RERANK_EXTRA } from '../src/store/embedded/search-planner.js';
import { IvfIndex } from '../src/store/ivf-index.js';
import { bestFirst, dot as dotProduct, TopK } from '../src/vector-math.js';
import { ClipLikeVectors, vectorRows } from './clip-like-vectors.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '1000000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '1000' },
    k: { type: 'string', default: '10' },
    efs: { type: 'string', default: '32,64,128,256' },
    engines: { type: 'string', default: 'hnswlib,usearch:f32,usearch:f16,usearch:i8' },
    work: { type: 'string', default: path.join(os.tmpdir(), 'rsclip-bench-engines') },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
    engine: { type: 'string' },
    mapped: { type: 'boolean', default: false },
  },
});
const items = Number(args.items);
const dim = Number(args.dim);
const queryCount = Number(args.queries);
const k = Number(args.k);
const efs = args.efs!.split(',').map(Number);
const seed = Number(args.seed);
const work = args.work!;
const CHUNK = 10_000;
const log = (message: string) => process.stderr.write(`bench/engines: ${message}\n`);
const generator = () => new ClipLikeVectors({ items, dim, seed });
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

function parseEngine(label: string): EngineSpec {
  return resolveEngine(parseEngineLabel(label));
}

/** CPU time of this process (all threads), ms: steadier than wall time on a shared machine. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function rssMB(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

function availableMB(): number {
  const match = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Math.round((match ? Number(match[1]) * 1024 : os.freemem()) / 2 ** 20);
}

/** Bytes per item an engine is expected to take (vectors + layer-0 links + bookkeeping). */
function estimatedBytesPerItem(spec: EngineSpec): number {
  // ivf: int8 vectors and a u32 id in its list, twice while it trains its lists again
  if (spec.name === 'ivf') return 2 * (dim + 4) + 64;
  const scalar = spec.name === 'hnswlib' ? 4 : { f32: 4, f16: 2, i8: 1 }[spec.quantization];
  return dim * scalar + spec.M * 2 * 4 * 1.2 + 64;
}

/** Queries: half held-out images (items past the archive), half text queries. */
function queries(): { image: Float32Array; text: Float32Array; count: { image: number; text: number } } {
  const gen = generator();
  const image = Math.ceil(queryCount / 2);
  const text = queryCount - image;
  return { image: gen.images(items, image), text: gen.texts(0, text), count: { image, text } };
}

const rows = (data: Float32Array): Float32Array[] => vectorRows(data, dim);

const truthFile = () => path.join(work, `truth-${items}-${dim}-${seed}-${queryCount}-${k}.json`);

/** Exact top-k of every query over all items (usearch's SIMD brute force, one chunk of items at a time). */
function groundTruth(): { ids: number[][]; seconds: number; checked: number } {
  if (existsSync(truthFile())) return JSON.parse(readFileSync(truthFile(), 'utf8')) as ReturnType<typeof groundTruth>;
  const started = performance.now();
  const gen = generator();
  const q = queries();
  const all = rows(q.image).concat(rows(q.text));
  const flat = new Float32Array(all.length * dim);
  all.forEach((v, i) => flat.set(v, i * dim));
  const tops = all.map(() => new TopK(k));
  let checked = 0;
  for (let start = 0; start < items; start += 100_000) {
    const count = Math.min(100_000, items - start);
    const data = gen.images(start, count);
    const found = exactSearch(data, flat, dim, k, MetricKind.Cos, 0) as BatchMatches;
    for (let i = 0; i < all.length; i++) {
      const m = found.get(i);
      for (let j = 0; j < m.keys.length; j++) tops[i]!.offer(start + Number(m.keys[j]), 1 - m.distances[j]!);
    }
    if (start === 0) {
      // the oracle checked against plain float64 dot products on the first chunk
      for (let i = 0; i < Math.min(5, all.length); i++) {
        const plain = new TopK(k);
        for (let r = 0; r < count; r++) {
          let s = 0;
          for (let j = 0; j < dim; j++) s += all[i]![j]! * data[r * dim + j]!;
          plain.offer(r, s);
        }
        const expected = plain.bestFirst().map((h) => h.id);
        const got = [...found.get(i).keys].map(Number);
        const overlap = expected.filter((id) => got.includes(id)).length;
        if (overlap < k - 1) throw new Error(`usearch exactSearch disagrees with plain dot products on query ${i}: ${got} vs ${expected}`);
        checked++;
      }
    }
    log(`ground truth ${start + count}/${items}`);
  }
  const truth = { ids: tops.map((t) => t.bestFirst().map((h) => h.id)), seconds: round((performance.now() - started) / 1000), checked };
  writeFileSync(truthFile(), JSON.stringify(truth));
  return truth;
}

/** Statistics of the generated data, to compare with real CLIP embeddings. */
function dataStats(truth: number[][]): Record<string, number> {
  const gen = generator();
  const sample = gen.images(0, 4000);
  const cos = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let x = 0; x < dim; x++) s += a[i * dim + x]! * b[j * dim + x]!;
    return s;
  };
  let pairs = 0;
  for (let p = 0; p < 2000; p++) pairs += cos(sample, p, sample, 2000 + ((p * 7919) % 2000));
  const q = queries();
  const top1 = (set: Float32Array, offset: number, count: number) =>
    Array.from({ length: count }, (_, i) => cos(set, i, gen.images(truth[offset + i]![0]!, 1), 0)).sort((a, b) => a - b);
  const imageTop1 = top1(q.image, 0, q.count.image);
  const textTop1 = top1(q.text, q.count.image, q.count.text);
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
  return {
    meanCosineOfRandomPairs: round(pairs / 2000, 3),
    medianTop1CosineImageQueries: round(median(imageTop1), 3),
    medianTop1CosineTextQueries: round(median(textTop1), 3),
  };
}

/** Child: builds the engine's graph from the generated items and saves it. */
async function buildChild(spec: EngineSpec, file: string): Promise<Record<string, number>> {
  const gen = generator();
  const baseline = rssMB();
  const graph = createGraph(spec, dim, items);
  const started = performance.now();
  const cpuStarted = cpuMs();
  let generating = 0;
  let lastLog = started;
  for (let start = 0; start < items; start += CHUNK) {
    const count = Math.min(CHUNK, items - start);
    const t = performance.now();
    const data = gen.images(start, count);
    generating += performance.now() - t;
    graph.addMany(rows(data).map((v, i) => [start + i + 1, v] as const));
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      const done = start + count;
      const rate = done / ((lastLog - started - generating) / 1000);
      log(`${args.engine}: ${done}/${items} built, ${Math.round(rate)}/s, about ${Math.round((items - done) / rate / 60)} min left`);
    }
  }
  const buildSeconds = (performance.now() - started - generating) / 1000;
  // generating runs on one thread, so its CPU time is its wall time
  const buildCpuSeconds = (cpuMs() - cpuStarted - generating) / 1000;
  const rssBuilt = rssMB();
  const t = performance.now();
  writeFileSync(digestFile(file), JSON.stringify(await graph.save(file)));
  const saveSeconds = (performance.now() - t) / 1000;
  const threads = spec.name === 'hnswlib' ? 1 : os.availableParallelism();
  return {
    buildSeconds: round(buildSeconds),
    buildThreads: threads,
    itemsPerSecond: Math.round(items / buildSeconds),
    itemsPerSecondPerThread: Math.round(items / buildSeconds / threads),
    itemsPerCpuSecond: Math.round(items / buildCpuSeconds),
    buildRssMB: rssBuilt,
    buildRssBytesPerItem: Math.round(((rssBuilt - baseline) * 2 ** 20) / items),
    saveSeconds: round(saveSeconds),
    fileBytes: statSync(file).size,
    fileBytesPerItem: Math.round(statSync(file).size / items),
  };
}

const digestFile = (file: string) => `${file}.digest.json`;

/** The size, sha256 and identity of a saved graph as its build recorded them, or as hashed now when the file is not the one recorded. */
function recordedDigest(spec: EngineSpec, file: string): GraphFileDigest {
  const recorded = existsSync(digestFile(file)) ? (JSON.parse(readFileSync(digestFile(file), 'utf8')) as GraphFileDigest) : undefined;
  if (recorded?.identity === identityOf(file)) return recorded;
  const digest = checkGraphFile(spec, file, dim);
  writeFileSync(digestFile(file), JSON.stringify(digest));
  return digest;
}

function identityOf(file: string): string {
  const fd = openSync(file, 'r');
  try {
    return fileIdentity(fd);
  } finally {
    closeSync(fd);
  }
}

/** Child: opens the saved graph as a server would, answers one query, then measures recall and QPS. */
async function serveChild(spec: EngineSpec, file: string, mapped: boolean, truth: number[][]): Promise<Record<string, unknown>> {
  const baseline = rssMB();
  const q = queries();
  const all = rows(q.image).concat(rows(q.text));
  const digest = recordedDigest(spec, file);
  const opened = performance.now();
  const graph = loadGraph(spec, file, dim, { mapped, knownSha256: (identity) => (identity === digest.identity ? digest.sha256 : undefined) });
  const openMs = performance.now() - opened;
  graph.searchBestFirst(all[0]!, k, { ef: efs[0] });
  const firstAnswerMs = performance.now() - opened;
  log('first-answer');
  const rssOpened = rssMB();
  // ivf reads its lists' vectors after the first answer, off the event loop
  if (graph instanceof IvfIndex) await graph.whenRead();
  const readMs = performance.now() - opened;
  const warm = performance.now();
  for (const v of all) graph.searchBestFirst(v, k, { ef: Math.max(...efs) });
  const warmUpSeconds = (performance.now() - warm) / 1000;
  const gen = generator();
  const candidates = k + RERANK_EXTRA[graph.scorePrecision](k);
  const perEf = efs.map((ef) => {
    let hitsImage = 0;
    let hitsText = 0;
    let rerankedImage = 0;
    let rerankedText = 0;
    const started = performance.now();
    const cpuStarted = cpuMs();
    const found = all.map((v) => graph.searchBestFirst(v, k, { ef }));
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = (cpuMs() - cpuStarted) / 1000;
    found.forEach((hits, i) => {
      const expected = new Set(truth[i]);
      const hit = hits.filter((h) => expected.has(h.id - 1)).length;
      if (i < q.count.image) hitsImage += hit;
      else hitsText += hit;
    });
    // as the store searches an engine of reduced precision: more candidates, re-ranked on float32 vectors (regenerated here)
    const rerankStarted = cpuMs();
    const wider = all.map((v) => graph.searchBestFirst(v, candidates, { ef }));
    const rerankCpuSeconds = (cpuMs() - rerankStarted) / 1000;
    wider.forEach((hits, i) => {
      const exact = hits.map(({ id }) => ({ id, score: dotProduct(all[i]!, gen.images(id - 1, 1)) }));
      const expected = new Set(truth[i]);
      const hit = bestFirst(exact, k).filter((h) => expected.has(h.id - 1)).length;
      if (i < q.count.image) rerankedImage += hit;
      else rerankedText += hit;
    });
    return {
      ef,
      recallImageQueries: round(hitsImage / (q.count.image * k), 4),
      recallTextQueries: round(hitsText / (q.count.text * k), 4),
      recall: round((hitsImage + hitsText) / (all.length * k), 4),
      queriesPerSecondOneThread: Math.round(all.length / seconds),
      queriesPerCpuSecond: Math.round(all.length / cpuSeconds),
      reranked: {
        candidates,
        recallImageQueries: round(rerankedImage / (q.count.image * k), 4),
        recallTextQueries: round(rerankedText / (q.count.text * k), 4),
        queriesPerCpuSecondEngineOnly: Math.round(all.length / rerankCpuSeconds),
      },
    };
  });
  return {
    mode: mapped ? 'mapped' : 'loaded',
    openMs: round(openMs),
    firstAnswerMs: round(firstAnswerMs),
    ...(graph instanceof IvfIndex ? { everyListReadMs: round(readMs) } : {}),
    rssAfterFirstAnswerMB: rssOpened,
    rssBytesPerItemAfterFirstAnswer: Math.round(((rssOpened - baseline) * 2 ** 20) / items),
    warmUpSeconds: round(warmUpSeconds, 2),
    rssAfterQueriesMB: rssMB(),
    rssBytesPerItemAfterQueries: Math.round(((rssMB() - baseline) * 2 ** 20) / items),
    perEf,
  };
}

/** Runs this script as a child; resolves with its JSON and the ms from spawn to its `first-answer` line. */
function runChild(extra: string[]): Promise<{ result: Record<string, unknown>; firstAnswerAfterSpawnMs: number | undefined }> {
  return new Promise((resolve, reject) => {
    const spawned = performance.now();
    let firstAnswerAfterSpawnMs: number | undefined;
    const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, ...process.argv.slice(2), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      if (firstAnswerAfterSpawnMs === undefined && text.includes('first-answer')) firstAnswerAfterSpawnMs = performance.now() - spawned;
      process.stderr.write(text.replace(/^bench\/engines: first-answer\n/m, ''));
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ result: JSON.parse(stdout) as Record<string, unknown>, firstAnswerAfterSpawnMs }) : reject(new Error(`child ${extra.join(' ')} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  if (args.child) {
    const spec = parseEngine(args.engine!);
    const file = path.join(work, `${args.engine!.replace(':', '-')}-${items}.graph`);
    const result = args.child === 'build' ? await buildChild(spec, file) : await serveChild(spec, file, args.mapped === true, groundTruth().ids);
    process.stdout.write(JSON.stringify(result));
    return;
  }
  log(`${items} items x ${dim}, ${queryCount} queries; ${availableMB()} MB available`);
  const truth = groundTruth();
  const engines: Record<string, unknown>[] = [];
  for (const label of args.engines!.split(',')) {
    const spec = parseEngine(label);
    const neededMB = Math.round((estimatedBytesPerItem(spec) * items) / 2 ** 20) + 600;
    if (neededMB > 0.7 * availableMB()) {
      engines.push({ engine: label, skipped: `needs about ${neededMB} MB, ${availableMB()} MB available` });
      log(`${label}: skipped, needs about ${neededMB} MB`);
      continue;
    }
    log(`${label}: building`);
    const build = (await runChild(['--child', 'build', '--engine', label])).result;
    const serve: Record<string, unknown>[] = [];
    // ivf: as a reader opens it (its vectors read after the first answer); a writer reads them at the open
    for (const mapped of spec.name === 'usearch' ? [false, true] : [spec.name === 'ivf']) {
      log(`${label}: serving ${mapped ? 'mapped' : 'loaded'}`);
      const { result, firstAnswerAfterSpawnMs } = await runChild(['--child', 'serve', '--engine', label, ...(mapped ? ['--mapped'] : [])]);
      serve.push({ ...result, firstAnswerAfterProcessStartMs: firstAnswerAfterSpawnMs === undefined ? undefined : round(firstAnswerAfterSpawnMs) });
    }
    engines.push({ engine: label, spec, build, serve });
    if (!args.keep) rmSync(path.join(work, `${label.replace(':', '-')}-${items}.graph`), { force: true });
  }
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'engines',
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        loadAverage1m: round(os.loadavg()[0]!, 2),
        note: 'processes start through tsx; a shared machine makes timings noisy',
        items,
        dim,
        queries: queryCount,
        k,
        data: { generator: 'bench/clip-like-vectors.ts', seed, ...dataStats(truth.ids), groundTruthSeconds: truth.seconds, oracleCheckedQueries: truth.checked },
        engines,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
