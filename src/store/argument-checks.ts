/**
 * What a library caller passes where TypeScript cannot vouch for it (a JavaScript caller, an `as`):
 * - the k and ef of a store or graph search, checked before anything reaches a native engine: a
 *   NaN, a string or a fraction there is no mistake usearch reports (a NaN beam aborts the whole
 *   process in its addon), so every engine boundary refuses it with a clear error first;
 * - openIndex's location and options, and the model an index is created for, checked before
 *   anything is written (an index created without a model could not be opened again).
 */
import { RsclipError, invalidParameter, isRsclipError } from '../errors.js';
import { checkVector } from '../vector-math.js';
import type { CatalogChange, OpenIndexOptions } from './types.js';

/** The widest beam an engine is asked for (a caller's ef is bounded far lower, see search/limits.ts MAX_EF). */
export const MAX_ENGINE_EF = 2 ** 31 - 1;

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Throws BAD_QUERY unless `k` is a whole number of results (0 or more) and `ef`, when given, a whole breadth from 1. */
export function checkSearchArgs(k: unknown, ef?: unknown): void {
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 0) {
    throw new RsclipError('BAD_QUERY', `k must be a whole number of results (0 or more), got ${shown(k)}`);
  }
  if (ef !== undefined && (typeof ef !== 'number' || !Number.isInteger(ef) || ef < 1 || ef > MAX_ENGINE_EF)) {
    throw new RsclipError('BAD_QUERY', `ef must be a whole number from 1 to ${MAX_ENGINE_EF}, got ${shown(ef)}`);
  }
}

/**
 * Checks every vector a commit puts (checkVector: INDEX_INCOMPATIBLE, naming the file and the
 * item's key) before anything of it is applied; returns how many there are.
 */
export function checkPutVectors(changes: readonly CatalogChange[], dim: number): number {
  let vectors = 0;
  for (const change of changes) {
    if (change.kind !== 'put') continue;
    const items = 'items' in change ? change.items : [{ key: 'the whole image', vector: change.vector }];
    for (const { key, vector } of items) {
      try {
        checkVector(vector, dim, 'INDEX_INCOMPATIBLE');
      } catch (error) {
        if (!isRsclipError(error)) throw error;
        throw new RsclipError(error.code, `${error.message}, for ${change.file.path} (${key})`, error.hint === undefined ? {} : { hint: error.hint });
      }
      vectors++;
    }
  }
  return vectors;
}

/** The options of openIndex that are durations in milliseconds: a NaN there is no error of its own, but a reader that never looks for commits again. */
const DURATION_OPTIONS = ['refreshIntervalMs', 'replaySliceMs', 'checkpointIntervalMs'] as const;

/** Throws BAD_INPUT unless `location` is a non-empty string and `options` an object (or absent) whose durations are numbers of milliseconds. */
export function checkOpenIndexArgs(location: unknown, options: unknown): void {
  if (typeof location !== 'string' || location === '') throw invalidParameter('location', 'an index directory or a postgres:// URL', location);
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidParameter('options', 'an object', options);
  for (const name of DURATION_OPTIONS) {
    const value: unknown = (options as OpenIndexOptions)[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) throw invalidParameter(name, 'a number of milliseconds, 0 or more', value);
  }
}

const MODEL_HINT = 'pass the encoder\'s info (`(await openClip(modelDir)).info`)';

/**
 * Throws BAD_INPUT before anything is written when the options would create an index without a
 * usable model (create needs one: it is recorded in the new index), or name a model that is not
 * a ModelInfo; `exists`: whether the location holds an index already.
 */
export function checkModelOption(options: OpenIndexOptions, exists: boolean): void {
  const model: unknown = options.model;
  if (model === undefined) {
    if (!exists && options.create && !options.readonly) throw new RsclipError('BAD_INPUT', 'create needs options.model (a ModelInfo, e.g. encoder.info)', { hint: MODEL_HINT });
    return;
  }
  const info = typeof model === 'object' && model !== null ? (model as Record<string, unknown>) : undefined;
  const problem = !info
    ? `got ${typeof model === 'string' ? JSON.stringify(model) : String(model)}`
    : typeof info.id !== 'string' || info.id === ''
      ? 'its id is missing'
      : typeof info.fingerprint !== 'string' || info.fingerprint === ''
        ? 'its fingerprint is missing'
        : typeof info.embeddingDim !== 'number' || !Number.isInteger(info.embeddingDim) || info.embeddingDim < 1
          ? 'its embeddingDim is not a positive integer'
          : undefined;
  if (problem) throw new RsclipError('BAD_INPUT', `options.model must be a ModelInfo (e.g. encoder.info): ${problem}`, { hint: MODEL_HINT });
}
