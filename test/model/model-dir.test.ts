import { describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { parseClipConfig, parsePreprocessConfig } from '../../src/model/model-dir.js';

describe('parseClipConfig', () => {
  it('fills tower defaults like transformers and lets *_config_dict override *_config (2021-era configs)', () => {
    const config = parseClipConfig(
      {
        model_type: 'clip',
        projection_dim: 512,
        text_config: { eos_token_id: 2 },
        text_config_dict: { hidden_size: 512, num_attention_heads: 8 },
        vision_config: { hidden_size: 1024 },
        vision_config_dict: { hidden_size: 768, patch_size: 32 },
      },
      'config.json',
    );
    expect(config.text_config).toMatchObject({ hidden_size: 512, num_hidden_layers: 12, num_attention_heads: 8, max_position_embeddings: 77, vocab_size: 49408, eos_token_id: 2 });
    expect(config.vision_config).toMatchObject({ hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 32 });
  });

  it('refuses another model type and a malformed tower, naming the file', () => {
    expect(() => parseClipConfig({ model_type: 'bert' }, '/m/config.json')).toThrow(/\/m\/config\.json is not a CLIP config: model_type is "bert"/);
    expect(() => parseClipConfig({ text_config: { hidden_size: 'wide' } }, 'config.json', 'CHECKPOINT_INVALID')).toThrow(RsclipError);
    expect(() => parseClipConfig(null, 'config.json')).toThrow(/not a CLIP config/);
  });
});

describe('parsePreprocessConfig', () => {
  it('resolves CLIPImageProcessor defaults and the size forms', () => {
    const p = parsePreprocessConfig({});
    expect(p).toMatchObject({ shortestEdge: 224, cropHeight: 224, cropWidth: 224, resample: 3, rescaleFactor: 1 / 255, doNormalize: true });
    expect(parsePreprocessConfig({ size: 256, crop_size: 224 })).toMatchObject({ shortestEdge: 256, cropHeight: 224 });
    expect(parsePreprocessConfig({ size: { shortest_edge: 336 }, crop_size: { height: 336, width: 300 } })).toMatchObject({ shortestEdge: 336, cropHeight: 336, cropWidth: 300 });
    expect(parsePreprocessConfig({ image_mean: 0.5, image_std: 0.5 }).imageMean).toEqual([0.5, 0.5, 0.5]);
  });

  it('refuses malformed values with MODEL_INVALID', () => {
    expect(() => parsePreprocessConfig({ size: -1 })).toThrow(/preprocessor_config\.json is malformed/);
    expect(() => parsePreprocessConfig({ image_mean: [1, 2] })).toThrow(RsclipError);
  });
});
