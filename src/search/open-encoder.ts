/**
 * The one rule for the model of an existing index, used by every command that meets one (index,
 * search, serve, eval labels, up): the index's recorded model directory and variant are the
 * default. A given directory replaces the recorded one; a given variant is the only one tried;
 * otherwise the recorded variant is tried first, then the others present (fp32, int8, fp16), and
 * the first whose fingerprint is the index's is used. A mismatch names the variants on both sides.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openClip, type OpenClipOptions } from '../model/encoder.js';
import { MODEL_VARIANTS, type ModelVariant } from '../model/model-dir.js';
import { cachedRepoIdOf } from '../model/cached-model-repo.js';
import { modelMatches } from '../store/model-binding.js';
import { openIndex, readIndexMeta } from '../store/open-index.js';
import type { IndexMeta, IndexStore, OpenIndexOptions } from '../store/types.js';
import type { QueryTerm } from './types.js';

/** openClip's options; `maxInputPixels` is set by archive indexing. */
export type OpenEncoderOptions = Pick<OpenClipOptions, 'variant' | 'threads' | 'maxInputPixels' | 'spinning' | 'maxImageBatch' | 'visionSessions' | 'cacheDir'>;

function describeIndexModel(meta: IndexMeta): string {
  return `${meta.modelId} (${meta.modelVariant ? `${meta.modelVariant}, ` : ''}${meta.modelFingerprint.slice(0, 12)})`;
}

/** Why a command that needs the index's recorded model stops: no model was given, and the recorded folder is gone. */
export function recordedModelGone(meta: IndexMeta, hint?: string): RsclipError {
  const where = meta.modelDir ? `; it was at ${meta.modelDir}, which no longer exists` : '';
  const repoId = meta.modelDir ? cachedRepoIdOf(meta.modelDir) : undefined;
  const fetchAgain = repoId ? `fetch it again (\`rsclip model fetch ${repoId}\`) and pass --model with its directory, or ` : '';
  return new RsclipError('BAD_INPUT', `no model given: the index was built with ${describeIndexModel(meta)}${where}`, {
    hint: hint ?? `${fetchAgain}pass --model <dir> (or "model" in rsclip.config.json) with the model directory the index was built with`,
  });
}

function modelDirFor(modelDir: string | undefined, meta: IndexMeta): string {
  if (modelDir) return modelDir;
  if (meta.modelDir && existsSync(meta.modelDir)) return meta.modelDir;
  throw recordedModelGone(meta);
}

function variantOrder(options: OpenEncoderOptions, meta: IndexMeta): readonly ModelVariant[] {
  if (options.variant) return [options.variant];
  const recorded = MODEL_VARIANTS.find((v) => v === meta.modelVariant);
  return recorded ? [recorded, ...MODEL_VARIANTS.filter((v) => v !== recorded)] : MODEL_VARIANTS;
}

export async function openEncoderForIndex(modelDir: string | undefined, meta: IndexMeta, options: OpenEncoderOptions = {}): Promise<ClipEncoder> {
  const dir = modelDirFor(modelDir, meta);
  const tried: string[] = [];
  let firstError: unknown;
  for (const variant of variantOrder(options, meta)) {
    let encoder: ClipEncoder;
    try {
      encoder = await openClip(dir, { ...options, variant });
    } catch (error) {
      // a variant whose files are absent is simply not a candidate
      firstError ??= error;
      continue;
    }
    if (modelMatches(meta, encoder.info)) return encoder;
    tried.push(`${variant} (${encoder.info.fingerprint.slice(0, 12)})`);
    await encoder.close();
  }
  if (tried.length === 0) throw firstError;
  // the variant may come from --variant, RSCLIP_VARIANT or the config file's "variant"
  const asked = options.variant ? ` (variant ${options.variant} asked for)` : '';
  // leaving the variant out helps only where this folder's files of the index's variant are the index's model
  const otherVariant = options.variant !== undefined && meta.modelVariant !== undefined && options.variant !== meta.modelVariant && (await holdsIndexModel(dir, meta, options));
  // the folder the index recorded, with other files in it now (a model exported or edited again)
  const sameFolder = !otherVariant && meta.modelDir !== undefined && path.resolve(dir) === path.resolve(meta.modelDir);
  const changed = sameFolder ? `: the model files in ${dir} have changed since the index was built` : '';
  throw new RsclipError('INDEX_INCOMPATIBLE', `the index was built with model ${describeIndexModel(meta)}; ${dir} has ${tried.join(', ')}${asked}${changed}`, {
    hint: otherVariant
      ? `leave out the variant (--variant, RSCLIP_VARIANT or the config file's "variant": the index uses ${meta.modelVariant}), or index into a new --index dir`
      : sameFolder
        ? restoreHint(meta)
        : 'pass --model with the model directory the index was built with, or index into a new --index dir',
  });
}

/**
 * How to get back the model files of the folder the index recorded: a folder of the model cache is
 * repaired by fetching its revision again (which keeps its other variants), any other put back.
 */
function restoreHint(meta: IndexMeta): string {
  const repoId = meta.modelDir ? cachedRepoIdOf(meta.modelDir) : undefined;
  if (!repoId) return 'put back the model files the index was built with, or index into a new --index dir';
  const variant = meta.modelVariant && meta.modelVariant !== 'fp32' ? ` --variant ${meta.modelVariant}` : '';
  // --refresh: a file changed in place at its size is found only by reading it against the manifest
  return `restore them with \`rsclip model fetch ${repoId} --revision ${path.basename(meta.modelDir!)}${variant} --refresh\` (it checks every file of the cache entry, repairs what differs and keeps its other variants), or index into a new --index dir`;
}

/** Whether `dir`'s files of the variant the index records are the index's model. */
async function holdsIndexModel(dir: string, meta: IndexMeta, options: OpenEncoderOptions): Promise<boolean> {
  const variant = MODEL_VARIANTS.find((v) => v === meta.modelVariant);
  if (!variant) return false;
  let encoder: ClipEncoder;
  try {
    encoder = await openClip(dir, { ...options, variant });
  } catch {
    return false;
  }
  try {
    return modelMatches(meta, encoder.info);
  } finally {
    await encoder.close();
  }
}

export interface RecordedModel {
  dir: string;
  variant: ModelVariant | undefined;
  /** Whether the folder is still there. */
  present: boolean;
  /** The Hub repo it was fetched from, when it is a folder of the model cache. */
  repoId: string | undefined;
}

/** The model directory and variant an index recorded at its last update (undefined: none recorded). */
export function recordedModel(meta: IndexMeta): RecordedModel | undefined {
  if (!meta.modelDir) return undefined;
  return {
    dir: meta.modelDir,
    variant: MODEL_VARIANTS.find((v) => v === meta.modelVariant),
    present: existsSync(meta.modelDir),
    repoId: cachedRepoIdOf(meta.modelDir),
  };
}

/** The model an existing index recorded at its last update (undefined: no index, or none recorded). */
export async function recordedModelOf(index: string): Promise<RecordedModel | undefined> {
  const meta = await readIndexMeta(index);
  return meta && recordedModel(meta);
}

export interface OpenForSearchOptions {
  /** Model directory; default: the one the index recorded. */
  model?: string;
  /** An already open encoder to use instead (closed here if opening the index fails). */
  encoder?: ClipEncoder;
  encoderOptions?: OpenEncoderOptions;
  indexOptions?: Omit<OpenIndexOptions, 'readonly'>;
  /** Started on the encoder as soon as it is open; must not reject. */
  warmUp: (encoder: ClipEncoder) => Promise<void>;
  /** Says the index's notices (StoreDescription); default: a line each on stderr. */
  notify?: (notice: string) => void;
}

export interface OpenedForSearch {
  store: IndexStore;
  encoder: ClipEncoder;
  warmedUp: Promise<void>;
}

/**
 * The warm-up of a command that runs one query: its first text opens the text tower (a failure
 * is the query's own to report). Its embedding goes into `embedded`, if given, for the searcher
 * to take (SearcherOptions.embeddedTexts) instead of embedding the text again.
 */
export function warmUpWithFirstText(terms: readonly QueryTerm[], embedded?: Map<string, Promise<Float32Array>>): (encoder: ClipEncoder) => Promise<void> {
  const firstText = terms.find((t) => t.kind === 'text');
  return (encoder) => {
    if (!firstText) return Promise.resolve();
    const vector = encoder.embedTexts([firstText.text]).then(([v]) => v!);
    embedded?.set(firstText.text, vector);
    return vector.then(
      () => undefined,
      () => undefined,
    );
  };
}

/** Closes what openIndexForSearch opened, once its warm-up has settled. */
export async function closeOpenedForSearch({ store, encoder, warmedUp }: OpenedForSearch): Promise<void> {
  await warmedUp;
  try {
    await encoder.close();
  } finally {
    await store.close();
  }
}

/**
 * An index opened for reading, with the model it records: the model first, so that `warmUp`
 * opens its text tower (on a thread of its own) while this thread opens the index, where mapping
 * the graph of millions of items takes seconds. `warmedUp` settles when `warmUp` has.
 */
export async function openIndexForSearch(location: string, options: OpenForSearchOptions): Promise<OpenedForSearch> {
  let encoder = options.encoder;
  let warmedUp: Promise<void> | undefined;
  try {
    const meta = encoder ? undefined : await readIndexMeta(location);
    if (meta) encoder = await openEncoderForIndex(options.model, meta, options.encoderOptions);
    warmedUp = encoder && options.warmUp(encoder);
  } catch (error) {
    await options.encoder?.close();
    throw error;
  }
  let store: IndexStore;
  try {
    store = await openIndex(location, { ...options.indexOptions, readonly: true });
  } catch (error) {
    await warmedUp;
    await encoder?.close();
    throw error;
  }
  const notify = options.notify ?? ((notice: string) => process.stderr.write(`rsclip: ${notice}\n`));
  for (const notice of store.describe().notices ?? []) notify(notice);
  try {
    // an index that was not there a moment ago: the model it records now
    encoder ??= await openEncoderForIndex(options.model, store.meta, options.encoderOptions);
  } catch (error) {
    await store.close();
    throw error;
  }
  return { store, encoder, warmedUp: warmedUp ?? options.warmUp(encoder) };
}
