/**
 * Finds and reads the weights of a Hugging Face checkpoint directory, in the order
 * transformers prefers them: model.safetensors, the sharded safetensors index,
 * pytorch_model.bin, the sharded .bin index.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { readSafetensors } from './safetensors.js';
import type { TensorMap } from './tensor.js';
import { readTorchCheckpoint } from './torch-pickle.js';

/** Weight files a checkpoint directory may hold, most preferred first. */
export const CHECKPOINT_WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

/** Buffers that are derived at run time rather than learnt (int64 in 2021-era checkpoints). */
const isIgnoredBuffer = (name: string): boolean => name.endsWith('.position_ids');

async function shardFiles(indexFile: string): Promise<string[]> {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(await readFile(indexFile, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (cause) {
    throw new RsclipError('CHECKPOINT_INVALID', `${indexFile} is not valid JSON`, { cause, hint: 'download the index file again' });
  }
  if (weightMap === null || typeof weightMap !== 'object' || !Object.values(weightMap).every((f) => typeof f === 'string')) {
    throw new RsclipError('CHECKPOINT_INVALID', `${indexFile} has no weight_map of tensor name -> shard file`, { hint: 'download the index file again' });
  }
  const files = [...new Set(Object.values(weightMap as Record<string, string>))];
  const dir = path.dirname(indexFile);
  for (const f of files) {
    if (path.isAbsolute(f) || f.split(/[\\/]/).includes('..')) {
      throw new RsclipError('CHECKPOINT_INVALID', `${indexFile} names a shard outside its directory: ${f}`);
    }
    if (!existsSync(path.join(dir, f))) {
      throw new RsclipError('CHECKPOINT_INVALID', `${indexFile} names shard ${f}, which is missing from ${dir}`, {
        hint: 'download every shard listed in the index',
      });
    }
  }
  return files.map((f) => path.join(dir, f));
}

async function readWeightFile(file: string): Promise<TensorMap> {
  return file.endsWith('.safetensors') ? readSafetensors(file) : readTorchCheckpoint(file);
}

/** The float tensors of the checkpoint in `dir`; learnt-free buffers such as `position_ids` are dropped. */
export async function loadCheckpointTensors(dir: string): Promise<TensorMap> {
  const found = CHECKPOINT_WEIGHT_FILES.find((f) => existsSync(path.join(dir, f)));
  if (!found) {
    const present = existsSync(dir) ? readdirSync(dir).sort().join(', ') || 'nothing' : 'no such directory';
    throw new RsclipError('CHECKPOINT_INVALID', `${dir} holds no weights: expected one of ${CHECKPOINT_WEIGHT_FILES.join(', ')}; found ${present}`, {
      hint: 'download the weights from the model repository (`rsclip model fetch <repo>`)',
    });
  }
  const file = path.join(dir, found);
  const files = found.endsWith('.index.json') ? await shardFiles(file) : [file];
  const tensors: TensorMap = new Map();
  for (const f of files) {
    for (const [name, tensor] of await readWeightFile(f)) {
      if (!isIgnoredBuffer(name)) tensors.set(name, tensor);
    }
  }
  return tensors;
}
