/**
 * Hub repositories for the fetch tests, built from a random tiny CLIP written by the repo's
 * own code (no ../shared needed):
 * - an ONNX repository in the transformers.js layout (like Xenova/clip-vit-base-patch32);
 * - a PyTorch-only repository shaped like flax-community/clip-rsicd-v2: config,
 *   preprocessor, vocab.json + merges.txt, pytorch_model.bin with int64 position_ids and
 *   a Flax file that must not be fetched.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { buildBpeVocabulary, randomClipTensors, RANDOM_CLIP_SIZES, RSCLIP_MODEL_FILE, writeRandomClipModel } from '../../../src/model/export/index.js';
import { torchSaveBytes } from '../../fixtures/torch-writer.js';

export interface TinyHubRepos {
  /** The random model directory the repositories were made from. */
  modelDir: string;
  onnxFiles: Record<string, Uint8Array>;
  torchFiles: Record<string, Uint8Array>;
}

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(...(entry.isDirectory() ? await filesUnder(dir, rel) : [rel]));
  }
  return out;
}

export async function buildTinyHubRepos(workDir: string): Promise<TinyHubRepos> {
  const modelDir = path.join(workDir, 'random-tiny-clip');
  await writeRandomClipModel(modelDir, { size: 'tiny', seed: 11 });
  const onnxFiles: Record<string, Uint8Array> = { 'README.md': Buffer.from('# tiny CLIP for tests\n') };
  for (const rel of await filesUnder(modelDir)) {
    // rsclip.json is rsclip's own export record; a Hub repository does not carry it
    if (rel !== RSCLIP_MODEL_FILE) onnxFiles[rel] = await readFile(path.join(modelDir, rel));
  }

  const dims = RANDOM_CLIP_SIZES.tiny;
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const visionPositions = (dims.vision.imageSize / dims.vision.patchSize) ** 2 + 1;
  const torchFiles: Record<string, Uint8Array> = {
    'pytorch_model.bin': torchSaveBytes(randomClipTensors(dims, buildBpeVocabulary().size, 12), {
      int64Buffers: {
        'text_model.embeddings.position_ids': { shape: [1, dims.text.maxPositions], values: range(dims.text.maxPositions) },
        'vision_model.embeddings.position_ids': { shape: [1, visionPositions], values: range(visionPositions) },
      },
    }),
    'flax_model.msgpack': Buffer.alloc(4096, 7),
  };
  for (const name of ['config.json', 'preprocessor_config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
    torchFiles[name] = onnxFiles[name]!;
  }
  return { modelDir, onnxFiles, torchFiles };
}
