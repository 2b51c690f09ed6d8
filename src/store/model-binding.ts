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

/** A model as messages name it: id (variant, the fingerprint's first 12 digits). */
export function modelName(id: string, variant: string | undefined, fingerprint: string): string {
  return `${id} (${variant ? `${variant}, ` : ''}${fingerprint.slice(0, 12)})`;
}

/** Throws INDEX_INCOMPATIBLE unless `model` is the model of the index at `location`. */
export function assertModelMatches(meta: IndexMeta, location: string, model: ModelInfo): void {
  if (modelMatches(meta, model)) return;
  throw new RsclipError(
    'INDEX_INCOMPATIBLE',
    `index ${location} was built with model ${modelName(meta.modelId, meta.modelVariant, meta.modelFingerprint)}; you asked for ${modelName(model.id, model.variant, model.fingerprint)}`,
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
  return `index ${location} holds no vectors yet: it now uses model ${modelName(model.id, model.variant, model.fingerprint)} instead of ${modelName(meta.modelId, meta.modelVariant, meta.modelFingerprint)}, which its first run recorded`;
}

/**
 * Whether a model may be recorded again for vectors whose catalog lost the record of theirs
 * (`doctor --repair --model`): only one of their length; the caller vouches that it made them.
 */
export function assertModelFitsVectors(location: string, vectorLength: number, model: ModelInfo): void {
  if (model.embeddingDim === vectorLength) return;
  throw new RsclipError(
    'INDEX_INCOMPATIBLE',
    `index ${location} holds vectors of length ${vectorLength}; model ${modelName(model.id, model.variant, model.fingerprint)} makes vectors of length ${model.embeddingDim}, so it did not make them`,
    { hint: 'give --model the model that built the index' },
  );
}
