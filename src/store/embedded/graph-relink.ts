/**
 * Relinking around replaced and removed vectors, for an engine that reuses their nodes (usearch:
 * the next vector added takes the node of one removed, and that node's links are rewritten). The
 * nodes the old vector linked to lose those in-links, and some lose all of them: no search reaches
 * them again (5,000 CLIP-like items, 20 % replaced: 18-21 not found by a k=10 search of their own
 * vector, against 1 in a fresh build of the same vectors; 80 %: 60-66 against 8). So the
 * neighbourhoods of the old vectors are taken before the change, and after it each neighbour
 * (and each replaced item) that a search for its own vector no longer finds is inserted again,
 * which links it as a fresh insertion does.
 */
import { SAME_VECTOR_TOLERANCE, type GraphIndex } from '../graph-index.js';

/** Vectors read from the catalog per query when checking neighbours. */
const READ_BATCH = 1000;
/** A search for an item's own vector must find it among this many (as the unreachable were counted). */
const REACH_K = 10;

/**
 * Whether a search for `vector` at the default breadth finds `id`, or finds only vectors as near
 * as its own (a group of equal vectors larger than REACH_K: inserting one again would not help).
 */
function reached(graph: GraphIndex, id: number, vector: Float32Array): boolean {
  const hits = graph.searchBestFirst(vector, REACH_K);
  if (hits.some((hit) => hit.id === id)) return true;
  return hits.length === REACH_K && hits[REACH_K - 1]!.score >= 1 - SAME_VECTOR_TOLERANCE[graph.scorePrecision];
}

/** The items nearest each of `vectors` in `graph`, `width` of each. */
export function neighbourhood(graph: GraphIndex, vectors: Iterable<Float32Array>, width: number): Set<number> {
  const near = new Set<number>();
  for (const vector of vectors) for (const { id } of graph.searchBestFirst(vector, width)) near.add(id);
  return near;
}

/**
 * Inserts again each live item of `ids` that `graph` no longer finds by its own vector (as
 * `vectorsOf` reads them, a batch at a time); returns how many.
 */
export function relinkUnreached(graph: GraphIndex, ids: Iterable<number>, vectorsOf: (ids: readonly number[]) => ReadonlyMap<number, Float32Array>): number {
  const live = [...ids].filter((id) => graph.has(id));
  let relinked = 0;
  for (let i = 0; i < live.length; i += READ_BATCH) {
    const unreached = [...vectorsOf(live.slice(i, i + READ_BATCH))].filter(([id, vector]) => !reached(graph, id, vector));
    graph.addMany(unreached);
    relinked += unreached.length;
  }
  return relinked;
}
