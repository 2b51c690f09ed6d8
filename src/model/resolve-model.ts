/**
 * `--model` accepts a local model directory or a Hugging Face repo id; a repo id goes
 * through the model cache (fetched and exported on first use, instant afterwards).
 */
import { existsSync, statSync } from 'node:fs';
import { RsclipError } from '../errors.js';
import { fetchModel, type FetchModelOptions, type FetchModelResult } from './hub/fetch-model.js';

const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

export interface ResolvedModel {
  modelDir: string;
  /** Set when the model came through the Hub cache. */
  fetched: FetchModelResult | undefined;
}

export async function resolveModel(spec: string, options: Omit<FetchModelOptions, 'repoId' | 'outDir'> = {}): Promise<ResolvedModel> {
  if (existsSync(spec) && statSync(spec).isDirectory()) return { modelDir: spec, fetched: undefined };
  if (!REPO_ID.test(spec) || spec.startsWith('.')) {
    throw new RsclipError('MODEL_NOT_FOUND', `model not found: ${spec} is neither a directory nor a Hub repo id (owner/name)`, {
      hint: 'pass --model <model dir> or a repo id such as flax-community/clip-rsicd-v2',
    });
  }
  const fetched = await fetchModel({ ...options, repoId: spec });
  return { modelDir: fetched.modelDir, fetched };
}
