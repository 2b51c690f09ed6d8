/** Bounds on what one query may ask for; the HTTP API reports them in its OpenAPI document. */
export const DEFAULT_K = 20;
export const MAX_K = 1000;
/** offset + k may not exceed this: deep pages cost a search of that many results. */
export const MAX_WINDOW = 5000;
/**
 * With `collapse`, offset + k may not exceed this: folding compares each hit with the groups kept
 * before it (hits x groups x dimensions of work, on the event loop), so a collapsed page goes only
 * this deep.
 */
export const MAX_COLLAPSE_WINDOW = 1000;

/** The deepest offset + k a query may reach: MAX_WINDOW, or MAX_COLLAPSE_WINDOW when it collapses near-duplicates. */
export function resultWindow(collapses: boolean): number {
  return collapses ? MAX_COLLAPSE_WINDOW : MAX_WINDOW;
}
/**
 * Most hits one page fetches from the store while copy folding, near-duplicate collapsing or tile
 * suppression thin them out (or while a cursor's page looks for the hits after the previous
 * page's last): past it the page is shorter and the last one.
 */
export const MAX_FETCHED_HITS = 2 * MAX_WINDOW;
export const MAX_EF = 4096;
export const MAX_TERMS = 16;
export const MAX_TEXT_LENGTH = 1000;
export const DEFAULT_COLLAPSE_THRESHOLD = 0.96;

/** What a query vector stands for: text queries sit apart from the images they are searched among. */
export type QueryKind = 'image' | 'text';

/**
 * Default breadths, each at least the results wanted: `perResult` times them, at least `min`, at
 * most `max` unless more results are wanted. Text queries search wider: text embeddings lie apart
 * from the images' (CLIP's modality gap) and a graph built from images finds their neighbours far
 * less reliably. Measured at 1M CLIP-like items (README "Engines and scale": usearch f16, 100
 * queries of each kind, `store.search` for k 21 in process, the re-rank on the catalog included):
 * recall@10 of image queries 0.92 at ef 64 and 0.97 at 256, for 1.4 and 1.6 ms; of text queries
 * 0.54, 0.73 and 0.82 at 64, 256 and 512, for 1.2, 1.6 and 2.9 ms, beside the text tower's 5 ms.
 */
const DEFAULT_BREADTH: Record<QueryKind, { perResult: number; min: number; max: number }> = {
  image: { perResult: 2, min: 256, max: 512 },
  text: { perResult: 16, min: 512, max: 2048 },
};

/** The smallest number of hits a page fetches (its band, see fetchBand). */
const MIN_FETCH = 32;

/**
 * Hits to fetch for a page that needs `n` (offset + k + 1, or more where hits fold): the next power
 * of two, at least MIN_FETCH, and MAX_WINDOW + 1 for every page deeper than 2,048 (past the
 * window, the next power of two, at most MAX_FETCHED_HITS). The graph's answer depends on how many hits are
 * asked for (its breadth, and the candidates a reduced-precision graph re-ranks grow with them),
 * so pages that ask for the same number agree: no hit on two pages, none skipped. Pages of
 * different bands may not; cursors never repeat a hit (see cursor.ts).
 */
export function fetchBand(n: number): number {
  let band = MIN_FETCH;
  while (band < n) band *= 2;
  if (n <= MAX_WINDOW + 1) return band > MAX_WINDOW / 2 ? MAX_WINDOW + 1 : band;
  return Math.max(n, Math.min(band, MAX_FETCHED_HITS));
}

/** HNSW breadth for `n` wanted results of a query of `kind`; an explicit `ef` is raised to n, since hnswlib never returns more than ef results. */
export function chooseEf(n: number, requested?: number, kind: QueryKind = 'image'): number {
  if (requested !== undefined) return Math.min(Math.max(requested, n), Math.max(MAX_EF, n));
  const { perResult, min, max } = DEFAULT_BREADTH[kind];
  return Math.max(n, Math.min(Math.max(perResult * n, min), max));
}
