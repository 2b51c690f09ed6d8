/**
 * Text queries on a graph built from image embeddings: RoarGraph-style base-layer edges written
 * into a saved usearch file. Text embeddings sit apart from the images (the modality gap), so a
 * graph that links images to their image neighbours guides a text query poorly. Training text
 * queries fix that: for each, its exact top-k images are linked from its nearest image (and its
 * 2nd..T-th nearest, the anchors), RNG-pruned to at most R per anchor, plus the reverse edges.
 * Every edge usearch built is kept; the new ones only fill the base layer's spare capacity
 * (connectivity_base = 2M), so the file keeps usearch's layout and loads as any other.
 *
 *   npx tsx bench/graph-rewrite.ts [--items 20000] [--train ITEMS] [--test 1000] [--k 100]
 *     [--anchors 3] [--degree 24] [--M 16] [--quantization f16] [--efs 16,32,64,128,256]
 *     [--rounds 3] [--seed 1] [--work DIR]
 *
 * Steps: build the plain graph as rsclip does (src/store/engines.ts, usearch:<quantization>:M<M>,
 * efConstruction 200) and save it; exact top-k of the test and training queries by a small ONNX
 * graph (Gemm of a query chunk by an item chunk, then TopK) run by onnxruntime-node, chunks merged
 * here and a few queries checked against plain dot products; parse the file, write it back and
 * require identical bytes (bench/usearch-graph-file.ts); add the projected edges and write a second
 * file; load both as rsclip does and measure recall@10 against the exact top 10 and single-thread
 * queries per CPU second, alternating the two files. Test queries: texts(0, test) and
 * images(items, test); training queries: texts from 10^7 on, from the same generator (which
 * flatters the method: real training queries would come from a different distribution than the
 * users' ones). Files go to --work (default $TMPDIR/rsclip-bench-graph-rewrite). Prints JSON on
 * stdout, progress on stderr.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { attr, GraphBuilder } from '../src/model/export/graph-builder.js';
import { encodeModel, OnnxDataType } from '../src/model/export/onnx-proto.js';
import { createGraph, engineLabel, loadGraph, parseEngineLabel, resolveEngine, type EngineSpec } from '../src/store/engines.js';
import type { GraphIndex } from '../src/store/graph-index.js';
import { ClipLikeVectors, vectorRows } from './clip-like-vectors.js';
import { readUsearchGraph, writeUsearchGraph } from './usearch-graph-file.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '20000' },
    train: { type: 'string' },
    test: { type: 'string', default: '1000' },
    k: { type: 'string', default: '100' },
    anchors: { type: 'string', default: '3' },
    degree: { type: 'string', default: '24' },
    M: { type: 'string', default: '16' },
    quantization: { type: 'string', default: 'f16' },
    efs: { type: 'string', default: '16,32,64,128,256' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    work: { type: 'string', default: path.join(os.tmpdir(), 'rsclip-bench-graph-rewrite') },
  },
});
const items = Number(args.items);
const trainCount = Number(args.train ?? args.items);
const testCount = Number(args.test);
const K = Number(args.k);
const anchors = Number(args.anchors);
const degree = Number(args.degree);
const efs = args.efs!.split(',').map(Number);
const rounds = Number(args.rounds);
const seed = Number(args.seed);
const work = args.work!;
const DIM = 512;
/** Recall@RECALL_K, as a search asks for its first page. */
const RECALL_K = 10;
const TRAIN_START = 10_000_000;
const ITEM_CHUNK = 10_000;
const QUERY_CHUNK = 1000;
const ORACLE_QUERIES = 3;
const log = (message: string) => process.stderr.write(`bench/graph-rewrite: ${message}\n`);
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const spec: EngineSpec = resolveEngine(parseEngineLabel(`usearch:${args.quantization}:M${args.M}`));
if (spec.name !== 'usearch') throw new Error('usearch only');
const quantization = spec.quantization;

const gen = new ClipLikeVectors({ items, dim: DIM, seed });
const base = gen.images(0, items);
const dot = (a: Float32Array, i: number, b: Float32Array, j: number): number => {
  let s = 0;
  for (let x = 0; x < DIM; x++) s += a[i * DIM + x]! * b[j * DIM + x]!;
  return s;
};

/** Builds and saves the plain graph as bench/engines.ts does: item id = row + 1, batches of 10,000 (the first inserted serially). */
async function buildPlain(file: string): Promise<{ seconds: number; cpuSeconds: number }> {
  const graph = createGraph(spec, DIM, items);
  const started = performance.now();
  const cpuStarted = cpuSeconds();
  for (let start = 0; start < items; start += ITEM_CHUNK) {
    const rows = vectorRows(base.subarray(start * DIM, Math.min(items, start + ITEM_CHUNK) * DIM), DIM);
    graph.addMany(rows.map((v, i) => [start + i + 1, v] as const));
  }
  const result = { seconds: round((performance.now() - started) / 1000), cpuSeconds: round(cpuSeconds() - cpuStarted) };
  await graph.save(file);
  return result;
}

/** scores = queries x items^T, then the best `k` per row: the per-chunk step of the exact search. */
async function topKSession(): Promise<InferenceSession> {
  const g = new GraphBuilder();
  const queries = g.input('queries', OnnxDataType.FLOAT, ['q', DIM]);
  const rows = g.input('items', OnnxDataType.FLOAT, ['n', DIM]);
  const k = g.input('k', OnnxDataType.INT64, [1]);
  const scores = g.node('Gemm', [queries, rows], { attributes: { transB: attr.int(1) } });
  const [values, indices] = g.nodeN('TopK', [scores, k], { outputs: 2, attributes: { axis: attr.int(-1), largest: attr.int(1), sorted: attr.int(1) } });
  g.output(values!, 'scores', OnnxDataType.FLOAT, ['q', 'k']);
  g.output(indices!, 'rows', OnnxDataType.INT64, ['q', 'k']);
  const file = path.join(work, 'topk.onnx');
  writeFileSync(file, encodeModel(g.build('exact_topk', 'best k rows of items by inner product, per query')));
  return InferenceSession.create(file, { intraOpNumThreads: os.availableParallelism() });
}

/** Exact top-k item rows of each query (best first, row-major [queries x k]), merged over item chunks. */
async function exactTopK(session: InferenceSession, queries: Float32Array, k: number, name: string): Promise<Int32Array> {
  const count = queries.length / DIM;
  const ids = new Int32Array(count * k).fill(-1);
  const scores = new Float32Array(count * k).fill(-Infinity);
  const mergedIds = new Int32Array(k);
  const mergedScores = new Float32Array(k);
  for (let start = 0; start < items; start += ITEM_CHUNK) {
    const n = Math.min(ITEM_CHUNK, items - start);
    const itemTensor = new Tensor('float32', base.subarray(start * DIM, (start + n) * DIM), [n, DIM]);
    const kTensor = new Tensor('int64', BigInt64Array.of(BigInt(Math.min(k, n))), [1]);
    for (let q0 = 0; q0 < count; q0 += QUERY_CHUNK) {
      const qn = Math.min(QUERY_CHUNK, count - q0);
      const out = await session.run({ queries: new Tensor('float32', queries.subarray(q0 * DIM, (q0 + qn) * DIM), [qn, DIM]), items: itemTensor, k: kTensor });
      const chunkScores = out.scores!.data as Float32Array;
      const chunkRows = out.rows!.data as BigInt64Array;
      const kc = Math.min(k, n);
      for (let i = 0; i < qn; i++) {
        // merge two best-first lists; on a tie the earlier chunk (lower row) stays first, as TopK orders ties
        const at = (q0 + i) * k;
        for (let a = 0, b = 0, m = 0; m < k; m++) {
          if (b >= kc || (a < k && scores[at + a]! >= chunkScores[i * kc + b]!)) {
            mergedIds[m] = ids[at + a]!;
            mergedScores[m] = scores[at + a++]!;
          } else {
            mergedIds[m] = start + Number(chunkRows[i * kc + b]);
            mergedScores[m] = chunkScores[i * kc + b++]!;
          }
        }
        ids.set(mergedIds, at);
        scores.set(mergedScores, at);
      }
    }
    if (count * items > 1e9) log(`exact ${name}: ${start + n}/${items} items`);
  }
  // the oracle checked against plain dot products over every item, as bench/engines.ts checks its own
  for (let q = 0; q < Math.min(ORACLE_QUERIES, count); q++) {
    const all = Array.from({ length: items }, (_, row) => ({ row, score: dot(queries, q, base, row) }));
    const expected = all.sort((a, b) => b.score - a.score).slice(0, k).map((h) => h.row);
    const got = new Set(ids.subarray(q * k, (q + 1) * k));
    const overlap = expected.filter((row) => got.has(row)).length;
    if (overlap < k - 1) throw new Error(`the ONNX exact search disagrees with plain dot products on ${name} query ${q}: ${overlap} of ${k} shared`);
  }
  return ids;
}

/**
 * Adds the projected edges to the base layer of `file` and writes `out`; candidates are found
 * and pruned in item rows (row = key - 1), edges written as slots. Returns what changed.
 */
function rewrite(file: string, out: string, trainTruth: Int32Array): Record<string, number> {
  const graph = readUsearchGraph(file, DIM, quantization);
  const size = graph.keys.length;
  const capacity = graph.connectivityBase;
  const slotOf = new Uint32Array(items);
  graph.keys.forEach((key, slot) => (slotOf[Number(key) - 1] = slot));
  // candidates per anchor row: the other neighbours of every training query anchored there
  const candidates = new Map<number, Set<number>>();
  for (let q = 0; q < trainCount; q++) {
    const top = trainTruth.subarray(q * K, (q + 1) * K);
    for (let a = 0; a < Math.min(anchors, K); a++) {
      const set = candidates.get(top[a]!) ?? new Set<number>();
      candidates.set(top[a]!, set);
      for (let j = 0; j < K; j++) if (j !== a) set.add(top[j]!);
    }
  }
  // RNG pruning (distance 1 - cosine): c is kept unless a kept r is at least as near to c as the anchor is
  const projected: [number, number][] = [];
  for (const [p, set] of candidates) {
    const nearest = [...set].map((c) => ({ c, d: 1 - dot(base, p, base, c) })).sort((x, y) => x.d - y.d);
    const kept: number[] = [];
    for (const { c, d } of nearest) {
      if (kept.length >= degree) break;
      if (kept.every((r) => 1 - dot(base, c, base, r) > d)) kept.push(c);
    }
    for (const c of kept) projected.push([slotOf[p]!, slotOf[c]!]);
  }
  const lists = graph.base.map((l) => Array.from(l));
  const linked = lists.map((l) => new Set(l));
  const link = (from: number, to: number): boolean => {
    if (linked[from]!.has(to) || lists[from]!.length >= capacity) return false;
    lists[from]!.push(to);
    linked[from]!.add(to);
    return true;
  };
  const meanDegree = () => round(lists.reduce((sum, l) => sum + l.length, 0) / size, 2);
  const meanBaseDegreeBefore = meanDegree();
  // the forward edges take the spare capacity first, then the reverse ones
  const forwardAdded = projected.filter(([p, c]) => link(p, c)).length;
  const reverseAdded = projected.filter(([p, c]) => link(c, p)).length;
  graph.base = lists.map((l) => Uint32Array.from(l));
  writeUsearchGraph(graph, out);
  return { connectivityBase: capacity, anchorNodes: candidates.size, projectedEdges: projected.length, forwardAdded, reverseAdded, meanBaseDegreeBefore, meanBaseDegreeAfter: meanDegree() };
}

function recall(graph: GraphIndex, queries: Float32Array[], truth: Int32Array, ef: number): number {
  let hits = 0;
  queries.forEach((v, q) => {
    const expected = new Set(truth.subarray(q * RECALL_K, (q + 1) * RECALL_K));
    hits += graph.searchBestFirst(v, RECALL_K, { ef }).filter((h) => expected.has(h.id - 1)).length;
  });
  return round(hits / (queries.length * RECALL_K), 4);
}

/** Queries per CPU second, one query per call on the calling thread, as rsclip searches. */
function qps(graph: GraphIndex, queries: Float32Array[], ef: number): number {
  const started = cpuSeconds();
  for (const v of queries) graph.searchBestFirst(v, RECALL_K, { ef });
  return queries.length / (cpuSeconds() - started);
}

const median = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[xs.length >> 1]!);

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  const plainFile = path.join(work, 'plain.usearch');
  const copyFile = path.join(work, 'rewritten-unchanged.usearch');
  const rewrittenFile = path.join(work, 'rewritten.usearch');
  const test = { text: gen.texts(0, testCount), image: gen.images(items, testCount) };

  log(`building ${engineLabel(spec)} over ${items} items`);
  const build = await buildPlain(plainFile);

  log(`exact top ${RECALL_K} of the test queries, top ${K} of ${trainCount} training queries`);
  const session = await topKSession();
  let started = performance.now();
  const truth = { text: await exactTopK(session, test.text, RECALL_K, 'text test'), image: await exactTopK(session, test.image, RECALL_K, 'image test') };
  const testTruthSeconds = round((performance.now() - started) / 1000);
  started = performance.now();
  const trainTruth = await exactTopK(session, gen.texts(TRAIN_START, trainCount), K, 'training');
  const trainTruthSeconds = round((performance.now() - started) / 1000);

  writeUsearchGraph(readUsearchGraph(plainFile, DIM, quantization), copyFile);
  if (Buffer.compare(readFileSync(plainFile), readFileSync(copyFile)) !== 0) throw new Error(`${plainFile} parsed and written back differs from the original: the parser is wrong`);
  rmSync(copyFile);
  log('parser checked: the file written back is byte-identical');

  started = performance.now();
  const edges = rewrite(plainFile, rewrittenFile, trainTruth);
  const rewriteSeconds = round((performance.now() - started) / 1000);
  log(`rewritten in ${rewriteSeconds} s: ${JSON.stringify(edges)}`);

  const graphs = { plain: loadGraph(spec, plainFile, DIM), rewritten: loadGraph(spec, rewrittenFile, DIM) };
  const queries = { text: vectorRows(test.text, DIM), image: vectorRows(test.image, DIM) };
  const kinds = ['text', 'image'] as const;
  const byFile = <T>(measure: (f: keyof typeof graphs) => T) => ({ plain: measure('plain'), rewritten: measure('rewritten') });
  const perEf = <T>(measure: (graph: GraphIndex, kind: (typeof kinds)[number], ef: number) => T) =>
    efs.map((ef) => ({ ef, text: byFile((f) => measure(graphs[f], 'text', ef)), image: byFile((f) => measure(graphs[f], 'image', ef)) }));
  const recallAt = perEf((graph, kind, ef) => recall(graph, queries[kind], truth[kind], ef));
  log('recall measured; timing');
  const samples = perEf((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const sample of samples) for (const kind of kinds) for (const f of ['plain', 'rewritten'] as const) sample[kind][f].push(qps(graphs[f], queries[kind], sample.ef));
  }
  const queriesPerCpuSecond = samples.map(({ ef, text, image }) => ({ ef, text: byFile((f) => median(text[f])), image: byFile((f) => median(image[f])) }));

  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'graph-rewrite',
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        loadAverage1m: round(os.loadavg()[0]!, 2),
        engine: engineLabel(spec),
        data: { generator: 'bench/clip-like-vectors.ts', seed, items, dim: DIM, testQueries: testCount, trainingTextQueries: trainCount },
        method: { trainingNeighbours: K, anchors, degree, reverseEdges: true, keepsOriginalEdges: true },
        seconds: { plainBuild: build.seconds, plainBuildCpu: build.cpuSeconds, exactTestTruth: testTruthSeconds, exactTrainingTruth: trainTruthSeconds, projectionAndWrite: rewriteSeconds },
        oracleCheckedQueriesPerSet: ORACLE_QUERIES,
        graph: { ...edges, plainFileBytes: statSync(plainFile).size, rewrittenFileBytes: statSync(rewrittenFile).size },
        recallAt10: recallAt,
        queriesPerCpuSecond: { note: `single thread, median of ${rounds} rounds alternating the two files`, perEf: queriesPerCpuSecond },
      },
      null,
      2,
    )}\n`,
  );
}

await main();
