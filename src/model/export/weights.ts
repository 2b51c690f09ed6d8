/** Checked access to the state-dict tensors the CLIP graphs are built from. */
import { RsclipError } from '../../errors.js';
import type { Tensor, TensorMap } from '../checkpoint/tensor.js';

export class CheckpointWeights {
  readonly #tensors: TensorMap;

  constructor(tensors: TensorMap) {
    this.#tensors = tensors;
  }

  /** The tensor `name`, which must have `shape` (a -1 entry matches any size). */
  get(name: string, shape: number[]): Tensor {
    const t = this.#tensors.get(name);
    if (!t) {
      throw new RsclipError('CHECKPOINT_INVALID', `checkpoint has no tensor ${name} (expected shape [${shape.join(', ')}])`, {
        hint: 'is this a transformers CLIPModel checkpoint? its config.json and weights must match',
      });
    }
    const ok = t.shape.length === shape.length && t.shape.every((d, i) => shape[i] === -1 || d === shape[i]);
    if (!ok) {
      throw new RsclipError('CHECKPOINT_INVALID', `tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`, {
        hint: 'config.json does not describe these weights; use the config.json of the same checkpoint',
      });
    }
    return t;
  }

  has(name: string): boolean {
    return this.#tensors.has(name);
  }
}

/** Row-major [rows, cols] -> [cols, rows]: torch Linear weights are [out, in], MatMul wants [in, out]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}
