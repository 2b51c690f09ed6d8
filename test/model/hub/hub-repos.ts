/**
 * Hub repositories for the fetch tests, built from the tiny test model:
 * an ONNX repository (the transformers.js layout, like Xenova/clip-vit-base-patch32) and
 * a PyTorch-only repository shaped like flax-community/clip-rsicd-v2 (pytorch_model.bin
 * with int64 position_ids, vocab.json + merges.txt, a Flax file that must not be fetched).
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { loadCheckpointTensors } from '../../../src/model/checkpoint/index.js';
import { torchSaveBytes } from '../../fixtures/torch-writer.js';

const WEIGHT_FILES = new Set(['model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json', 'pytorch_model.bin.index.json']);

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else out.push(rel);
  }
  return out;
}

/** Every file of the model directory except PyTorch weights. */
export async function onnxRepoFiles(modelDir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const rel of await filesUnder(modelDir)) {
    if (!WEIGHT_FILES.has(rel)) files[rel] = await readFile(path.join(modelDir, rel));
  }
  files['README.md'] = Buffer.from('# tiny CLIP for tests\n');
  return files;
}

/** vocab.json + merges.txt from the model's own tokenizer files. */
async function bpeFiles(modelDir: string): Promise<{ vocab: string; merges: string }> {
  if (existsSync(path.join(modelDir, 'vocab.json')) && existsSync(path.join(modelDir, 'merges.txt'))) {
    return { vocab: await readFile(path.join(modelDir, 'vocab.json'), 'utf8'), merges: await readFile(path.join(modelDir, 'merges.txt'), 'utf8') };
  }
  const tokenizer = JSON.parse(await readFile(path.join(modelDir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: (string | [string, string])[] } };
  const merges = tokenizer.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  return { vocab: JSON.stringify(tokenizer.model.vocab), merges: `#version: 0.2\n${merges.join('\n')}\n` };
}

/** The clip-rsicd-v2 shape: config, preprocessor, BPE tokenizer files and pytorch_model.bin only. */
export async function torchRepoFiles(modelDir: string): Promise<Record<string, Uint8Array | string>> {
  const tensors = await loadCheckpointTensors(modelDir);
  const config = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as {
    text_config: { max_position_embeddings?: number };
    vision_config: { image_size?: number; patch_size?: number };
  };
  const textPositions = config.text_config.max_position_embeddings ?? 77;
  const visionPositions = ((config.vision_config.image_size ?? 224) / (config.vision_config.patch_size ?? 32)) ** 2 + 1;
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const { vocab, merges } = await bpeFiles(modelDir);
  return {
    'config.json': await readFile(path.join(modelDir, 'config.json')),
    'preprocessor_config.json': await readFile(path.join(modelDir, 'preprocessor_config.json')),
    'vocab.json': vocab,
    'merges.txt': merges,
    'tokenizer_config.json': JSON.stringify({ model_max_length: textPositions, do_lower_case: true }),
    'special_tokens_map.json': JSON.stringify({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>' }),
    'pytorch_model.bin': torchSaveBytes(tensors, {
      int64Buffers: {
        'text_model.embeddings.position_ids': { shape: [1, textPositions], values: range(textPositions) },
        'vision_model.embeddings.position_ids': { shape: [1, visionPositions], values: range(visionPositions) },
      },
    }),
    'flax_model.msgpack': Buffer.alloc(4096, 7),
  };
}
