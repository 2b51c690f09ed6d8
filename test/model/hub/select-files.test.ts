import { describe, expect, it } from 'vitest';
import { planDownload } from '../../../src/model/hub/select-files.js';

const listed = (...paths: string[]): { path: string; size: number }[] => paths.map((p) => ({ path: p, size: 10 }));
const metadata = ['config.json', 'preprocessor_config.json', 'tokenizer.json'];

describe('planDownload', () => {
  it('mentions Flax weights in the hint for a repository without weights only when it has flax_model.msgpack', () => {
    const hintFor = (...paths: string[]): string | undefined => {
      try {
        planDownload('tests/no-weights', listed(...paths), 'fp32');
      } catch (error) {
        return (error as { hint?: string }).hint;
      }
      return undefined;
    };
    const withoutFlax = hintFor(...metadata);
    expect(withoutFlax).toBe('pick a repository with PyTorch or ONNX weights');
    expect(hintFor(...metadata, 'flax_model.msgpack')).toContain('Flax weights (flax_model.msgpack) are not supported');
  });

  it('keeps the fp32 ONNX files of a repository as they are for int8, exporting only the int8 ones from its weights', () => {
    const plan = planDownload('tests/fp32-onnx', listed(...metadata, 'onnx/vision_model.onnx', 'onnx/text_model.onnx', 'model.safetensors', 'pytorch_model.bin'), 'int8');
    expect(plan.kind).toBe('onnx+int8-export');
    expect(plan.asIs.map((f) => f.path)).toEqual([...metadata, 'onnx/vision_model.onnx', 'onnx/text_model.onnx']);
    expect(plan.files.map((f) => f.path)).toEqual([...plan.asIs.map((f) => f.path), 'model.safetensors']);
  });
});
