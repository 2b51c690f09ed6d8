/**
 * Opens the query encoder an index needs: the model directory's variant whose fingerprint
 * is the one the index was built with. Without a directory, the one the index recorded at
 * its last update is used. Without a variant, the recorded one is tried first, then the
 * others present in the directory (fp32, int8, fp16).
 */
import { existsSync } from 'node:fs';
import { RsclipError } from '../errors.js';
import { MODEL_VARIANTS, openClip, type ClipEncoder, type ModelVariant } from '../model/index.js';
import { modelMatches, type IndexMeta } from '../store/index.js';

export interface OpenEncoderOptions {
  variant?: ModelVariant;
  threads?: number;
}

function modelDirFor(modelDir: string | undefined, meta: IndexMeta): string {
  if (modelDir) return modelDir;
  if (meta.modelDir && existsSync(meta.modelDir)) return meta.modelDir;
  const where = meta.modelDir ? `; it was at ${meta.modelDir}, which no longer exists` : '';
  throw new RsclipError('BAD_INPUT', `no model given: the index was built with ${meta.modelId} (${meta.modelFingerprint.slice(0, 12)})${where}`, {
    hint: 'pass --model <dir> (or "model" in rsclip.config.json) with the model directory the index was built with',
  });
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
      encoder = await openClip(dir, { variant, ...(options.threads ? { threads: options.threads } : {}) });
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
  throw new RsclipError(
    'INDEX_INCOMPATIBLE',
    `the index was built with model ${meta.modelId} (${meta.modelFingerprint.slice(0, 12)}); ${dir} has ${tried.join(', ')}`,
    { hint: 'pass --model with the model directory the index was built with' },
  );
}
