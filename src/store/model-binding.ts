/**
 * An index is bound to the model that built it: where an encoder meets an index (opening an
 * index for a model, indexing, searching, evaluating), this is the one check, and the one
 * message, naming both models by id, variant and fingerprint.
 */
import { RsclipError } from '../errors.js';
import type { ModelInfo } from '../model/encoder-types.js';
import type { IndexMeta } from './types.js';

/** Whether vectors of `model` belong in an index with this meta. */
export function modelMatches(meta: IndexMeta, model: ModelInfo): boolean {
  return model.fingerprint === meta.modelFingerprint;
}

function nameOf(id: string, variant: string | undefined, fingerprint: string): string {
  return `${id} (${variant ? `${variant}, ` : ''}${fingerprint.slice(0, 12)})`;
}

/** Throws INDEX_INCOMPATIBLE unless `model` is the model of the index at `location`. */
export function assertModelMatches(meta: IndexMeta, location: string, model: ModelInfo): void {
  if (modelMatches(meta, model)) return;
  throw new RsclipError(
    'INDEX_INCOMPATIBLE',
    `index ${location} was built with model ${nameOf(meta.modelId, meta.modelVariant, meta.modelFingerprint)}; you asked for ${nameOf(model.id, model.variant, model.fingerprint)}`,
    { hint: 'use --model with the model the index was built with, or index into a new --index dir' },
  );
}

/**
 * Whether an index into which nothing was ever committed may take `model` instead of the one its
 * first run recorded (a run that failed before storing anything, with a model mended since): it
 * holds no vector of either, and the same embedding dimension keeps its tables as they are.
 */
export function mayTakeModel(meta: IndexMeta, model: ModelInfo, nothingCommitted: boolean): boolean {
  return nothingCommitted && !modelMatches(meta, model) && meta.embeddingDim === model.embeddingDim;
}

/** The one line that says an index with nothing committed took another model. */
export function tookModelNotice(meta: IndexMeta, location: string, model: ModelInfo): string {
  return `index ${location} holds no vectors yet: it now uses model ${nameOf(model.id, model.variant, model.fingerprint)} instead of ${nameOf(meta.modelId, meta.modelVariant, meta.modelFingerprint)}, which its first run recorded`;
}
