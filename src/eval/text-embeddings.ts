/**
 * Embedding many texts (a benchmark's captions) as cheaply as the model allows: each distinct
 * text once, texts a cache already holds not at all, and the rest in batches of similar
 * length, since a batch is padded to its longest text.
 */
import type { ClipEncoder } from '../model/encoder-types.js';
import type { EvalProgress } from './image-vectors.js';
import { TEXT_BATCH } from './prompts.js';
import type { TextEmbeddingCache } from './text-cache.js';

export interface TextEmbeddingStats {
  /** Texts asked for, repeats included. */
  texts: number;
  /** Distinct texts. */
  distinct: number;
  /** Distinct texts found in the cache. */
  cached: number;
  /** Distinct texts run through the model. */
  embedded: number;
  /** The cache file, when one was used. */
  cacheFile: string | null;
  /** Why the cache could not be saved, when it could not (the evaluation itself is unaffected). */
  cacheSaveError: string | null;
}

export async function embedTextsCached(
  encoder: ClipEncoder,
  texts: readonly string[],
  options: { cache?: TextEmbeddingCache | undefined; onProgress?: ((p: EvalProgress) => void) | undefined } = {},
): Promise<{ vectors: Float32Array[]; stats: TextEmbeddingStats }> {
  const { cache, onProgress } = options;
  const distinct = [...new Set(texts)];
  const vectorOf = new Map<string, Float32Array>();
  for (const text of distinct) {
    const hit = cache?.get(text);
    if (hit) vectorOf.set(text, hit);
  }
  const cached = vectorOf.size;
  const missing = distinct.filter((t) => !vectorOf.has(t)).sort((a, b) => a.length - b.length);
  if (missing.length > 0) onProgress?.({ phase: 'texts', done: 0, total: missing.length });
  for (let start = 0; start < missing.length; start += TEXT_BATCH) {
    const batch = missing.slice(start, start + TEXT_BATCH);
    const vectors = await encoder.embedTexts(batch);
    batch.forEach((text, i) => {
      vectorOf.set(text, vectors[i]!);
      cache?.set(text, vectors[i]!);
    });
    onProgress?.({ phase: 'texts', done: start + batch.length, total: missing.length });
  }
  let cacheSaveError: string | null = null;
  try {
    await cache?.save();
  } catch (error) {
    cacheSaveError = (error as Error).message;
  }
  return {
    vectors: texts.map((t) => vectorOf.get(t)!),
    stats: { texts: texts.length, distinct: distinct.length, cached, embedded: missing.length, cacheFile: cache?.file ?? null, cacheSaveError },
  };
}
