/**
 * Int8 weight quantisation for the exported MatMuls. Weights are quantised once at export,
 * symmetric per output column (scale = max|w| / WEIGHT_LEVELS, zero point 0); activations are
 * quantised per call by onnxruntime's com.microsoft DynamicQuantizeMatMul (uint8,
 * asymmetric), the op ORT's own `quantize_dynamic` graphs are fused into on CPU, or, for an
 * attention's q/k/v product, by DynamicQuantizeLinear in front of com.microsoft QAttention.
 */
import { MS_DOMAIN, attr, floatTensor, int8Tensor, type GraphBuilder } from './graph-builder.js';

export interface QuantizedWeight {
  /** [K, N] int8, row-major like the float weight. */
  values: Int8Array;
  /** One scale per column (N). */
  scales: Float32Array;
}

/**
 * Weights use 7 bits (-63..63), not 8. On x86 CPUs without VNNI (AVX2 or AVX-512 alone: AMD
 * before Zen 4, Intel before Cascade Lake) onnxruntime multiplies uint8 activations by int8
 * weights with VPMADDUBSW, which adds two products in 16 bits and saturates when they pass
 * 32,767 (255 x 127 x 2 does): measured on such a machine with the tiny model, 8-bit weights gave
 * a worst cosine to fp32 of 0.9975 over 128 RSICD images and 0.877 over 32 captions, 7-bit ones
 * 0.9997 and 0.9968. 255 x 63 x 2 cannot saturate, and CPUs with VNNI compute exactly either way
 * (onnxruntime's own advice for these machines is `reduce_range`, the same 7 bits).
 */
export const WEIGHT_LEVELS = 63;

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
  for (let c = 0; c < n; c++) scales[c] = maxAbs[c]! > 0 ? maxAbs[c]! / WEIGHT_LEVELS : 1;
  const values = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    const base = r * n;
    for (let c = 0; c < n; c++) values[base + c] = Math.max(-WEIGHT_LEVELS, Math.min(WEIGHT_LEVELS, Math.round(weight[base + c]! / scales[c]!)));
  }
  return { values, scales };
}

/** A [K, N] weight quantised per column, as the initializers of its int8 values and its scales. */
function quantizedWeight(g: GraphBuilder, name: string, weight: Float32Array, k: number, n: number): { w: string; scale: string } {
  const q = quantizePerColumn(weight, k, n);
  return {
    w: g.initializer(int8Tensor(`${name}.weight_int8`, [k, n], q.values)),
    scale: g.initializer(floatTensor(`${name}.weight_scale`, [n], q.scales)),
  };
}

/** Emits `x @ W (+ bias)` with int8 weights and dynamically quantised activations. */
export function quantizedMatMul(g: GraphBuilder, x: string, name: string, weight: Float32Array, k: number, n: number, bias?: string): string {
  const { w, scale } = quantizedWeight(g, name, weight, k, n);
  const zeroPoint = g.initializer(int8Tensor(`${name}.weight_zero_point`, [n], new Int8Array(n)));
  return g.node('DynamicQuantizeMatMul', [x, w, scale, zeroPoint, ...(bias ? [bias] : [])], { domain: MS_DOMAIN, name });
}

/**
 * Emits self-attention over `x` with int8 q/k/v weights: `weight` is row-major [width,
 * 3 * width] (q, k, then v columns), unscaled. The activations are quantised per call
 * (DynamicQuantizeLinear: uint8, asymmetric, as DynamicQuantizeMatMul does them), and
 * QAttention scales QK^T by head_dim^-0.5; `causal`: each token sees itself and those before it.
 */
export function quantizedAttention(g: GraphBuilder, x: string, name: string, weight: Float32Array, width: number, bias: Float32Array, heads: number, causal: boolean): string {
  const { w, scale } = quantizedWeight(g, name, weight, width, 3 * width);
  const b = g.initializer(floatTensor(`${name}.bias`, [3 * width], bias));
  const [xq, xScale, xZeroPoint] = g.nodeN('DynamicQuantizeLinear', [x], { outputs: 3, name: `${name}.quantize_input` }) as [string, string, string];
  // inputs: input, weight, bias, input_scale, weight_scale, mask_index (absent), input_zero_point
  return g.node('QAttention', [xq, w, b, xScale, scale, '', xZeroPoint], { domain: MS_DOMAIN, attributes: { num_heads: attr.int(heads), unidirectional: attr.int(causal ? 1 : 0) }, name: `${name}.attention` });
}
