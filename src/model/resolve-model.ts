/**
 * `--model` (or the settings' `model`) is a local model directory or a Hugging Face repo id
 * (owner/name). One rule tells the two apart for every command: an existing folder is a folder;
 * otherwise an `owner/name` that does not start with `.` is a repo id. `rsclip up` fetches a repo
 * id through the model cache (downloaded and exported on first use, instant afterwards); every
 * other command takes the cached copy and downloads nothing (`rsclip model fetch` does).
 */
import { existsSync, statSync } from 'node:fs';
import { RsclipError } from '../errors.js';
import { defaultCacheDir, ModelCache } from './hub/cache.js';
import type { FetchModelOptions, FetchModelResult } from './hub/fetch-model.js';

const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

export interface ResolvedModel {
  modelDir: string;
  /** Set when the model came through the Hub cache. */
  fetched: FetchModelResult | undefined;
}

function isDirectory(spec: string): boolean {
  return existsSync(spec) && statSync(spec).isDirectory();
}

/** Whether `spec` names a Hub repository rather than a folder: no folder of that name, and `owner/name` not starting with `.`. */
export function isHubRepoSpec(spec: string): boolean {
  return !isDirectory(spec) && REPO_ID.test(spec) && !spec.startsWith('.');
}

/** A model directory, or a repo id fetched (and exported when needed) into the cache: `rsclip up`'s rule. */
export async function resolveModel(spec: string, options: Omit<FetchModelOptions, 'repoId' | 'outDir'> = {}): Promise<ResolvedModel> {
  if (isDirectory(spec)) return { modelDir: spec, fetched: undefined };
  if (!isHubRepoSpec(spec)) {
    throw new RsclipError('MODEL_NOT_FOUND', `model not found: ${spec} is neither a directory nor a Hub repo id (owner/name)`, {
      hint: 'pass --model <model dir> or a repo id such as flax-community/clip-rsicd-v2',
    });
  }
  // loaded on first use: the download and export code is not needed by a command given a folder
  const { fetchModel } = await import('./hub/fetch-model.js');
  const fetched = await fetchModel({ ...options, repoId: spec });
  return { modelDir: fetched.modelDir, fetched };
}

/**
 * The model directory a command other than `up` uses for `spec`: the folder itself, or a repo
 * id's cached copy. A repo id not in the cache is refused with the fetch command to run; a
 * missing folder is left to the model loader, which names it.
 */
export function localModelDirectory(spec: string, options: { cacheDir?: string } = {}): string {
  if (!isHubRepoSpec(spec)) return spec;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  // a commit folder appears in the cache only whole (by rename), so its presence means complete
  const cached = new ModelCache(cacheDir, spec).fetchedModelDir();
  if (cached) return cached;
  throw new RsclipError('MODEL_NOT_FOUND', `model ${spec}: no such folder, and the Hub repository ${spec} is not in the model cache (${cacheDir})`, {
    hint: `run \`rsclip model fetch ${spec}\` first: only \`rsclip up\` downloads a model by itself; or check the folder's path`,
  });
}
