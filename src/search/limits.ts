/** Bounds on what one query may ask for; the HTTP API reports them in its OpenAPI document. */
export const DEFAULT_K = 20;
export const MAX_K = 1000;
/** offset + k may not exceed this: deep pages cost a search of that many results. */
export const MAX_WINDOW = 5000;
export const MAX_EF = 4096;
export const MAX_TERMS = 16;
export const MAX_TEXT_LENGTH = 1000;
export const DEFAULT_COLLAPSE_THRESHOLD = 0.96;

/**
 * HNSW breadth for `n` wanted results: twice n, at least 64 (hnswlib's recall is poor below
 * that on 512-d CLIP vectors), at most 512 unless n itself is larger. An explicit `ef` is
 * raised to n, since hnswlib never returns more than ef results.
 */
export function chooseEf(n: number, requested?: number): number {
  if (requested !== undefined) return Math.min(Math.max(requested, n), Math.max(MAX_EF, n));
  return Math.max(n, Math.min(Math.max(2 * n, 64), 512));
}
