/**
 * Exact versus graph search for the embedded back end. A selection (filter, kept or left-out
 * ids) becomes the set of allowed items once per selection and catalog state (a small cache,
 * bounded by entries and bytes, that a count and the searches of one request share). A very selective
 * set is scored exactly from the catalog's vectors (kept with the set when small); a broad one walks
 * the graph with the set as a predicate; a walk that finds fewer than the k that exist is answered exactly instead,
 * so a result list is never silently shortened. A graph that keeps vectors at reduced
 * precision (usearch f16/i8) returns more than k candidates (RERANK_EXTRA), re-ranked by their exact cosine.
 */
import { LRUCache } from 'lru-cache';
import { checkVector, cosine, storedVectorProblem, TopK, unitVector, type ScoredId } from '../../vector-math.js';
import { BruteForceIndex } from '../brute-force-index.js';
import { exactSelectionLimit } from '../exact-selection.js';
import { selectionKey } from '../filter-compiler.js';
import type { ItemSelection, SearchOptions } from '../types.js';
import type { Catalog } from './catalog.js';
import type { VectorQuantization } from '../usearch-file.js';
import type { GraphSync } from './graph-sync.js';

/**
 * Allowed-item sets kept (each costs a bitmap over ids and the id list), by entries and bytes; a
 * set scored exactly also keeps its vectors (float32) when they take at most `vectorBytes` (8,192
 * items at 512-d), so that searching one scene's tiles again reads nothing from the catalog.
 */
export const SELECTION_CACHE_LIMITS = { entries: 8, bytes: 64 * 1024 * 1024, vectorBytes: 16 * 1024 * 1024 };
/**
 * Candidates beyond k that a search re-ranks by their exact cosine, by the precision of the graph's
 * scores. At f16 (the catalog's own precision) only the query is rounded: scores within 1e-4, which
 * swap near-ties at the edge of the k; a quarter of k more found every exact top k that twice k
 * found (1M CLIP-like vectors, k 10, 21 and 100, image and text queries; with none beyond k, recall
 * fell by 0.008). At i8 scores are off by about 1e-3.
 */
export const RERANK_EXTRA: Record<VectorQuantization, (k: number) => number> = {
  f32: () => 0,
  f16: (k) => Math.max(5, Math.ceil(k / 4)),
  i8: (k) => Math.max(k, 10),
};
/** Vectors read from the catalog per statement when scoring a selection exactly. */
const VECTOR_CHUNK = 1000;
/**
 * An exact search of the whole index scans a float32 copy of every vector, kept between searches,
 * while that copy stays within these bytes (2 GiB: a million 512-d vectors); past them each such
 * search reads the catalog's vectors again instead (10M items would need 20 GB).
 */
export const EXACT_COPY_LIMITS = { bytes: 2 * 1024 ** 3 };

/** The items a selection allows: ascending ids and a membership test (a bitmap over ids). */
class AllowedItems {
  private readonly member: Uint8Array;
  /** Their vectors, once read for an exact search (a small set only: SELECTION_CACHE_LIMITS.vectorBytes). */
  vectors: BruteForceIndex | undefined;

  constructor(readonly ids: readonly number[]) {
    this.member = new Uint8Array((ids.length > 0 ? ids[ids.length - 1]! : 0) + 1);
    for (const id of ids) this.member[id] = 1;
  }

  get count(): number {
    return this.ids.length;
  }

  /** Memory held: the bitmap, the id list and the vectors. */
  get bytes(): number {
    return this.member.byteLength + 8 * this.ids.length + (this.vectors?.bytes ?? 0);
  }

  readonly has = (id: number): boolean => this.member[id] === 1;
}

/** A selection's allowed set as of a commit. */
function allowedKey(selection: ItemSelection, seq: number): string {
  return `${seq}:${selectionKey(selection)}`;
}

function restricts(selection: ItemSelection): boolean {
  return selection.filter !== undefined || selection.onlyIds !== undefined;
}

export class SearchPlanner {
  /** Every vector for exact scans, built on the first one and kept in step by the synchroniser. */
  private exact: BruteForceIndex | undefined;
  private readonly allowedCache = new LRUCache<string, AllowedItems>({
    max: SELECTION_CACHE_LIMITS.entries,
    maxSize: SELECTION_CACHE_LIMITS.bytes,
    sizeCalculation: (allowed, key) => 2 * key.length + allowed.bytes,
  });

  constructor(
    private readonly catalog: Catalog,
    private readonly sync: GraphSync,
    private readonly dim: number,
  ) {}

  /**
   * Searchable items a selection allows. Without a filter or an id list this is the graph's
   * size less the excluded ids it holds (every searchable item has exactly one vector there):
   * no scan of the catalog, whose count grew with the index on every request (SQL count, on this
   * loaded 2-core machine: 14-67 ms at 100k items, 178-321 ms at 456k).
   */
  countItems(selection: ItemSelection): number {
    if (restricts(selection)) return this.allowed(selection).count;
    const graph = this.sync.graph;
    let count = graph.size;
    for (const id of new Set(selection.excludeIds ?? [])) if (graph.has(id)) count--;
    return count;
  }

  itemIds(selection: ItemSelection): number[] {
    return restricts(selection) ? [...this.allowed(selection).ids] : this.catalog.itemIds(selection);
  }

  search(query: Float32Array, k: number, options: SearchOptions): ScoredId[] {
    checkVector(query, this.dim, 'BAD_QUERY');
    const graph = this.sync.graph;
    const allowed = restricts(options) ? this.allowed(options) : undefined;
    const excluded = !allowed && options.excludeIds && options.excludeIds.length > 0 ? new Set(options.excludeIds) : undefined;
    const predicate = allowed?.has ?? (excluded ? (id: number) => !excluded.has(id) : undefined);
    if (allowed && allowed.count <= exactSelectionLimit(graph.size)) return this.exactOverAllowed(options, allowed, query, k);
    if (options.exact) return this.exactOverAll(query, k, predicate);
    // a graph that keeps reduced-precision vectors gives more candidates, re-ranked on the catalog's vectors
    const exactScores = graph.scorePrecision === 'f32';
    const found = graph.searchBestFirst(query, k + RERANK_EXTRA[graph.scorePrecision](k), { ef: options.ef, filter: predicate });
    let selected = allowed ? allowed.count : graph.size;
    if (excluded) for (const id of excluded) if (graph.has(id)) selected--;
    if (found.length < Math.min(k, selected, graph.size)) {
      // the graph walk ran out of (allowed, live) neighbours: answer exactly instead of short
      return this.exactOverAll(query, k, predicate);
    }
    return exactScores ? found : this.exactOverIds(found.map((c) => c.id), query, k);
  }

  /** Entries and bytes of the selection cache. */
  selectionCacheUse(): { entries: number; bytes: number } {
    return { entries: this.allowedCache.size, bytes: this.allowedCache.calculatedSize };
  }

  /** Forgets the derived copies (after repairs). */
  reset(): void {
    this.exact = undefined;
    this.sync.unfollowAll();
    this.allowedCache.clear();
  }

  /** Whether a filtered selection's allowed set at the catalog's current commit is still to be read. */
  needsScan(selection: ItemSelection): boolean {
    return selection.filter !== undefined && !this.allowedCache.has(allowedKey(selection, this.catalog.commitSeq()));
  }

  /** The allowed set of a selection read elsewhere (off the event loop), as of commit `seq`. */
  offerAllowed(selection: ItemSelection, seq: number, ids: readonly number[]): void {
    this.allowedCache.set(allowedKey(selection, seq), new AllowedItems(ids));
  }

  private allowed(selection: ItemSelection): AllowedItems {
    const key = allowedKey(selection, this.catalog.commitSeq());
    let allowed = this.allowedCache.get(key);
    if (!allowed) {
      allowed = new AllowedItems(this.catalog.itemIds(selection));
      this.allowedCache.set(key, allowed);
    }
    return allowed;
  }

  /** Every searchable item scored: from the kept copy of every vector, or from the catalog when that copy would be too large. */
  private exactOverAll(query: Float32Array, k: number, accept?: (id: number) => boolean): ScoredId[] {
    const maxItems = Math.floor(EXACT_COPY_LIMITS.bytes / (4 * this.dim));
    if (this.sync.graph.size <= maxItems) return this.exactIndex(maxItems).searchBestFirst(query, k, { filter: accept });
    this.exact = undefined;
    return this.scoreLive(this.everyVector(), query, k, accept);
  }

  private exactIndex(maxItems: number): BruteForceIndex {
    if (!this.exact || !this.sync.follows(this.exact)) {
      const exact = new BruteForceIndex(this.dim, Math.max(1, this.sync.graph.size));
      for (const [id, vector] of this.everyVector()) exact.add(id, vector);
      this.sync.follow(exact, maxItems);
      this.exact = exact;
    }
    return this.exact;
  }

  /**
   * Scores the items of a selection that are live in the graph: on its vectors kept with it, read
   * from the catalog on its first exact search, or, for a set too large to keep them, read again.
   */
  private exactOverAllowed(selection: ItemSelection, allowed: AllowedItems, query: Float32Array, k: number): ScoredId[] {
    if (allowed.count * this.dim * 4 > SELECTION_CACHE_LIMITS.vectorBytes) return this.exactOverIds(allowed.ids, query, k);
    if (!allowed.vectors) {
      const vectors = new BruteForceIndex(this.dim, allowed.count);
      for (const [id, vector] of this.vectorsOf(allowed.ids)) vectors.add(id, vector);
      allowed.vectors = vectors;
      // put in again, so that the cache counts the vectors in the entry's size (setting the same value keeps the old size)
      const key = allowedKey(selection, this.catalog.commitSeq());
      this.allowedCache.delete(key);
      this.allowedCache.set(key, allowed);
    }
    const graph = this.sync.graph;
    return allowed.vectors.searchBestFirst(query, k, { filter: (id) => graph.has(id) });
  }

  /** Scores the allowed items that are live in the graph, reading their vectors from the catalog. */
  private exactOverIds(ids: readonly number[], query: Float32Array, k: number): ScoredId[] {
    return this.scoreLive(this.vectorsOf(ids), query, k);
  }

  private *vectorsOf(ids: readonly number[]): Generator<[number, Float32Array]> {
    for (let i = 0; i < ids.length; i += VECTOR_CHUNK) yield* this.usable(this.catalog.getVectors(ids.slice(i, i + VECTOR_CHUNK)));
  }

  private everyVector(): Generator<[number, Float32Array]> {
    return this.usable(this.catalog.iterateVectors());
  }

  /**
   * The vectors a cosine can use: one damaged on the disk (cut short, NaN, all zeros) is left out
   * of every exact score and re-rank until `rsclip doctor` drops it (a NaN scored 0, and ranked
   * first where the others score below it).
   */
  private *usable(vectors: Iterable<[number, Float32Array]>): Generator<[number, Float32Array]> {
    for (const entry of vectors) if (storedVectorProblem(entry[1], this.dim) === undefined) yield entry;
  }

  /** The best k of `vectors` by cosine to `query`, among the items live in the graph that `accept` allows. */
  private scoreLive(vectors: Iterable<[number, Float32Array]>, query: Float32Array, k: number, accept?: (id: number) => boolean): ScoredId[] {
    const q = unitVector(query);
    const top = new TopK(k);
    const graph = this.sync.graph;
    for (const [id, vector] of vectors) {
      if (graph.has(id) && (!accept || accept(id))) top.offer(id, cosine(q, vector));
    }
    return top.bestFirst();
  }
}
