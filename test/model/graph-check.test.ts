/**
 * A model whose config.json or preprocessor_config.json disagrees with its ONNX graphs is refused
 * with the mismatch named, when a tower opens and by `model info`, rather than giving vectors cut
 * to the config's width or failing inside onnxruntime.
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/model/describe.js';
import { openClip } from '../../src/model/index.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { tinyModelDir } from '../fixtures/model.js';

type Damage = (dir: string) => void;

interface ModelJson {
  projection_dim: number;
  text_config: { max_position_embeddings: number };
  crop_size: { height: number; width: number };
}

function editJson(dir: string, name: string, edit: (value: ModelJson) => void): void {
  const file = path.join(dir, name);
  const value = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  edit(value);
  writeFileSync(file, JSON.stringify(value));
}

const cases: { name: string; damage: Damage; tower: 'text' | 'vision'; message: RegExp }[] = [
  {
    name: 'a projection_dim other than the towers\' output width',
    damage: (dir) => editJson(dir, 'config.json', (c) => (c.projection_dim = 8)),
    tower: 'text',
    message: /config\.json says projection_dim 8, but onnx\/(text|vision)_model\.onnx gives 16-d vectors/,
  },
  {
    name: 'a larger projection_dim, for the vision tower',
    damage: (dir) => editJson(dir, 'config.json', (c) => (c.projection_dim = 512)),
    tower: 'vision',
    message: /config\.json says projection_dim 512, but onnx\/(text|vision)_model\.onnx gives 16-d vectors/,
  },
  {
    name: 'a max_position_embeddings longer than the text tower\'s position table',
    damage: (dir) => editJson(dir, 'config.json', (c) => (c.text_config.max_position_embeddings = 100)),
    tower: 'text',
    message: /onnx\/text_model\.onnx cannot run 100 tokens, the text_config\.max_position_embeddings of config\.json/,
  },
  {
    name: 'a crop size other than the vision tower\'s input',
    damage: (dir) => editJson(dir, 'preprocessor_config.json', (p) => (p.crop_size = { height: 336, width: 336 })),
    tower: 'vision',
    message: /preprocessor_config\.json makes 336x336 images, but onnx\/vision_model\.onnx takes 224x224/,
  },
  {
    name: 'a vision_model.onnx that is the text tower',
    damage: (dir) => copyFileSync(path.join(dir, 'onnx', 'text_model.onnx'), path.join(dir, 'onnx', 'vision_model.onnx')),
    tower: 'vision',
    message: /onnx\/vision_model\.onnx has no "pixel_values" input \(it takes input_ids, attention_mask\): it is a text tower/,
  },
];

describe('a model whose settings disagree with its ONNX graphs', () => {
  let work: string;
  let source: string;
  beforeAll(async () => {
    source = await tinyModelDir();
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-graph-check-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function damaged(name: string, damage: Damage): string {
    const dir = path.join(work, name.replace(/\W+/g, '-'));
    cpSync(source, dir, { recursive: true, filter: (file) => !file.endsWith('_quantized.onnx') });
    damage(dir);
    return dir;
  }

  it.each(cases)('$name: refused when the tower opens, and by model info', async ({ name, damage, tower, message }) => {
    const dir = damaged(name, damage);
    const encoder = await openClip(dir, { threads: 1, cacheDir: null });
    try {
      const { cropHeight, cropWidth } = encoder.pixelRecipe!.preprocess;
      const embedding = tower === 'text' ? encoder.embedTexts(['river', 'a stadium']) : encoder.embedPixels([new Float32Array(3 * cropHeight * cropWidth)]);
      await expectRsclipError(embedding, 'MODEL_INVALID', message);
    } finally {
      await encoder.close();
    }
    await expectRsclipError(describeModel(dir, { cacheDir: null }), 'MODEL_INVALID', message);
  });

  it('the model as exported opens and embeds', async () => {
    const encoder = await openClip(source, { threads: 1, cacheDir: null });
    try {
      const [v] = await encoder.embedTexts(['river']);
      expect(v).toHaveLength(16);
      expect(encoder.runCount.text).toBe(1);
    } finally {
      await encoder.close();
    }
    const description = await describeModel(source, { cacheDir: null });
    expect(description.embeddingDim).toBe(16);
  });
});
