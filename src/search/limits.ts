/** Bounds on what one query may ask for; the HTTP API reports them in its OpenAPI document. */
export const DEFAULT_K = 20;
export const MAX_K = 1000;
/** offset + k may not exceed this: deep pages cost a search of that many results. */
export const MAX_WINDOW = 5000;
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

/** HNSW breadth for `n` wanted results of a query of `kind`; an explicit `ef` is raised to n, since hnswlib never returns more than ef results. */
export function chooseEf(n: number, requested?: number, kind: QueryKind = 'image'): number {
  if (requested !== undefined) return Math.min(Math.max(requested, n), Math.max(MAX_EF, n));
  const { perResult, min, max } = DEFAULT_BREADTH[kind];
  return Math.max(n, Math.min(Math.max(perResult * n, min), max));
}
