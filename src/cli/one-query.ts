/** How the commands that run one query (search, locate, export --query) open their index and model. */
import type { RsclipConfig } from '../config.js';
import type { ModelVariant } from '../model/model-dir.js';
import { givenModel } from './options.js';
import { warmUpWithFirstText, type OpenForSearchOptions } from '../search/open-encoder.js';
import type { QueryTerm } from '../search/types.js';

export interface OneQueryOpening extends OpenForSearchOptions {
  /** The query's first text as the warm-up embeds it: for the searcher (SearcherOptions.embeddedTexts). */
  embeddedTexts: ReadonlyMap<string, Promise<Float32Array>>;
}

/** Flags over the settings file; the query's first text opens the text tower while the index opens. */
export function oneQueryOpening(flags: { model?: string; variant?: ModelVariant; threads?: number }, config: RsclipConfig, terms: readonly QueryTerm[]): OneQueryOpening {
  const model = givenModel(flags.model, config);
  const variant = flags.variant ?? config.variant;
  const threads = flags.threads ?? config.threads;
  const embeddedTexts = new Map<string, Promise<Float32Array>>();
  return {
    ...(model ? { model } : {}),
    encoderOptions: { ...(variant ? { variant } : {}), ...(threads ? { threads } : {}) },
    warmUp: warmUpWithFirstText(terms, embeddedTexts),
    embeddedTexts,
  };
}
