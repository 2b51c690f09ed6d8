/**
 * Opens the query encoder an index needs: the model directory's variant whose fingerprint
 * is the one the index was built with. With no variant named, each variant present in the
 * directory is tried (fp32, int8, fp16), since an index records the fingerprint, not the variant.
 */
import { RsclipError } from '../errors.js';
import { MODEL_VARIANTS, openClip, type ClipEncoder, type ModelVariant } from '../model/index.js';
import type { IndexMeta } from '../store/index.js';

export interface OpenEncoderOptions {
  variant?: ModelVariant;
  threads?: number;
}

export async function openEncoderForIndex(modelDir: string, meta: IndexMeta, options: OpenEncoderOptions = {}): Promise<ClipEncoder> {
  const variants = options.variant ? [options.variant] : MODEL_VARIANTS;
  const tried: string[] = [];
  let firstError: unknown;
  for (const variant of variants) {
    let encoder: ClipEncoder;
    try {
      encoder = await openClip(modelDir, { variant, ...(options.threads ? { threads: options.threads } : {}) });
    } catch (error) {
      // a variant whose files are absent is simply not a candidate
      firstError ??= error;
      continue;
    }
    if (encoder.info.fingerprint === meta.modelFingerprint) return encoder;
    tried.push(`${variant} (${encoder.info.fingerprint.slice(0, 12)})`);
    await encoder.close();
  }
  if (tried.length === 0) throw firstError;
  throw new RsclipError(
    'INDEX_INCOMPATIBLE',
    `the index was built with model ${meta.modelId} (${meta.modelFingerprint.slice(0, 12)}); ${modelDir} has ${tried.join(', ')}`,
    { hint: 'pass --model with the model directory the index was built with' },
  );
}
