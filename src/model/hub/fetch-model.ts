/**
 * `rsclip model fetch`: makes a Hugging Face CLIP repository available as a local model
 * directory (ONNX layout), through the cache described in cache.ts. A cached revision is
 * answered without any network request; otherwise the repository is listed, the files a
 * model directory needs are downloaded (resumable, verified) and, when the repository has
 * no ONNX files (or no int8 ones, for int8), its PyTorch weights are exported to ONNX. An entry
 * is only ever replaced whole, by one that keeps every variant it held: the repository's files
 * as it lists them, exported files as they were when intact (an index is bound to their bytes).
 */
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { isRsclipError, RsclipError } from '../../errors.js';
import { exportCheckpointDirectory } from '../export/export-clip.js';
import { openModelDirectory } from '../model-dir.js';
import { replaceDirectory } from '../replace-directory.js';
import { defaultCacheDir, ModelCache } from './cache.js';
import { damagedFiles, writeManifest } from './cache-manifest.js';
import { cachedEntryUsable, entryVariants, keepIntactExports, matchesPlan, seedFromCache } from './cached-model-check.js';
import { downloadVerified } from './download.js';
import { cleanToken, parseEndpoint } from './endpoint.js';
import { HubClient } from './hub-client.js';
import { checkRepoId, checkRevision } from './hub-names.js';
import { placeModelDirectory } from './place-model-directory.js';
import { planDownload, type DownloadPlan, type FetchVariant } from './select-files.js';

export const DEFAULT_REPO_ID = 'flax-community/clip-rsicd-v2';

export type FetchProgressEvent =
  | { phase: 'resolve'; repoId: string; revision: string }
  | {
      phase: 'download';
      file: string;
      filesDone: number;
      filesTotal: number;
      /** Bytes present locally for the files of this fetch, resumed ones included. */
      bytesDone: number;
      bytesTotal: number;
      /** Bytes received over the network per second since the downloads started. */
      bytesPerSecond: number;
    }
  | { phase: 'export'; variant: FetchVariant }
  | { phase: 'done'; modelDir: string; fromCache: boolean };

export interface FetchModelOptions {
  /** Default `flax-community/clip-rsicd-v2`. */
  repoId?: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** Also place the model directory here (a copy of the cached one). */
  outDir?: string;
  /** Default: see `defaultCacheDir()`. */
  cacheDir?: string;
  /** Default `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Default `$HF_TOKEN`. */
  token?: string;
  /** `int8` also fetches (or exports) the `*_quantized.onnx` files. Default fp32. */
  variant?: FetchVariant;
  /** With `int8`: a repository that cannot give int8 files gives its fp32 ones instead of an error (see `PlanOptions`). */
  acceptFp32?: boolean;
  onProgress?: (event: FetchProgressEvent) => void;
  signal?: AbortSignal;
  /**
   * Ask the Hub what `revision` points at now. Without it a revision fetched before is
   * answered from the cache with no request at all (so a moved branch is not noticed).
   */
  refresh?: boolean;
  /**
   * Whether the caller can take a local model directory instead (`--model <dir>`), so hints may
   * offer it (default true; `rsclip model fetch` has no such option).
   */
  offerLocalModel?: boolean;
  /** Resumed attempts per file after a dropped connection (default 3). */
  retries?: number;
  /** A download that receives no byte for this long is broken off and resumed (default `DEFAULT_STALL_TIMEOUT_MS`). */
  stallTimeoutMs?: number;
}

export const DEFAULT_STALL_TIMEOUT_MS = 120_000;

export interface FetchModelResult {
  /** The model directory to use: `outDir` when given, else the cache entry. */
  modelDir: string;
  /** The cached model directory, `<cache>/models/<owner>--<name>/<commit>`. */
  cachedDir: string;
  commit: string;
  fromCache: boolean;
  /** Bytes received over the network by this call. */
  downloadedBytes: number;
  /** Whether ONNX files were exported from PyTorch weights by this call. */
  exported: boolean;
}

async function finish(cachedDir: string, commit: string, options: FetchModelOptions, rest: Omit<FetchModelResult, 'modelDir' | 'cachedDir' | 'commit'>): Promise<FetchModelResult> {
  let modelDir = cachedDir;
  if (options.outDir) {
    modelDir = path.resolve(options.outDir);
    await placeModelDirectory(cachedDir, modelDir, options.outDir);
  }
  options.onProgress?.({ phase: 'done', modelDir, fromCache: rest.fromCache });
  return { modelDir, cachedDir, commit, ...rest };
}

/** Deletes every file under `dir` whose path (relative, with forward slashes) is not in `keep`. */
async function removeAllBut(dir: string, keep: ReadonlySet<string>): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (!keep.has(path.relative(dir, file).split(path.sep).join('/'))) await rm(file, { force: true });
  }
}

interface InstallJob {
  client: HubClient;
  repoId: string;
  commit: string;
  plan: DownloadPlan;
  /** Where the repository files are downloaded. */
  staging: string;
  /** Where the finished model directory goes. */
  cachedDir: string;
  options: FetchModelOptions;
}

/** Downloads the planned files, exports them when needed, and renames the result into the cache. */
async function downloadAndInstall(job: InstallJob): Promise<{ downloadedBytes: number; exported: boolean }> {
  const { client, repoId, commit, plan, staging, cachedDir, options } = job;
  const { variant } = plan;
  const bytesTotal = plan.files.reduce((sum, f) => sum + Math.max(0, f.size), 0);
  const started = Date.now();
  let finishedFilesBytes = 0;
  let downloadedBytes = 0;
  for (const [index, file] of plan.files.entries()) {
    const report = (fileBytesPresent: number): void =>
      options.onProgress?.({
        phase: 'download',
        file: file.path,
        filesDone: index,
        filesTotal: plan.files.length,
        bytesDone: finishedFilesBytes + fileBytesPresent,
        bytesTotal,
        bytesPerSecond: downloadedBytes / Math.max(0.001, (Date.now() - started) / 1000),
      });
    report(0);
    await downloadVerified({
      client,
      repoId,
      commit,
      file,
      dest: path.join(staging, ...file.path.split('/')),
      retries: options.retries ?? 3,
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      onProgress: (fileBytesPresent, networkBytes) => {
        downloadedBytes += networkBytes;
        report(fileBytesPresent);
      },
    });
    finishedFilesBytes += Math.max(0, file.size);
  }

  let ready = staging;
  /** The files of `ready` that rsclip exported (not the repository's). */
  let exportedFiles: string[] = [];
  if (plan.kind !== 'onnx') {
    options.onProgress?.({ phase: 'export', variant });
    const exportDir = `${cachedDir}.export-${process.pid}`;
    await rm(exportDir, { recursive: true, force: true });
    // the export takes no signal; its progress calls are its safe points, and a throw there removes its staging folder
    const stopIfCancelled = (): void => {
      if (options.signal?.aborted) {
        throw new RsclipError('INTERRUPTED', `model fetch cancelled during the ONNX export of ${repoId}; nothing was exported`, {
          hint: 'run the command again: the downloaded files are kept, only the export runs again',
        });
      }
    };
    let exportedOnnx: string[];
    try {
      const result = await exportCheckpointDirectory(staging, exportDir, { ...(variant === 'int8' ? { quantize: 'int8' as const } : {}), onProgress: stopIfCancelled });
      exportedOnnx = result.files.map((f) => f.split(path.sep).join('/')).filter((f) => f.startsWith('onnx/'));
      stopIfCancelled();
    } catch (error) {
      await rm(exportDir, { recursive: true, force: true });
      throw error;
    }
    if (plan.kind === 'checkpoint') {
      ready = exportDir;
      exportedFiles = exportedOnnx;
    } else {
      // the repository's fp32 files stay as they were downloaded; only the int8 ones come from the export
      exportedFiles = exportedOnnx.filter((f) => !plan.asIs.some((kept) => kept.path === f));
      for (const rel of exportedFiles) await rename(path.join(exportDir, ...rel.split('/')), path.join(staging, ...rel.split('/')));
      await rm(exportDir, { recursive: true, force: true });
    }
    await keepIntactExports(cachedDir, ready, exportedFiles);
  }
  // the weights read by the export, and anything an earlier fetch of another plan left there, are not the model directory
  if (plan.kind !== 'checkpoint') await removeAllBut(staging, new Set([...plan.asIs.map((f) => f.path), ...exportedFiles]));
  try {
    openModelDirectory(ready, { variant });
  } catch (cause) {
    throw new RsclipError('MODEL_INVALID', `${repoId}@${commit} did not give a usable model directory: ${(cause as Error).message}`, {
      cause,
      hint: `the repository may not hold a CLIP model; ${options.offerLocalModel === false ? 'pick a CLIPModel repository' : 'pass --model <local dir> instead'}`,
    });
  }
  await writeManifest(ready, cachedDir);
  await replaceDirectory(ready, cachedDir);
  if (plan.kind === 'checkpoint') await rm(staging, { recursive: true, force: true });
  return { downloadedBytes, exported: plan.kind !== 'onnx' };
}

export async function fetchModel(options: FetchModelOptions = {}): Promise<FetchModelResult> {
  const repoId = options.repoId ?? DEFAULT_REPO_ID;
  checkRepoId(repoId);
  const revision = options.revision ?? 'main';
  checkRevision(revision);
  const variant = options.variant ?? 'fp32';
  const endpoint = parseEndpoint(options.endpoint ?? process.env.HF_ENDPOINT);
  const token = cleanToken(options.token ?? process.env.HF_TOKEN);
  const cache = new ModelCache(options.cacheDir ?? defaultCacheDir(), repoId);

  const cachedCommit = options.refresh ? undefined : await cache.readRef(revision);
  if (cachedCommit && (await cachedEntryUsable(cache.modelDir(cachedCommit), variant))) {
    return finish(cache.modelDir(cachedCommit), cachedCommit, options, { fromCache: true, downloadedBytes: 0, exported: false });
  }

  options.onProgress?.({ phase: 'resolve', repoId, revision });
  const client = new HubClient({
    endpoint: endpoint.url,
    repoId,
    ...(endpoint.basicAuthorization ? { basicAuthorization: endpoint.basicAuthorization } : {}),
    ...(token ? { token } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.offerLocalModel === false ? { offerLocalModel: false } : {}),
  });
  let listing: Awaited<ReturnType<HubClient['listRepository']>>;
  try {
    listing = await client.listRepository(revision);
  } catch (error) {
    // offline, an fp32 model cached for a caller that takes fp32 when int8 cannot be had is what it would get
    if (isRsclipError(error, 'OFFLINE') && options.acceptFp32 && cachedCommit && (await cachedEntryUsable(cache.modelDir(cachedCommit), 'fp32'))) {
      return finish(cache.modelDir(cachedCommit), cachedCommit, options, { fromCache: true, downloadedBytes: 0, exported: false });
    }
    throw error;
  }
  const { commit, files } = listing;
  const plan = planDownload(repoId, files, variant, { acceptFp32: options.acceptFp32 === true });
  const cachedDir = cache.modelDir(commit);
  // --refresh reads every byte of the entry against its manifest (a file overwritten at its size)
  const damaged = (await damagedFiles(cachedDir, { bytes: options.refresh === true })) ?? new Set<string>();
  if (damaged.size === 0 && (await matchesPlan(cachedDir, plan))) {
    await cache.writeRef(revision, commit);
    return finish(cachedDir, commit, options, { fromCache: true, downloadedBytes: 0, exported: false });
  }

  // the entry is made again whole: with every variant it holds (an index may use any of them), not only the one asked for
  const installPlan =
    plan.variant === 'fp32' && (await entryVariants(cachedDir)).includes('int8') ? planDownload(repoId, files, 'int8', { acceptFp32: true }) : plan;
  const release = await cache.lock(commit);
  try {
    const staging = cache.downloadDir(commit);
    await seedFromCache(cachedDir, installPlan, staging, damaged);
    const { downloadedBytes, exported } = await downloadAndInstall({ client, repoId, commit, plan: installPlan, staging, cachedDir, options });
    await cache.writeRef(revision, commit);
    return await finish(cachedDir, commit, options, { fromCache: false, downloadedBytes, exported });
  } finally {
    await release();
  }
}
