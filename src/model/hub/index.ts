/** Hugging Face Hub download into the local model cache. */
export { fetchModel, DEFAULT_REPO_ID, type FetchModelOptions, type FetchModelResult, type FetchProgressEvent } from './fetch-model.js';
export { defaultCacheDir } from './cache.js';
export type { FetchVariant } from './select-files.js';
