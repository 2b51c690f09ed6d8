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

/** The widest default breadth of a text query (an explicit `ef` may go to MAX_EF). */
const MAX_DEFAULT_TEXT_EF = 2048;

/** How many times wider than an image query's a text query's default breadth is. */
const TEXT_BREADTH_FACTOR = 8;

/**
 * HNSW breadth for `n` wanted results: twice n, at least 64 (hnswlib's recall is poor below
 * that on 512-d CLIP vectors), at most 512 unless n itself is larger. A text query gets eight
 * times that: text embeddings lie apart from the images' (CLIP's modality gap) and a graph built
 * from images finds their neighbours far less reliably (README "Engines and scale": recall@10 of
 * text queries at 1M CLIP-like items 0.54 at ef 64, 0.73 at 256 and 0.82 at 512, image queries
 * 0.92, 0.97 and 0.97), while the wider search costs a millisecond or two beside the text tower's
 * several. An explicit `ef` is raised to n, since hnswlib never returns more than ef results.
 */
export function chooseEf(n: number, requested?: number, kind: QueryKind = 'image'): number {
  if (requested !== undefined) return Math.min(Math.max(requested, n), Math.max(MAX_EF, n));
  const imageEf = Math.max(n, Math.min(Math.max(2 * n, 64), 512));
  return kind === 'text' ? Math.max(n, Math.min(TEXT_BREADTH_FACTOR * imageEf, MAX_DEFAULT_TEXT_EF)) : imageEf;
}
