/** What `rsclip model info` shows: architecture, dimensions, files, graph inputs/outputs, fingerprint. */
import { statSync } from 'node:fs';
import path from 'node:path';
import { computeModelFingerprint } from './fingerprint.js';
import { checkTextContext, checkTowerGraph } from './graph-check.js';
import { openModelDirectory, onnxPath, type ModelDirectory, type ModelVariant } from './model-dir.js';
import { OnnxSession, type OnnxValueInfo } from './onnx.js';
import { loadTokenizer, type ClipTokenizer } from './tokenizer.js';

export interface TowerDescription {
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number | undefined;
  activation: string | undefined;
}

export interface ModelDescription {
  id: string;
  dir: string;
  variant: ModelVariant;
  availableVariants: ModelVariant[];
  fingerprint: string;
  embeddingDim: number;
  vision: TowerDescription & { imageSize: number | undefined; patchSize: number | undefined };
  text: TowerDescription & { vocabSize: number | undefined; contextLength: number };
  preprocess: ReturnType<typeof openModelDirectory>['preprocess'];
  tokenizer: string;
  files: { path: string; bytes: number }[];
  graphs: { vision: { inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] }; text: { inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] } };
}

function tower(c: { hidden_size: number; num_hidden_layers: number; num_attention_heads: number; intermediate_size?: number | undefined; hidden_act?: string | undefined }): TowerDescription {
  return { hiddenSize: c.hidden_size, layers: c.num_hidden_layers, heads: c.num_attention_heads, intermediateSize: c.intermediate_size, activation: c.hidden_act };
}

/** A tower's declared inputs and outputs, once they agree with the model's settings (as opening the model checks them). */
async function graphOf(model: ModelDirectory, tower: 'vision' | 'text', tokenizer: ClipTokenizer): Promise<{ inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] }> {
  const session = await OnnxSession.open(model.onnx[tower], { threads: 1 });
  try {
    checkTowerGraph(model, tower, session);
    if (tower === 'text') await checkTextContext(model, session, tokenizer);
    return { inputs: session.inputs, outputs: session.outputs };
  } finally {
    await session.close();
  }
}

export interface DescribeModelOptions {
  variant?: ModelVariant;
  /** Where file hashes are remembered, as openClip's `cacheDir`. */
  cacheDir?: string | null;
}

export async function describeModel(dir: string, options: DescribeModelOptions = {}): Promise<ModelDescription> {
  const model = openModelDirectory(dir, options.variant === undefined ? {} : { variant: options.variant });
  // parsed as opening the model parses it: a corrupt tokenizer.json (or vocab.json + merges.txt) is refused by name, as `embed` would
  const tokenizer = await loadTokenizer(model.tokenizer, model.contextLength);
  const c = model.config;
  const fileNames = [
    'config.json',
    'preprocessor_config.json',
    ...(model.tokenizer.kind === 'tokenizer.json' ? [model.tokenizer.file] : [model.tokenizer.vocabFile, model.tokenizer.mergesFile]),
    ...model.availableVariants.flatMap((v) => [onnxPath(model.dir, 'vision', v), onnxPath(model.dir, 'text', v)]),
  ];
  const files = fileNames.map((f) => {
    const abs = path.resolve(model.dir, f);
    return { path: path.relative(model.dir, abs), bytes: statSync(abs).size };
  });
  const [fingerprint, vision, text] = await Promise.all([computeModelFingerprint(model, options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }), graphOf(model, 'vision', tokenizer), graphOf(model, 'text', tokenizer)]);
  return {
    id: model.id,
    dir: model.dir,
    variant: model.variant,
    availableVariants: model.availableVariants,
    fingerprint,
    embeddingDim: c.projection_dim,
    vision: { ...tower(c.vision_config), imageSize: c.vision_config.image_size, patchSize: c.vision_config.patch_size },
    text: { ...tower(c.text_config), vocabSize: c.text_config.vocab_size, contextLength: model.contextLength },
    preprocess: model.preprocess,
    tokenizer: model.tokenizer.kind === 'tokenizer.json' ? 'tokenizer.json' : 'vocab.json + merges.txt',
    files,
    graphs: { vision, text },
  };
}
