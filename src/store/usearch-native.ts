/**
 * usearch's compiled index, used directly rather than through the package's `Index` class:
 * that class converts every vector to float32 before usearch sees it, and usearch then casts
 * float32 to i8 as trunc(127 x / |x|), which leaves a 512-d unit vector (components ~0.04)
 * with about 11 levels per component: recall@10 fell to 0.72 on CLIP-like data. Handing the
 * compiled index our own int8 (rounded, scaled per vector to use all 255 levels) brings it to
 * the f16 figures (README "Engines and scale"). The compiled API is the one the package's own class calls;
 * the version is pinned (~2.25.3) and the engine contract tests cover every call used here.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { VectorQuantization } from './graph-index.js';

export interface NativeUsearch {
  add(keys: BigUint64Array, vectors: Float32Array | Int8Array, threads: number): void;
  /** Keys, distances and counts of the best `k` for each query, best first. */
  search(queries: Float32Array | Int8Array, k: number, threads: number): [BigUint64Array, Float32Array, BigUint64Array];
  contains(keys: BigUint64Array): boolean[];
  remove(keys: BigUint64Array): number[];
  size(): number;
  capacity(): number;
  save(file: string): void;
  load(file: string): void;
  view(file: string): void;
}

interface Compiled {
  CompiledIndex: new (dimensions: number, metric: string, quantization: string, connectivity: number, expansionAdd: number, expansionSearch: number, multi: boolean) => NativeUsearch;
  /** Keys (row numbers), distances and counts of the best `k` rows of `dataset` for each query. */
  exactSearch<T extends Float32Array | Int8Array>(dataset: T, queries: T, dimensions: number, k: number, metric: string, threads: number): [BigUint64Array, Float32Array, BigUint64Array];
}

let compiled: Compiled | undefined;

function loadCompiled(): Compiled {
  if (!compiled) {
    // the package's entry is javascript/dist/<cjs|esm>/usearch.js; node-gyp-build picks the prebuilt binary for this platform
    const entry = createRequire(import.meta.url).resolve('usearch');
    const root = path.resolve(path.dirname(entry), '../../..');
    const build = createRequire(entry)('node-gyp-build') as (dir: string) => Compiled;
    compiled = build(root);
  }
  return compiled;
}

/** usearch's distance between vectors: the inner product (1 - a.b) or the cosine (1 - a.b / |a||b|). */
export type UsearchMetric = 'ip' | 'cos';

/**
 * The metric of a new index. The inner product of unit vectors is their cosine without usearch
 * computing two norms per distance, but only while they keep unit length: rounded to f16 their
 * norms differ by about 1e-4, so among near-identical vectors (uniform tiles: water, cloud) the
 * one with the largest norm is nearer to each of them than they are to themselves; the graph
 * keeps links to a few and the others become unreachable (51 of the 233 windows of the test
 * GeoTIFFs with the tiny model). So f16 and our i8 vectors (whose per-vector scale cancels out)
 * use the cosine, and f32 the inner product. On 1M CLIP-like vectors without such groups the
 * cosine cost about 10 % more build time; query time and recall stayed mostly within the spread
 * between builds (README "Engines and scale").
 */
export function usearchMetricFor(quantization: VectorQuantization): UsearchMetric {
  return quantization === 'f32' ? 'ip' : 'cos';
}

/**
 * A new empty index. The engine sets its search beam per search (usearch-index.ts) and so keeps
 * expansion_search 1; a search for fewer neighbours than `expansionSearch` still walks that wide.
 */
export function newNativeUsearch(dim: number, quantization: VectorQuantization, metric: UsearchMetric, M: number, efConstruction: number, expansionSearch = 1): NativeUsearch {
  return new (loadCompiled().CompiledIndex)(dim, metric, quantization, M, efConstruction, expansionSearch, false);
}

/**
 * The rows of `rows` (unit vectors of `dim`, row after row) with the `k` largest inner products
 * with `query`, best first, scanned by usearch's SIMD kernels (7x the JavaScript loop at 1M 512-d
 * rows on this machine). One thread: the scan is bound by memory bandwidth, a second gained nothing.
 */
export function exactInnerProductRows(rows: Float32Array, query: Float32Array, dim: number, k: number): number[] {
  const count = Math.floor(rows.length / dim);
  const wanted = Math.min(k, count);
  if (!(wanted > 0)) return [];
  return Array.from(exactSearchRows(rows, Float32Array.from(query), dim, wanted, 'ip', 1).rows, Number);
}

/**
 * The best `k` rows of `rows` for each of `queries` (both row after row, of the same type) by
 * usearch's SIMD kernels: per query `k` [row, distance] pairs, best first (distance 1 - cosine).
 * Both arrays must start at the start of their buffer (the binding reads them from there).
 */
export function exactSearchRows<T extends Float32Array | Int8Array>(rows: T, queries: T, dim: number, k: number, metric: UsearchMetric, threads: number): { rows: BigUint64Array; distances: Float32Array } {
  if (rows.byteOffset !== 0 || queries.byteOffset !== 0) throw new Error('exactSearchRows: arrays must start at the start of their buffer');
  const [keys, distances] = loadCompiled().exactSearch(rows, queries, dim, k, metric, threads);
  return { rows: keys, distances };
}
