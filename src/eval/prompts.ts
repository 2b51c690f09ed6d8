/**
 * Class text embeddings for zero-shot classification, with prompt ensembling as in the
 * CLIP paper (and its notebook `zeroshot_classifier`): each class's prompts are embedded,
 * the unit vectors averaged, and the mean renormalised to unit length.
 */
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';

/** The clip-rsicd model card's prompt. */
export const DEFAULT_PROMPT = 'Aerial photograph of {class}';
const CLASS_SLOT = '{class}';

/** Texts per model run when embedding many texts. */
export const TEXT_BATCH = 256;

export function fillPrompt(template: string, className: string): string {
  return template.split(CLASS_SLOT).join(className);
}

export function assertPromptTemplates(templates: readonly string[]): void {
  if (templates.length === 0) throw new RsclipError('BAD_INPUT', 'no prompt template: expected at least one, e.g. "Aerial photograph of {class}"');
  for (const t of templates) {
    if (!t.includes(CLASS_SLOT)) {
      throw new RsclipError('BAD_INPUT', `prompt template ${JSON.stringify(t)} has no ${CLASS_SLOT} slot`, {
        hint: 'write the class position as {class}, e.g. --prompt "Aerial photograph of {class}"',
      });
    }
  }
}

/** Embeds texts in runs of `TEXT_BATCH`. */
export async function embedTextsBatched(encoder: ClipEncoder, texts: readonly string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += TEXT_BATCH) out.push(...(await encoder.embedTexts(texts.slice(start, start + TEXT_BATCH))));
  return out;
}

/** One unit vector per class: the renormalised mean of its prompts' unit embeddings. */
export async function embedClassPrompts(encoder: ClipEncoder, classes: readonly string[], templates: readonly string[]): Promise<Float32Array[]> {
  assertPromptTemplates(templates);
  if (classes.length === 0) throw new RsclipError('DATASET_INVALID', 'no classes: expected at least one class name');
  const texts = templates.flatMap((t) => classes.map((c) => fillPrompt(t, c)));
  const vectors = await embedTextsBatched(encoder, texts);
  return classes.map((_, c) => {
    const mean = new Float32Array(vectors[0]!.length);
    for (let t = 0; t < templates.length; t++) {
      const v = vectors[t * classes.length + c]!;
      for (let d = 0; d < mean.length; d++) mean[d]! += v[d]!;
    }
    let norm = 0;
    for (let d = 0; d < mean.length; d++) norm += mean[d]! * mean[d]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let d = 0; d < mean.length; d++) mean[d]! /= norm;
    return mean;
  });
}
