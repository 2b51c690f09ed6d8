/** The tower dimensions of a CLIP config.json, with transformers' CLIPTextConfig / CLIPVisionConfig defaults. */
import { RsclipError } from '../../errors.js';
import type { ClipConfig } from '../model-dir.js';
import { checkActivation, type TowerDims } from './clip-layers.js';

export interface VisionDims extends TowerDims {
  imageSize: number;
  patchSize: number;
  channels: number;
}

export interface TextDims extends TowerDims {
  vocabSize: number;
  maxPositions: number;
  eosTokenId: number;
}

function tower(c: ClipConfig['text_config'] | ClipConfig['vision_config'], name: string, defaultIntermediate: number): TowerDims {
  const dims: TowerDims = {
    width: c.hidden_size,
    heads: c.num_attention_heads,
    layers: c.num_hidden_layers,
    intermediate: c.intermediate_size ?? defaultIntermediate,
    layerNormEps: c.layer_norm_eps ?? 1e-5,
    hiddenAct: c.hidden_act ?? 'quick_gelu',
  };
  if (dims.width % dims.heads !== 0) {
    throw new RsclipError('CHECKPOINT_INVALID', `${name} hidden_size ${dims.width} is not divisible by num_attention_heads ${dims.heads}`);
  }
  checkActivation(dims.hiddenAct, name);
  return dims;
}

export function visionDims(config: ClipConfig): VisionDims {
  const v = config.vision_config;
  const d = { ...tower(v, 'vision_config', 3072), imageSize: v.image_size ?? 224, patchSize: v.patch_size ?? 32, channels: v.num_channels ?? 3 };
  if (d.imageSize % d.patchSize !== 0) {
    throw new RsclipError('CHECKPOINT_INVALID', `vision_config image_size ${d.imageSize} is not a multiple of patch_size ${d.patchSize}`);
  }
  return d;
}

export function textDims(config: ClipConfig): TextDims {
  const t = config.text_config;
  return {
    ...tower(t, 'text_config', 2048),
    vocabSize: t.vocab_size ?? 49408,
    maxPositions: t.max_position_embeddings ?? 77,
    // transformers' CLIPTextConfig default; 2 marks legacy configs pooled by argmax(input_ids).
    eosTokenId: t.eos_token_id ?? 2,
  };
}
