/**
 * Checkpoint -> model directory. `exportClip` writes the ONNX towers of a CLIP state dict;
 * `exportCheckpointDirectory` turns a Hugging Face checkpoint folder (config.json, weights,
 * tokenizer and preprocessor files) into a complete rsclip model directory, built in a
 * temporary sibling folder and renamed into place at the end so that nothing half-written
 * ever looks complete.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { isInside, realPathOrResolved } from '../../path-inside.js';
import { processAlive } from '../../process-alive.js';
import { loadCheckpointTensors } from '../checkpoint/load.js';
import type { TensorMap } from '../checkpoint/tensor.js';
// writeSafetensors is not (yet) re-exported by checkpoint/index.ts, which another engineer owns.
import { writeSafetensors } from '../checkpoint/safetensors.js';
import { onnxPath, openModelDirectory, parseClipConfig, type ClipConfig, type ModelVariant } from '../model-dir.js';
import { replaceDirectory } from '../replace-directory.js';
import { textDims, visionDims } from './clip-config.js';
import type { LinearPrecision } from './clip-layers.js';
import { buildTextModel } from './clip-text.js';
import { buildVisionModel } from './clip-vision.js';
import { encodeModel } from './onnx-proto.js';

export interface ExportClipOptions {
  config: ClipConfig;
  tensors: TensorMap;
  /** Model directory; the ONNX files go to `<outDir>/onnx/`. */
  outDir: string;
  /** Also write the int8 variant (`*_quantized.onnx`). */
  quantize?: 'int8';
  onProgress?: (message: string) => void;
}

export interface ExportResult {
  outDir: string;
  /** Written files, relative to outDir. */
  files: string[];
  variants: ModelVariant[];
  /** exp(logit_scale): the factor CLIPModel multiplies cosine similarities by. */
  logitScale: number;
}

/** Settings rsclip keeps next to an exported model (read by the encoder). */
export const RSCLIP_MODEL_FILE = 'rsclip.json';

/** exp(logit_scale) of the checkpoint, or of the config's init value when the tensor is absent. */
export function logitScaleOf(config: ClipConfig, tensors: TensorMap): number {
  const t = tensors.get('logit_scale');
  const raw = t && t.data.length === 1 ? t.data[0]! : (config.logit_scale_init_value ?? 2.6592);
  return Math.exp(raw);
}

/** Writes onnx/vision_model.onnx and onnx/text_model.onnx (and the int8 pair when asked). */
export async function exportClip(options: ExportClipOptions): Promise<ExportResult> {
  const { config, tensors, outDir } = options;
  // Validate dims and activations before spending time on any tower.
  visionDims(config);
  textDims(config);
  await mkdir(path.join(outDir, 'onnx'), { recursive: true });
  const precisions: { variant: ModelVariant; precision: LinearPrecision }[] = [{ variant: 'fp32', precision: 'fp32' }];
  if (options.quantize === 'int8') precisions.push({ variant: 'int8', precision: 'int8' });
  const files: string[] = [];
  for (const { variant, precision } of precisions) {
    for (const tower of ['vision', 'text'] as const) {
      options.onProgress?.(`building ${tower} tower (${variant})`);
      const model = tower === 'vision' ? buildVisionModel(config, tensors, precision) : buildTextModel(config, tensors, precision);
      const file = onnxPath(outDir, tower, variant);
      const bytes = encodeModel(model);
      await writeFile(file, bytes);
      options.onProgress?.(`wrote ${path.relative(outDir, file)} (${(bytes.length / (1 << 20)).toFixed(1)} MiB)`);
      files.push(path.relative(outDir, file));
    }
  }
  return { outDir, files, variants: precisions.map((p) => p.variant), logitScale: logitScaleOf(config, tensors) };
}

const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

async function readCheckpointConfig(dir: string): Promise<{ config: ClipConfig; raw: string }> {
  const file = path.join(dir, 'config.json');
  if (!existsSync(dir)) {
    throw new RsclipError('NOT_FOUND', `no checkpoint folder at ${path.resolve(dir)}`, { hint: 'give the folder of a Hugging Face CLIP checkpoint (config.json and its weights), or a repo id with `rsclip model fetch`' });
  }
  if (!existsSync(file)) {
    throw new RsclipError('CHECKPOINT_INVALID', `${dir} has no config.json`, { hint: 'download config.json from the model repository' });
  }
  const raw = await readFile(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new RsclipError('CHECKPOINT_INVALID', `${file} is not valid JSON`, { cause, hint: 'download config.json again' });
  }
  // transformers' tower defaults and 2021-era `*_config_dict` overrides, as CLIPConfig resolves them.
  return { config: parseClipConfig(value, file, 'CHECKPOINT_INVALID'), raw };
}

/** A file of the model directory: copied from `source` or written from `content`. */
export type ModelDirectoryFile = { name: string; source: string } | { name: string; content: string };

export interface WriteModelDirectoryOptions {
  config: ClipConfig;
  /** config.json as written (the checkpoint's own text, `_name_or_path` included). */
  configJson: string;
  tensors: TensorMap;
  /** preprocessor and tokenizer files. */
  files: ModelDirectoryFile[];
  outDir: string;
  quantize?: 'int8';
  /** Also write the weights as model.safetensors, so the directory is a checkpoint too. */
  writeCheckpoint?: boolean;
  /** Replace an existing outDir (the old one stays until the new one is complete). */
  overwrite?: boolean;
  onProgress?: (message: string) => void;
}

/** Staging folders beside `target` of exports whose process is gone (killed mid-export), removed. */
async function removeDeadStagings(target: string): Promise<void> {
  const prefix = `${path.basename(target)}.partial-`;
  const names = await readdir(path.dirname(target)).catch(() => [] as string[]);
  for (const name of names) {
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : NaN;
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) await rm(path.join(path.dirname(target), name), { recursive: true, force: true });
  }
}

/**
 * Writes a complete model directory (ONNX towers, config.json, the given files and
 * rsclip.json with the logit scale) into a staging folder next to `outDir`, validates it
 * with `openModelDirectory`, then renames it into place.
 */
export async function writeModelDirectory(options: WriteModelDirectoryOptions): Promise<ExportResult> {
  const target = path.resolve(options.outDir);
  if (existsSync(target) && !options.overwrite) {
    throw new RsclipError('BAD_INPUT', `output directory ${options.outDir} already exists`, { hint: 'choose another --out or pass --force to replace it' });
  }
  await removeDeadStagings(target);
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const result = await exportClip({ config: options.config, tensors: options.tensors, outDir: staging, quantize: options.quantize, onProgress: options.onProgress });
    const files = [...result.files];
    await writeFile(path.join(staging, 'config.json'), options.configJson);
    for (const f of options.files) {
      if ('source' in f) await copyFile(f.source, path.join(staging, f.name));
      else await writeFile(path.join(staging, f.name), f.content);
      files.push(f.name);
    }
    if (options.writeCheckpoint) {
      await writeSafetensors(path.join(staging, 'model.safetensors'), options.tensors);
      files.push('model.safetensors');
    }
    const settings = { logitScale: result.logitScale, exportedBy: 'rsclip', variants: result.variants };
    await writeFile(path.join(staging, RSCLIP_MODEL_FILE), `${JSON.stringify(settings, null, 2)}\n`);
    files.push('config.json', RSCLIP_MODEL_FILE);
    // Fails here, before the rename, if anything the encoder needs is missing or malformed.
    openModelDirectory(staging);
    await replaceDirectory(staging, target);
    options.onProgress?.(`model directory ready: ${options.outDir}`);
    return { ...result, outDir: target, files: files.sort() };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

export interface ExportCheckpointOptions {
  quantize?: 'int8';
  /** Replace an existing outDir (the old one stays until the new one is complete). */
  overwrite?: boolean;
  onProgress?: (message: string) => void;
}

/**
 * Exports the Hugging Face CLIP checkpoint in `checkpointDir` (config.json, model.safetensors
 * or pytorch_model.bin, tokenizer and preprocessor files) to a complete model directory.
 */
export async function exportCheckpointDirectory(checkpointDir: string, outDir: string, options: ExportCheckpointOptions = {}): Promise<ExportResult> {
  const source = path.resolve(checkpointDir);
  // replacing the output replaces what it holds: never the checkpoint being read
  const [realSource, realOut] = [realPathOrResolved(source), realPathOrResolved(outDir)];
  if (isInside(realOut, realSource)) {
    throw new RsclipError('BAD_INPUT', `the output directory ${outDir} ${realOut === realSource ? 'is' : 'holds'} the checkpoint ${checkpointDir}: replacing it would delete the weights being exported`, { hint: 'choose an --out outside the checkpoint folder' });
  }
  if (existsSync(outDir) && !options.overwrite) {
    throw new RsclipError('BAD_INPUT', `output directory ${outDir} already exists`, { hint: 'choose another --out or pass --force to replace it' });
  }
  const { config, raw } = await readCheckpointConfig(source);
  const hasTokenizer = existsSync(path.join(source, 'tokenizer.json')) || (existsSync(path.join(source, 'vocab.json')) && existsSync(path.join(source, 'merges.txt')));
  if (!hasTokenizer) {
    throw new RsclipError('CHECKPOINT_INVALID', `${checkpointDir} has no tokenizer.json and no vocab.json + merges.txt`, { hint: 'download the tokenizer files from the model repository' });
  }
  if (!existsSync(path.join(source, 'preprocessor_config.json'))) {
    throw new RsclipError('CHECKPOINT_INVALID', `${checkpointDir} has no preprocessor_config.json`, { hint: 'download preprocessor_config.json from the model repository' });
  }
  options.onProgress?.(`reading weights from ${checkpointDir}`);
  const tensors = await loadCheckpointTensors(source);
  const files = ['preprocessor_config.json', ...TOKENIZER_FILES]
    .filter((name) => existsSync(path.join(source, name)))
    .map((name) => ({ name, source: path.join(source, name) }));
  return writeModelDirectory({ config, configJson: raw, tensors, files, outDir, quantize: options.quantize, overwrite: options.overwrite, onProgress: options.onProgress });
}

