/**
 * Whether a cached model directory can be answered as it is. A cache entry appears whole, by
 * rename, but files in it can go missing or be cut short later (a clean-up, a full disk, a hand
 * edit); `rsclip model fetch` is what every error about a broken model recommends, so it has to
 * notice that and download again what is missing or wrong, rather than answer "ready (from cache)".
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { onnxPath, openModelDirectory } from '../model-dir.js';
import { damagedFiles } from './cache-manifest.js';
import type { DownloadPlan, FetchVariant } from './select-files.js';

/** Without the listing: the variant's ONNX files are there and the directory opens as loading opens it. */
function opensWithVariant(dir: string, variant: FetchVariant): boolean {
  const variants: FetchVariant[] = variant === 'int8' ? ['fp32', 'int8'] : ['fp32'];
  if (!variants.every((v) => existsSync(onnxPath(dir, 'vision', v)) && existsSync(onnxPath(dir, 'text', v)))) return false;
  try {
    openModelDirectory(dir, { variant });
    return true;
  } catch {
    return false;
  }
}

const localPath = (dir: string, repoPath: string): string => path.join(dir, ...repoPath.split('/'));

/** A planned file whose copy in `dir` has the size the listing gives it. */
async function hasListedSize(dir: string, file: DownloadPlan['files'][number]): Promise<boolean> {
  const info = await stat(localPath(dir, file.path)).catch(() => undefined);
  return info !== undefined && info.isFile() && (file.size < 0 || info.size === file.size);
}

/**
 * With the listing: every file the plan downloads is in `dir` at its listed size (an exported
 * directory, whose files are not the listed ones, is checked as it opens).
 */
export async function matchesPlan(dir: string, plan: DownloadPlan): Promise<boolean> {
  if (!opensWithVariant(dir, plan.variant)) return false;
  if (plan.kind === 'checkpoint') return true;
  for (const file of plan.files) if (!(await hasListedSize(dir, file))) return false;
  return true;
}

/** Without the listing: the entry opens with the variant, and no file of it differs in size from its manifest. */
export async function cachedEntryUsable(dir: string, variant: FetchVariant): Promise<boolean> {
  return opensWithVariant(dir, variant) && !(await damagedFiles(dir, { bytes: false }))?.size;
}

/**
 * Copies the planned files that `cachedDir` holds intact into `staging` (at their listed size,
 * and not among the `damaged` its manifest found), so that only the others are downloaded.
 */
export async function seedFromCache(cachedDir: string, plan: DownloadPlan, staging: string, damaged: ReadonlySet<string>): Promise<void> {
  if (plan.kind !== 'onnx' || !existsSync(cachedDir)) return;
  for (const file of plan.files) {
    const target = localPath(staging, file.path);
    if (existsSync(target) || damaged.has(file.path) || !(await hasListedSize(cachedDir, file))) continue;
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(localPath(cachedDir, file.path), target);
  }
}
