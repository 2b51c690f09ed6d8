import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TensorMap } from '../../../src/model/checkpoint/tensor.js';
import { TowerBuilder, type TowerDims } from '../../../src/model/export/clip-layers.js';
import { GraphBuilder } from '../../../src/model/export/graph-builder.js';
import { OnnxDataType, encodeModel } from '../../../src/model/export/onnx-proto.js';
import { CheckpointWeights } from '../../../src/model/export/weights.js';
import { OnnxSession } from '../../../src/model/onnx.js';

const X = [-3, -1, -0.5, 0, 0.5, 1, 3];
/** transformers' activation formulas at X, computed in float64 (Python math): erf gelu, tanh gelu, x * sigmoid(1.702 x). */
const EXPECTED: Record<string, number[]> = {
  gelu: [-0.0040497, -0.1586553, -0.1542688, 0, 0.3457312, 0.8413447, 2.9959503],
  gelu_pytorch_tanh: [-0.0036374, -0.1588080, -0.1542860, 0, 0.3457140, 0.8411920, 2.9963627],
  gelu_new: [-0.0036374, -0.1588080, -0.1542860, 0, 0.3457140, 0.8411920, 2.9963627],
  quick_gelu: [-0.0180713, -0.1542042, -0.1496116, 0, 0.3503884, 0.8457958, 2.9819287],
  relu: [0, 0, 0, 0, 0.5, 1, 3],
};

const FC1_BIAS = 0.25;
const FC2_BIAS = 0.5;

/**
 * fc1 and fc2 as identities with constant biases: the MLP of x - FC1_BIAS is its activation of x
 * plus FC2_BIAS (QuickGELU's factors, folded into the weights and fc1's bias, included).
 */
function identityMlp(width: number): TensorMap {
  const eye = new Float32Array(width * width);
  for (let i = 0; i < width; i++) eye[i * width + i] = 1;
  const tensor = (data: Float32Array, shape: number[]) => ({ data, shape });
  return new Map([
    ['mlp.fc1.weight', tensor(eye, [width, width])],
    ['mlp.fc1.bias', tensor(new Float32Array(width).fill(FC1_BIAS), [width])],
    ['mlp.fc2.weight', tensor(eye, [width, width])],
    ['mlp.fc2.bias', tensor(new Float32Array(width).fill(FC2_BIAS), [width])],
  ]);
}

describe('MLP activations', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'rsclip-act-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const [act, expected] of Object.entries(EXPECTED)) {
    it(`${act} matches torch to 1e-6`, async () => {
      const g = new GraphBuilder();
      const x = g.input('x', OnnxDataType.FLOAT, [1, X.length]);
      const dims: TowerDims = { width: X.length, heads: 1, intermediate: X.length, layers: 1, layerNormEps: 1e-5, hiddenAct: act };
      const y = new TowerBuilder(g, new CheckpointWeights(identityMlp(X.length)), 'fp32').mlp(x, 'mlp', dims);
      g.output(y, 'y', OnnxDataType.FLOAT, [1, X.length]);
      const file = path.join(work, `${act}.onnx`);
      writeFileSync(file, encodeModel(g.build(act, act)));
      const session = await OnnxSession.open(file, { threads: 1 });
      const out = await session.run({ x: { type: 'float32', data: Float32Array.from(X, (v) => v - FC1_BIAS), dims: [1, X.length] } }, 'y');
      await session.close();
      expected.forEach((v, i) => expect(Math.abs(out.data[i]! - (v + FC2_BIAS))).toBeLessThanOrEqual(1e-6));
    });
  }
});
