/**
 * Int8 weight quantisation for the exported MatMuls. Weights are quantised once at export,
 * symmetric per output column (scale = max|w| / 127, zero point 0); activations are
 * quantised per call by onnxruntime's com.microsoft DynamicQuantizeMatMul (uint8,
 * asymmetric), the op ORT's own `quantize_dynamic` graphs are fused into on CPU.
 */
import { MS_DOMAIN, floatTensor, int8Tensor, type GraphBuilder } from './graph-builder.js';

export interface QuantizedWeight {
  /** [K, N] int8, row-major like the float weight. */
  values: Int8Array;
  /** One scale per column (N). */
  scales: Float32Array;
}

/** Quantises a row-major [K, N] MatMul weight symmetrically per column. */
export function quantizePerColumn(weight: Float32Array, k: number, n: number): QuantizedWeight {
  const maxAbs = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    const base = r * n;
    for (let c = 0; c < n; c++) {
      const a = Math.abs(weight[base + c]!);
      if (a > maxAbs[c]!) maxAbs[c] = a;
    }
  }
  const scales = new Float32Array(n);
  for (let c = 0; c < n; c++) scales[c] = maxAbs[c]! > 0 ? maxAbs[c]! / 127 : 1;
  const values = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    const base = r * n;
    for (let c = 0; c < n; c++) values[base + c] = Math.max(-127, Math.min(127, Math.round(weight[base + c]! / scales[c]!)));
  }
  return { values, scales };
}

/** Emits `x @ W (+ bias)` with int8 weights and dynamically quantised activations. */
export function quantizedMatMul(g: GraphBuilder, x: string, name: string, weight: Float32Array, k: number, n: number, bias?: string): string {
  const q = quantizePerColumn(weight, k, n);
  const w = g.initializer(int8Tensor(`${name}.weight_int8`, [k, n], q.values));
  const scale = g.initializer(floatTensor(`${name}.weight_scale`, [n], q.scales));
  const zeroPoint = g.initializer(int8Tensor(`${name}.weight_zero_point`, [n], new Int8Array(n)));
  return g.node('DynamicQuantizeMatMul', [x, w, scale, zeroPoint, ...(bias ? [bias] : [])], { domain: MS_DOMAIN, name });
}
