/**
 * Model directories with the real CLIP architecture and seeded random weights, for tests
 * and benchmarks that must run without downloaded models. Weights follow transformers'
 * CLIPPreTrainedModel._init_weights (normal with the per-module stds it uses); biases and
 * LayerNorm parameters get a small perturbation, as in the golden tiny model, so every
 * bias and normalisation path of the exporter changes the output. The tokenizer is a small
 * byte-level BPE vocabulary (bpe-vocab.ts), so the text vocabulary is small at every size.
 */
import { invalidParameter } from '../../errors.js';
import type { TensorMap } from '../checkpoint/tensor.js';
import type { ClipConfig } from '../model-dir.js';
import { buildBpeVocabulary, type BpeVocabulary } from './bpe-vocab.js';
import { writeModelDirectory } from './export-clip.js';

export interface RandomClipDims {
  vision: { imageSize: number; patchSize: number; width: number; layers: number; heads: number; intermediate: number };
  text: { width: number; layers: number; heads: number; intermediate: number; maxPositions: number };
  projectionDim: number;
  hiddenAct: string;
}

export const RANDOM_CLIP_SIZES = {
  /** The dims of ../shared/golden/tiny-clip. */
  tiny: {
    vision: { imageSize: 224, patchSize: 32, width: 48, layers: 2, heads: 4, intermediate: 96 },
    text: { width: 32, layers: 2, heads: 4, intermediate: 64, maxPositions: 77 },
    projectionDim: 16,
    hiddenAct: 'quick_gelu',
  },
  /** Between tiny and full size: big enough for int8 accuracy checks, small enough for the test suite. */
  small: {
    vision: { imageSize: 224, patchSize: 32, width: 256, layers: 4, heads: 4, intermediate: 1024 },
    text: { width: 256, layers: 4, heads: 4, intermediate: 1024, maxPositions: 77 },
    projectionDim: 128,
    hiddenAct: 'quick_gelu',
  },
  /** openai/clip-vit-base-patch32 (and flax-community/clip-rsicd-v2). */
  'vit-b-32': {
    vision: { imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, intermediate: 3072 },
    text: { width: 512, layers: 12, heads: 8, intermediate: 2048, maxPositions: 77 },
    projectionDim: 512,
    hiddenAct: 'quick_gelu',
  },
} as const satisfies Record<string, RandomClipDims>;
export type RandomClipSize = keyof typeof RANDOM_CLIP_SIZES;

export interface RandomClipOptions {
  size: RandomClipSize | RandomClipDims;
  /** PRNG seed (default 0): the same seed gives the same weights. */
  seed?: number;
  quantize?: 'int8';
  /** Also write model.safetensors (default true), so the directory doubles as a checkpoint. */
  writeCheckpoint?: boolean;
  overwrite?: boolean;
  onProgress?: (message: string) => void;
}

/** mulberry32 uniforms turned into normals by Box-Muller: fast, seeded, good enough for weights. */
class SeededNormal {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  tensor(shape: number[], std: number, mean = 0): { shape: number[]; data: Float32Array } {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    let state = this.#state;
    const uniform = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let i = 0; i < data.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - uniform()));
      const angle = 2 * Math.PI * uniform();
      data[i] = mean + std * r * Math.cos(angle);
      if (i + 1 < data.length) data[i + 1] = mean + std * r * Math.sin(angle);
    }
    this.#state = state;
    return { shape, data };
  }
}

/** Std of the bias / LayerNorm perturbation (the golden tiny model's biases are of this size). */
const PERTURBATION_STD = 0.02;

function encoderTensors(rng: SeededNormal, tensors: TensorMap, prefix: string, width: number, layers: number, intermediate: number): void {
  const inProjStd = width ** -0.5 * (2 * layers) ** -0.5;
  const outProjStd = width ** -0.5;
  const fcStd = (2 * width) ** -0.5;
  const set = (name: string, shape: number[], std: number, mean = 0): void => {
    tensors.set(name, rng.tensor(shape, std, mean));
  };
  for (let i = 0; i < layers; i++) {
    const p = `${prefix}.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj']) {
      set(`${p}.self_attn.${proj}.weight`, [width, width], inProjStd);
      set(`${p}.self_attn.${proj}.bias`, [width], PERTURBATION_STD);
    }
    set(`${p}.self_attn.out_proj.weight`, [width, width], outProjStd);
    set(`${p}.self_attn.out_proj.bias`, [width], PERTURBATION_STD);
    for (const ln of ['layer_norm1', 'layer_norm2']) {
      set(`${p}.${ln}.weight`, [width], PERTURBATION_STD, 1);
      set(`${p}.${ln}.bias`, [width], PERTURBATION_STD);
    }
    set(`${p}.mlp.fc1.weight`, [intermediate, width], fcStd);
    set(`${p}.mlp.fc1.bias`, [intermediate], PERTURBATION_STD);
    set(`${p}.mlp.fc2.weight`, [width, intermediate], inProjStd);
    set(`${p}.mlp.fc2.bias`, [width], PERTURBATION_STD);
  }
}

/** A CLIPModel state dict with transformers-style random initialisation. */
export function randomClipTensors(dims: RandomClipDims, vocabSize: number, seed: number): TensorMap {
  const rng = new SeededNormal(seed);
  const tensors: TensorMap = new Map();
  const { vision: v, text: t } = dims;
  const layerNorm = (name: string, width: number): void => {
    tensors.set(`${name}.weight`, rng.tensor([width], PERTURBATION_STD, 1));
    tensors.set(`${name}.bias`, rng.tensor([width], PERTURBATION_STD));
  };
  tensors.set('text_model.embeddings.token_embedding.weight', rng.tensor([vocabSize, t.width], 0.02));
  tensors.set('text_model.embeddings.position_embedding.weight', rng.tensor([t.maxPositions, t.width], 0.02));
  encoderTensors(rng, tensors, 'text_model.encoder', t.width, t.layers, t.intermediate);
  layerNorm('text_model.final_layer_norm', t.width);
  const grid = v.imageSize / v.patchSize;
  tensors.set('vision_model.embeddings.class_embedding', rng.tensor([v.width], v.width ** -0.5));
  tensors.set('vision_model.embeddings.patch_embedding.weight', rng.tensor([v.width, 3, v.patchSize, v.patchSize], 0.02));
  tensors.set('vision_model.embeddings.position_embedding.weight', rng.tensor([grid * grid + 1, v.width], 0.02));
  layerNorm('vision_model.pre_layrnorm', v.width);
  encoderTensors(rng, tensors, 'vision_model.encoder', v.width, v.layers, v.intermediate);
  layerNorm('vision_model.post_layernorm', v.width);
  tensors.set('visual_projection.weight', rng.tensor([dims.projectionDim, v.width], v.width ** -0.5));
  tensors.set('text_projection.weight', rng.tensor([dims.projectionDim, t.width], t.width ** -0.5));
  tensors.set('logit_scale', { shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  return tensors;
}

function checkDims(dims: RandomClipDims): void {
  const positive = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1) throw invalidParameter(name, 'positive integer', value);
  };
  for (const [tower, d] of [['vision', dims.vision], ['text', dims.text]] as const) {
    for (const [k, value] of Object.entries(d)) positive(`${tower}.${k}`, value);
    if (d.width % d.heads !== 0) throw invalidParameter(`${tower}.width`, `a multiple of ${tower}.heads (${d.heads})`, d.width);
  }
  positive('projectionDim', dims.projectionDim);
  if (dims.vision.imageSize % dims.vision.patchSize !== 0) throw invalidParameter('vision.imageSize', `a multiple of vision.patchSize (${dims.vision.patchSize})`, dims.vision.imageSize);
}

function clipConfig(dims: RandomClipDims, bpe: BpeVocabulary, name: string): ClipConfig {
  const common = { hidden_act: dims.hiddenAct, layer_norm_eps: 1e-5, initializer_range: 0.02, initializer_factor: 1.0, attention_dropout: 0.0 };
  return {
    _name_or_path: name,
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: dims.projectionDim,
    logit_scale_init_value: 2.6592,
    text_config: {
      ...common,
      model_type: 'clip_text_model',
      hidden_size: dims.text.width,
      intermediate_size: dims.text.intermediate,
      num_hidden_layers: dims.text.layers,
      num_attention_heads: dims.text.heads,
      max_position_embeddings: dims.text.maxPositions,
      vocab_size: bpe.size,
      bos_token_id: bpe.bosTokenId,
      eos_token_id: bpe.eosTokenId,
      pad_token_id: bpe.eosTokenId,
    },
    vision_config: {
      ...common,
      model_type: 'clip_vision_model',
      hidden_size: dims.vision.width,
      intermediate_size: dims.vision.intermediate,
      num_hidden_layers: dims.vision.layers,
      num_attention_heads: dims.vision.heads,
      image_size: dims.vision.imageSize,
      patch_size: dims.vision.patchSize,
      num_channels: 3,
    },
  };
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Writes a complete model directory with random weights; returns its absolute path. */
export async function writeRandomClipModel(outDir: string, options: RandomClipOptions): Promise<string> {
  const dims: RandomClipDims = typeof options.size === 'string' ? RANDOM_CLIP_SIZES[options.size] : options.size;
  if (typeof options.size === 'string' && !(options.size in RANDOM_CLIP_SIZES)) {
    throw invalidParameter('size', `one of ${Object.keys(RANDOM_CLIP_SIZES).join(', ')}`, options.size);
  }
  checkDims(dims);
  const seed = options.seed ?? 0;
  const bpe = buildBpeVocabulary();
  const sizeName = typeof options.size === 'string' ? options.size : 'custom';
  const config = clipConfig(dims, bpe, `rsclip/random-clip-${sizeName}-seed${seed}`);
  options.onProgress?.(`generating random ${sizeName} weights (seed ${seed})`);
  const tensors = randomClipTensors(dims, bpe.size, seed);
  const crop = dims.vision.imageSize;
  const preprocessor = {
    do_convert_rgb: true,
    do_resize: true,
    size: { shortest_edge: crop },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: crop, width: crop },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
    image_processor_type: 'CLIPImageProcessor',
  };
  const special = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>' };
  const tokenizerConfig = { ...special, do_lower_case: true, model_max_length: dims.text.maxPositions, tokenizer_class: 'CLIPTokenizer' };
  const result = await writeModelDirectory({
    config,
    configJson: json(config),
    tensors,
    outDir,
    quantize: options.quantize,
    writeCheckpoint: options.writeCheckpoint ?? true,
    overwrite: options.overwrite,
    onProgress: options.onProgress,
    files: [
      { name: 'preprocessor_config.json', content: json(preprocessor) },
      { name: 'vocab.json', content: json(bpe.vocab) },
      { name: 'merges.txt', content: `#version: 0.2\n${bpe.merges.join('\n')}\n` },
      { name: 'tokenizer_config.json', content: json(tokenizerConfig) },
      { name: 'special_tokens_map.json', content: json(special) },
    ],
  });
  return result.outDir;
}
