/**
 * Whether a cached model directory can be answered as it is. A cache entry appears whole, by
 * rename, but files in it can go missing or be cut short later (a clean-up, a full disk, a hand
 * edit); `rsclip model fetch` is what every error about a broken model recommends, so it has to
 * notice that and download again what is missing or wrong, rather than answer "ready (from cache)".
 * Indexes are bound to the bytes of a variant's files, so a repair or a refresh keeps the entry's
 * variants (`entryVariants`) and its exported files that are intact (`keepIntactExports`).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256OfFile } from '../../file-sha256.js';
import { onnxPath, openModelDirectory } from '../model-dir.js';
import { damagedFiles, recordedFiles } from './cache-manifest.js';
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
 * With the listing: every file the plan takes as it is is in `dir` at its listed size (exported
 * files, which are not the listed ones, are checked as the directory opens).
 */
export async function matchesPlan(dir: string, plan: DownloadPlan): Promise<boolean> {
  if (!opensWithVariant(dir, plan.variant)) return false;
  for (const file of plan.asIs) if (!(await hasListedSize(dir, file))) return false;
  return true;
}

/**
 * The variants whose ONNX files the cache entry at `dir` holds: as its manifest records them
 * (a file since lost is still a variant to make again), else as the directory holds them.
 */
export async function entryVariants(dir: string): Promise<FetchVariant[]> {
  const recorded = await recordedFiles(dir);
  const holds = (variant: FetchVariant): boolean =>
    (['vision', 'text'] as const).every((tower) => {
      const rel = path.relative(dir, onnxPath(dir, tower, variant)).split(path.sep).join('/');
      return recorded ? recorded.some((f) => f.path === rel) : existsSync(onnxPath(dir, tower, variant));
    });
  return (['fp32', 'int8'] as const).filter(holds);
}

/**
 * Puts back into `ready` (the entry about to replace the one at `cachedDir`) each of the `exported`
 * files (relative paths) that the old entry holds with the bytes its manifest records: an index
 * built on them keeps working whatever the new export wrote (an export by another rsclip version
 * differs). Files the repository gives are never kept this way: they come from its listing.
 */
export async function keepIntactExports(cachedDir: string, ready: string, exported: readonly string[]): Promise<void> {
  const recorded = await recordedFiles(cachedDir);
  if (!recorded) return;
  for (const rel of exported) {
    const entry = recorded.find((f) => f.path === rel);
    const old = localPath(cachedDir, rel);
    const info = entry && (await stat(old).catch(() => undefined));
    if (!entry || !info?.isFile() || info.size !== entry.size || (await sha256OfFile(old)) !== entry.sha256) continue;
    const target = localPath(ready, rel);
    const temp = `${target}.kept-${process.pid}`;
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(old, temp);
    await rename(temp, target);
  }
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
  if (!existsSync(cachedDir)) return;
  for (const file of plan.asIs) {
    const target = localPath(staging, file.path);
    if (existsSync(target) || damaged.has(file.path) || !(await hasListedSize(cachedDir, file))) continue;
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(localPath(cachedDir, file.path), target);
  }
}
