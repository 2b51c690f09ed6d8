/**
 * ANN recall: recall@k of an index's HNSW search against exact search, and queries/s, for
 * a sweep of ef values. The oracle is a `BruteForceIndex` (src/store) filled from the
 * index's stored vectors; the index's own exact scan is measured too (its recall must be 1).
 *
 * Queries are stored vectors sampled with a seeded generator and/or embedded texts. A
 * stored vector finds itself first, so it is held out: every search asks for k + 1, the
 * query's own id is dropped from both lists, and the first k remain.
 *
 * Every engine searches with a beam of at least the neighbours asked for (k + 1 here), so an ef
 * below that is the same search as ef = k + 1: the rows give the ef searched with (the effective
 * one), each with the requested values it stands for, and the recommendation is one of them.
 *
 * Ties: a returned id counts as a hit when it is in the oracle's top k or its score is
 * within 1e-5 of the oracle's k-th score (byte-identical images share a vector, and which
 * twin a search returns is arbitrary).
 */
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openClip } from '../model/encoder.js';
import type { ModelVariant } from '../model/model-dir.js';
import { BruteForceIndex } from '../store/brute-force-index.js';
import { assertModelMatches } from '../store/model-binding.js';
import { openIndex } from '../store/open-index.js';
import type { IndexStore } from '../store/types.js';
import type { ScoredId } from '../vector-math.js';
import { version } from '../version.js';
import { embedTextsBatched } from './prompts.js';
import { seededRandom } from './random.js';

export const DEFAULT_ANN_EFS = [10, 20, 50, 100, 200];
export const DEFAULT_ANN_QUERIES = 500;
export const DEFAULT_ANN_K = 10;
export const DEFAULT_ANN_TARGET = 0.95;
const TIE_TOLERANCE = 1e-5;

export interface EvaluateAnnOptions {
  index: string;
  /** Stored vectors sampled as queries (all when larger than the index). Default 500; 0 with `texts` for text queries only. */
  queries?: number;
  k?: number;
  efs?: number[];
  /** Recall the recommended ef must reach. Default 0.95. */
  target?: number;
  /** Text queries, embedded with `model` (which must be the index's model). */
  texts?: string[];
  model?: string | ClipEncoder;
  threads?: number;
  variant?: ModelVariant;
  /** Seed of the query sample. Default 1. */
  seed?: number;
}

export interface AnnRow {
  /** `exact` is the index's exhaustive scan. */
  search: 'exact' | 'hnsw';
  /** The ef searched with: the requested one, or the k + 1 neighbours asked for when that is larger. */
  ef: number | null;
  /** The --ef values this row stands for (several when each is below k + 1); empty for exact. */
  requestedEfs: number[];
  /** Mean recall@k over the queries. */
  recall: number;
  /** Lowest recall@k of one query. */
  minRecall: number;
  queriesPerSecond: number;
}

export interface AnnReport {
  kind: 'ann';
  rsclipVersion: string;
  date: string;
  index: string;
  /** Vectors searched. */
  vectors: number;
  k: number;
  target: number;
  seed: number;
  queries: { stored: number; texts: number };
  rows: AnnRow[];
  /** Smallest effective ef of the sweep whose recall reaches the target (never below k + 1); null when none does. */
  recommendedEf: number | null;
}

interface Query {
  vector: Float32Array;
  /** The stored vector's own id (held out), or undefined for a text query. */
  selfId: number | undefined;
  /** Oracle: the k best other ids and the k-th score. */
  truth: Set<number>;
  kthScore: number;
}

/** `count` distinct items of `items` (all when count >= length), by a partial Fisher-Yates shuffle. */
export function sampleSeeded<T>(items: readonly T[], count: number, seed: number): T[] {
  const pool = [...items];
  const n = Math.min(count, pool.length);
  const random = seededRandom(seed);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

function withoutSelf(found: readonly ScoredId[], selfId: number | undefined, k: number): ScoredId[] {
  return found.filter((hit) => hit.id !== selfId).slice(0, k);
}

/** recall@k of one result list against the oracle, with the tie rule above. */
export function recallAgainstOracle(found: readonly ScoredId[], truth: ReadonlySet<number>, kthScore: number, k: number): number {
  const hits = found.filter((hit) => truth.has(hit.id) || hit.score >= kthScore - TIE_TOLERANCE).length;
  return Math.min(hits, k) / k;
}

/** The requested efs grouped by the ef a search for `asked` neighbours really uses (at least `asked`), ascending. */
export function effectiveEfs(efs: readonly number[], asked: number): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const ef of [...efs].sort((a, b) => a - b)) {
    const effective = Math.max(ef, asked);
    groups.set(effective, [...(groups.get(effective) ?? []), ef]);
  }
  return groups;
}

function assertPositiveInts(name: string, values: readonly number[]): void {
  for (const v of values) {
    if (!Number.isInteger(v) || v < 1) throw new RsclipError('BAD_INPUT', `Expected positive integer for ${name} but received ${String(v)}`);
  }
}

async function measure(queries: readonly Query[], k: number, search: (q: Query) => Promise<ScoredId[]>): Promise<{ recall: number; minRecall: number; queriesPerSecond: number }> {
  await search(queries[0]!); // warm-up: the first exact search builds the index's scan copy
  const started = performance.now();
  const results: ScoredId[][] = [];
  for (const q of queries) results.push(withoutSelf(await search(q), q.selfId, k));
  const seconds = (performance.now() - started) / 1000;
  const recalls = results.map((found, i) => recallAgainstOracle(found, queries[i]!.truth, queries[i]!.kthScore, k));
  return {
    recall: recalls.reduce((a, b) => a + b, 0) / recalls.length,
    minRecall: Math.min(...recalls),
    queriesPerSecond: queries.length / Math.max(seconds, 1e-9),
  };
}

async function embedQueryTexts(options: EvaluateAnnOptions, store: IndexStore): Promise<Float32Array[]> {
  const texts = options.texts ?? [];
  if (texts.length === 0) return [];
  if (!options.model) throw new RsclipError('BAD_INPUT', 'text queries need the model the index was built with', { hint: 'pass --model DIR' });
  const encoder =
    typeof options.model === 'string'
      ? await openClip(options.model, { ...(options.threads ? { threads: options.threads } : {}), ...(options.variant ? { variant: options.variant } : {}) })
      : options.model;
  try {
    assertModelMatches(store.meta, store.describe().location, encoder.info);
    return await embedTextsBatched(encoder, texts);
  } finally {
    if (typeof options.model === 'string') await encoder.close();
  }
}

export async function evaluateAnn(options: EvaluateAnnOptions): Promise<AnnReport> {
  const date = new Date().toISOString();
  const k = options.k ?? DEFAULT_ANN_K;
  const efs = [...new Set(options.efs ?? DEFAULT_ANN_EFS)].sort((a, b) => a - b);
  const target = options.target ?? DEFAULT_ANN_TARGET;
  const seed = options.seed ?? 1;
  const sampleSize = options.queries ?? DEFAULT_ANN_QUERIES;
  assertPositiveInts('k', [k]);
  assertPositiveInts('ef', efs);
  if (efs.length === 0) throw new RsclipError('BAD_INPUT', 'no ef values: expected at least one, e.g. --ef 10,20,50');
  if (!(target > 0 && target <= 1)) throw new RsclipError('BAD_INPUT', `Expected a recall in (0, 1] for target but received ${target}`);
  if (!Number.isInteger(sampleSize) || sampleSize < 0) throw new RsclipError('BAD_INPUT', `Expected non-negative integer for queries but received ${sampleSize}`);

  const store = await openIndex(options.index, { readonly: true });
  const location = store.describe().location;
  try {
    const oracle = new BruteForceIndex(store.meta.embeddingDim, await store.countItems());
    const ids: number[] = [];
    const vectors = new Map<number, Float32Array>();
    for await (const [id, vector] of store.vectors()) {
      oracle.add(id, vector);
      ids.push(id);
      vectors.set(id, vector);
    }
    if (oracle.size <= k) {
      throw new RsclipError('DATASET_INVALID', `index ${location} holds ${oracle.size} vectors: recall@${k} needs more than k + 1`, {
        hint: 'index more images or pass a smaller --k',
      });
    }
    const textVectors = await embedQueryTexts(options, store);
    const sampled = sampleSeeded(ids, sampleSize, seed);
    const raw = [
      ...sampled.map((id) => ({ vector: vectors.get(id)!, selfId: id as number | undefined })),
      ...textVectors.map((vector) => ({ vector, selfId: undefined })),
    ];
    if (raw.length === 0) throw new RsclipError('BAD_INPUT', 'no queries: expected --queries N > 0 or --texts FILE');
    const queries: Query[] = raw.map((q) => {
      const truth = withoutSelf(oracle.searchBestFirst(q.vector, k + 1), q.selfId, k);
      return { ...q, truth: new Set(truth.map((t) => t.id)), kthScore: truth[truth.length - 1]!.score };
    });

    const rows: AnnRow[] = [{ search: 'exact', ef: null, requestedEfs: [], ...(await measure(queries, k, (q) => store.search(q.vector, k + 1, { exact: true }))) }];
    for (const [ef, requestedEfs] of effectiveEfs(efs, k + 1)) {
      rows.push({ search: 'hnsw', ef, requestedEfs, ...(await measure(queries, k, (q) => store.search(q.vector, k + 1, { ef }))) });
    }
    const recommended = rows.find((r) => r.search === 'hnsw' && r.recall >= target);
    return {
      kind: 'ann',
      rsclipVersion: version,
      date,
      index: location,
      vectors: oracle.size,
      k,
      target,
      seed,
      queries: { stored: sampled.length, texts: textVectors.length },
      rows,
      recommendedEf: recommended?.ef ?? null,
    };
  } finally {
    await store.close();
  }
}
