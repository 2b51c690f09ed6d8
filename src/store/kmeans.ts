/**
 * Spherical k-means over int8 rows (int8-vectors.ts), for the lists of the ivf engine: each
 * centroid is the normalised mean of the rows nearest to it by cosine. Assignments run on
 * usearch's SIMD kernels over every core (CentroidFinder); seeding and reseeding are seeded, so
 * the same rows give the same centroids (below GRAPH_MIN_CENTROIDS: see there).
 */
import { seededRandom } from '../eval/random.js';
import { toInt8 } from './int8-vectors.js';
import { exactSearchRows, newNativeUsearch, type NativeUsearch } from './usearch-native.js';

/** Iterations of Lloyd's algorithm: the lists barely move after this many on CLIP-like data. */
const ITERATIONS = 8;

/** The int8 form of every centroid, row after row (what the lists are searched and assigned by). */
export function centroidsInt8(centroids: Float32Array, dim: number): Int8Array {
  const count = centroids.length / dim;
  const out = new Int8Array(centroids.length);
  for (let c = 0; c < count; c++) out.set(toInt8(centroids.subarray(c * dim, (c + 1) * dim)), c * dim);
  return out;
}

/**
 * usearch's exact search keeps a key and a distance for every (query, row) pair of a call: a
 * call is given at most this many pairs (64 MB), or assigning 10^6 vectors to thousands of
 * centroids would ask for tens of GB.
 */
const PAIRS_PER_CALL = 1 << 22;

/**
 * From this many centroids on, the nearest one is looked up in a small HNSW graph of them. At
 * 9,051 centroids (the lists of a 5M index) the exact scan took 505 us per CLIP-like vector on
 * this machine's two cores, so a build of 10^7 vectors, each assigned again at every training,
 * would take hours; the graph (M 32, beam 64) took 35 us and found the exact centroid for
 * 99.35 % of the vectors, a near one for the rest (which only moves a vector to a neighbouring
 * list). README "The ivf engine".
 */
export const GRAPH_MIN_CENTROIDS = 1024;
const GRAPH = { M: 32, efConstruction: 200, beam: 64 };

/** Finds the nearest centroid of int8 rows: an exact scan below GRAPH_MIN_CENTROIDS, a graph of the centroids from there. */
export class CentroidFinder {
  private readonly graph: NativeUsearch | undefined;

  constructor(
    private readonly centroids8: Int8Array,
    private readonly dim: number,
  ) {
    const count = centroids8.length / dim;
    if (count >= GRAPH_MIN_CENTROIDS) {
      this.graph = newNativeUsearch(dim, 'i8', 'cos', GRAPH.M, GRAPH.efConstruction, GRAPH.beam);
      // every core (usearch keeps search contexts for as many threads as the add that sized it
      // used); so the graph, and the few vectors it does not send to their nearest centroid, may
      // differ from one run to the next
      this.graph.add(BigUint64Array.from({ length: count }, (_, c) => BigInt(c)), centroids8, 0);
    }
  }

  /** The nearest centroid (its row in the centroids) of each of `rows` (int8, row after row, starting at the start of their buffer). */
  nearest(rows: Int8Array): Uint32Array {
    const count = rows.length / this.dim;
    const out = new Uint32Array(count);
    if (count === 0) return out;
    if (this.graph) {
      const [keys] = this.graph.search(rows, 1, 0);
      for (let i = 0; i < count; i++) out[i] = Number(keys[i]);
      return out;
    }
    const chunk = Math.max(1, Math.floor(PAIRS_PER_CALL / (this.centroids8.length / this.dim)));
    for (let start = 0; start < count; start += chunk) {
      const end = Math.min(count, start + chunk);
      // the binding reads an array from the start of its buffer: a chunk past the first is copied
      const queries = start === 0 ? rows.subarray(0, end * this.dim) : rows.slice(start * this.dim, end * this.dim);
      const found = exactSearchRows(this.centroids8, queries, this.dim, 1, 'cos', 0).rows;
      for (let i = 0; i < end - start; i++) out[start + i] = Number(found[i]);
    }
    return out;
  }
}

/** `lists` unit centroids (row after row) of `rows` (`count` int8 rows of `dim`; at least `lists` of them). */
export function trainCentroids(rows: Int8Array, dim: number, lists: number, seed: number): Float32Array {
  const count = rows.length / dim;
  if (lists < 1 || lists > count) throw new Error(`k-means: ${lists} lists from ${count} rows`);
  const random = seededRandom(seed);
  const centroids = new Float32Array(lists * dim);
  const seedFrom = (c: number, row: number) => {
    for (let j = 0; j < dim; j++) centroids[c * dim + j] = rows[row * dim + j]!;
    normalise(centroids, c, dim);
  };
  // distinct random rows as the first centroids (a partial Fisher-Yates shuffle)
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  for (let c = 0; c < lists; c++) {
    const pick = c + Math.floor(random() * (count - c));
    [order[c], order[pick]] = [order[pick]!, order[c]!];
    seedFrom(c, order[c]!);
  }
  const sums = new Float64Array(lists * dim);
  const sizes = new Uint32Array(lists);
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const nearest = new CentroidFinder(centroidsInt8(centroids, dim), dim).nearest(rows);
    sums.fill(0);
    sizes.fill(0);
    for (let r = 0; r < count; r++) {
      const c = nearest[r]!;
      sizes[c]!++;
      // each row as a unit vector, so that rows weigh alike whatever their int8 scale
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += rows[r * dim + j]! ** 2;
      const inverse = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let j = 0; j < dim; j++) sums[c * dim + j]! += rows[r * dim + j]! * inverse;
    }
    for (let c = 0; c < lists; c++) {
      // an empty list takes a random row, so that every list ends up with rows
      if (sizes[c] === 0) seedFrom(c, Math.floor(random() * count));
      else {
        for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]!;
        normalise(centroids, c, dim);
      }
    }
  }
  return centroids;
}

function normalise(rows: Float32Array, row: number, dim: number): void {
  let norm = 0;
  for (let j = 0; j < dim; j++) norm += rows[row * dim + j]! ** 2;
  const inverse = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let j = 0; j < dim; j++) rows[row * dim + j]! *= inverse;
}
