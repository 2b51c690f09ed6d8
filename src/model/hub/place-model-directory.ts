/**
 * `model fetch --out DIR`: copies a cached model directory to a folder of the user's, replacing a
 * model directory there whole (merged into it, an older model's files that this one lacks, such
 * as its int8 ONNX files, stayed and were used). Only a folder that holds nothing but the files
 * of a model directory is replaced: anything else there (a project with a config.json of its
 * own, a checkpoint's weights, a training log) is the user's, and the folder is refused, naming it.
 */
import { cp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { RSCLIP_MODEL_FILE } from '../export/index.js';
import { replaceDirectory } from '../replace-directory.js';

/** What a model directory (fetched or exported) holds at its top level. */
const MODEL_TOP_LEVEL_FILES = new Set([
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  RSCLIP_MODEL_FILE,
]);

/** The ONNX towers and the side files of those above 2 GB (`*.onnx_data`, `*.onnx.data`). */
const ONNX_FILE = /\.onnx(?:_data|\.data)?$/;

/** Entries of `dir` (as `onnx/x` for the onnx folder's) that a model directory does not hold. */
async function foreignEntries(dir: string): Promise<string[]> {
  const foreign: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && MODEL_TOP_LEVEL_FILES.has(entry.name)) continue;
    if (entry.isDirectory() && entry.name === 'onnx') {
      for (const inner of await readdir(path.join(dir, 'onnx'), { withFileTypes: true })) {
        if (!(inner.isFile() && ONNX_FILE.test(inner.name))) foreign.push(`onnx/${inner.name}`);
      }
      continue;
    }
    foreign.push(entry.isDirectory() ? `${entry.name}/` : entry.name);
  }
  return foreign.sort();
}

/** Copies `cachedDir` to `target` (`shown` is how the user wrote it), replacing a model directory there. */
export async function placeModelDirectory(cachedDir: string, target: string, shown: string): Promise<void> {
  const info = await stat(target).catch(() => undefined);
  if (info && !info.isDirectory()) throw new RsclipError('BAD_INPUT', `--out ${shown} is a file, not a folder`, { hint: 'choose a folder for the model (it is created)' });
  if (info) {
    const foreign = await foreignEntries(target);
    if (foreign.length > 0) {
      const named = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
      throw new RsclipError('BAD_INPUT', `--out ${shown} is a folder that holds something other than a model directory (${named}), so it is not replaced`, {
        hint: 'choose a new or empty folder, or one that holds only a model directory (it is replaced whole); move those files away first if the folder is meant for the model',
      });
    }
  }
  const staging = `${target}.partial-${process.pid}`;
  try {
    await cp(cachedDir, staging, { recursive: true });
    await replaceDirectory(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
