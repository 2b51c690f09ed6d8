/**
 * The transformer pieces both CLIP towers share, as transformers' modeling_clip.py
 * defines them: CLIPEncoderLayer = LayerNorm -> CLIPAttention -> residual ->
 * LayerNorm -> CLIPMLP -> residual. Hidden states are [batch, seq, width].
 */
import { RsclipError } from '../../errors.js';
import { attr, floatTensor, MS_DOMAIN, type GraphBuilder } from './graph-builder.js';
import { quantizedAttention, quantizedMatMul } from './quantize.js';
import { transpose2d, type CheckpointWeights } from './weights.js';

/** How the MatMul weights are stored: float32, or int8 with dynamically quantised activations. */
export type LinearPrecision = 'fp32' | 'int8';

export interface TowerDims {
  width: number;
  heads: number;
  intermediate: number;
  layers: number;
  layerNormEps: number;
  hiddenAct: string;
}

/** QuickGELU's factor: x * sigmoid(1.702 x). */
const QUICK_GELU_ALPHA = 1.702;

/**
 * The text tower's attention: each token sees itself and the tokens before it. `bias()` builds
 * (once) that causal mask with the padding mask as an additive [batch, 1, seq, seq] tensor, for
 * the graphs that need one.
 */
export interface CausalAttention {
  bias: () => string;
}

export const SUPPORTED_ACTIVATIONS = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu'] as const;

export function checkActivation(act: string, tower: string): void {
  if (!(SUPPORTED_ACTIVATIONS as readonly string[]).includes(act)) {
    throw new RsclipError('CHECKPOINT_INVALID', `${tower} hidden_act "${act}" is not supported; expected one of ${SUPPORTED_ACTIVATIONS.join(', ')}`);
  }
}

export class TowerBuilder {
  readonly g: GraphBuilder;
  readonly w: CheckpointWeights;
  readonly precision: LinearPrecision;

  constructor(g: GraphBuilder, w: CheckpointWeights, precision: LinearPrecision) {
    this.g = g;
    this.w = w;
    this.precision = precision;
  }

  /** A checkpoint tensor as an initializer (optionally reshaped). */
  weight(name: string, shape: number[], dims: number[] = shape): string {
    return this.g.initializer(floatTensor(name, dims, this.w.get(name, shape).data));
  }

  layerNorm(x: string, prefix: string, width: number, eps: number): string {
    const scale = this.weight(`${prefix}.weight`, [width]);
    const bias = this.weight(`${prefix}.bias`, [width]);
    return this.g.node('LayerNormalization', [x, scale, bias], {
      attributes: { axis: attr.int(-1), epsilon: attr.float(eps) },
      name: prefix,
    });
  }

  /** `x @ W^T + b` for a torch Linear weight W [out, in]; `name` prefixes the initializers. */
  linear(x: string, name: string, weight: Float32Array, inDim: number, outDim: number, bias?: Float32Array): string {
    const wt = transpose2d(weight, outDim, inDim);
    const b = bias ? this.g.initializer(floatTensor(`${name}.bias`, [outDim], bias)) : undefined;
    if (this.precision === 'int8') return quantizedMatMul(this.g, x, name, wt, inDim, outDim, b);
    const w = this.g.initializer(floatTensor(`${name}.weight_t`, [inDim, outDim], wt));
    const y = this.g.node('MatMul', [x, w], { name });
    return b ? this.g.node('Add', [y, b], { name: `${name}.add_bias` }) : y;
  }

  /** A Linear layer of the checkpoint by its module prefix, its weight (and bias) optionally multiplied by a factor. */
  checkpointLinear(x: string, prefix: string, inDim: number, outDim: number, withBias: boolean, factor: { weight?: number; bias?: number } = {}): string {
    const w = scaled(this.w.get(`${prefix}.weight`, [outDim, inDim]).data, factor.weight);
    const b = withBias ? scaled(this.w.get(`${prefix}.bias`, [outDim]).data, factor.bias) : undefined;
    return this.linear(x, prefix, w, inDim, outDim, b);
  }

  /**
   * CLIPMLP: fc1, the activation, fc2. QuickGELU, x * sigmoid(1.702 x), is computed as SiLU, y *
   * sigmoid(y), of y = 1.702 x: fc1's weight and bias are multiplied by 1.702 and fc2's weight
   * divided by it, which leaves the layer's output the same up to rounding (int8's per-column
   * scales take the factor). onnxruntime runs both as its QuickGelu kernel, but with the factor 1
   * it skips the pass that multiplies by the factor: the int8 vision tower's QuickGelu kernel time
   * went from 1.17 to 0.67 ms per image (bench/encoder.ts --ops).
   */
  mlp(x: string, prefix: string, d: TowerDims): string {
    const g = this.g;
    if (d.hiddenAct !== 'quick_gelu') {
      const fc1 = this.checkpointLinear(x, `${prefix}.fc1`, d.width, d.intermediate, true);
      return this.checkpointLinear(this.activation(fc1, d.hiddenAct, prefix), `${prefix}.fc2`, d.intermediate, d.width, true);
    }
    const y = this.checkpointLinear(x, `${prefix}.fc1`, d.width, d.intermediate, true, { weight: QUICK_GELU_ALPHA, bias: QUICK_GELU_ALPHA });
    const silu = g.node('Mul', [y, g.node('Sigmoid', [y])], { name: `${prefix}.quick_gelu` });
    return this.checkpointLinear(silu, `${prefix}.fc2`, d.intermediate, d.width, true, { weight: 1 / QUICK_GELU_ALPHA });
  }

  /** The activations other than QuickGELU (which `mlp` folds into its products). */
  activation(x: string, act: string, prefix: string): string {
    const g = this.g;
    switch (act) {
      case 'gelu': {
        // The Div -> Erf -> Add -> Mul -> Mul order is the pattern ORT's GeluFusion recognises.
        const erf = g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)])]);
        return g.node('Mul', [g.node('Mul', [x, g.node('Add', [erf, g.scalar(1)])]), g.scalar(0.5)], { name: `${prefix}.gelu` });
      }
      case 'gelu_new':
      case 'gelu_fast':
      case 'gelu_pytorch_tanh': {
        const cube = g.node('Mul', [g.node('Mul', [x, x]), x]);
        const inner = g.node('Add', [x, g.node('Mul', [cube, g.scalar(0.044715)])]);
        const t = g.node('Tanh', [g.node('Mul', [inner, g.scalar(Math.sqrt(2 / Math.PI))])]);
        return g.node('Mul', [g.node('Mul', [x, g.scalar(0.5)]), g.node('Add', [t, g.scalar(1)])], { name: `${prefix}.gelu_tanh` });
      }
      case 'relu':
        return g.node('Relu', [x]);
      default:
        throw new RsclipError('CHECKPOINT_INVALID', `hidden_act "${act}" is not supported`);
    }
  }

  /**
   * CLIPAttention. q, k and v are one fused product. With int8 weights it is onnxruntime's
   * QAttention: the product per head written straight into the heads' layout, then QK^T,
   * softmax (at its default scale, head_dim^-0.5, CLIP's) and the weighted sum; it spared 13 % of
   * the int8 vision tower's kernel time against the separate product, split and
   * MultiHeadAttention below, whose input transposes it has no need of. The text tower's is
   * `unidirectional` (causal) and needs no padding mask: texts are padded at the end, so no token
   * before the padding sees it, and the pooled end token is one of those.
   * In fp32 the head_dim^-0.5 scale is folded into the q weights and bias and the heads are
   * MultiHeadAttention (one kernel for the per-head reshapes, QK^T, softmax and the weighted
   * sum, which as separate ops took ~9 % of the int8 vision tower's time), with the text tower's
   * causal and padding mask as an additive bias, as transformers applies it.
   */
  attention(x: string, prefix: string, d: TowerDims, causal?: CausalAttention): string {
    const g = this.g;
    const { width, heads } = d;
    const parts = ['q_proj', 'k_proj', 'v_proj'].map((p) => ({
      w: this.w.get(`${prefix}.${p}.weight`, [width, width]),
      b: this.w.get(`${prefix}.${p}.bias`, [width]),
    }));
    const quantizedHeads = this.precision === 'int8';
    const foldedScale = quantizedHeads ? 1 : (width / heads) ** -0.5;
    const w = new Float32Array(3 * width * width);
    const b = new Float32Array(3 * width);
    parts.forEach((p, i) => {
      const s = i === 0 ? foldedScale : 1;
      for (let j = 0; j < width * width; j++) w[i * width * width + j] = p.w.data[j]! * s;
      for (let j = 0; j < width; j++) b[i * width + j] = p.b.data[j]! * s;
    });
    let ctx: string;
    if (quantizedHeads) {
      ctx = quantizedAttention(g, x, `${prefix}.qkv_proj`, transpose2d(w, 3 * width, width), width, b, heads, causal !== undefined);
    } else {
      const qkv = this.linear(x, `${prefix}.qkv_proj`, w, width, 3 * width, b);
      const [q, k, v] = g.nodeN('Split', [qkv, g.int64([width, width, width])], { attributes: { axis: attr.int(-1) }, outputs: 3, name: `${prefix}.split_qkv` }) as [string, string, string];
      // inputs: query, key, value, bias, key_padding_mask, attention_bias (empty names: absent)
      ctx = g.node('MultiHeadAttention', [q, k, v, '', '', causal?.bias() ?? ''], {
        domain: MS_DOMAIN,
        attributes: { num_heads: attr.int(heads), scale: attr.float(1) },
        name: `${prefix}.heads`,
      });
    }
    return this.checkpointLinear(ctx, `${prefix}.out_proj`, width, width, true);
  }

  /** One CLIPEncoderLayer. */
  encoderLayer(h: string, prefix: string, d: TowerDims, causal?: CausalAttention): string {
    const g = this.g;
    const attn = this.attention(this.layerNorm(h, `${prefix}.layer_norm1`, d.width, d.layerNormEps), `${prefix}.self_attn`, d, causal);
    const h1 = g.node('Add', [h, attn], { name: `${prefix}.residual1` });
    const mlp = this.mlp(this.layerNorm(h1, `${prefix}.layer_norm2`, d.width, d.layerNormEps), `${prefix}.mlp`, d);
    return g.node('Add', [h1, mlp], { name: `${prefix}.residual2` });
  }

  encoder(h: string, prefix: string, d: TowerDims, causal?: CausalAttention): string {
    let x = h;
    for (let i = 0; i < d.layers; i++) x = this.encoderLayer(x, `${prefix}.layers.${i}`, d, causal);
    return x;
  }
}

/** `values` times `factor` (the array itself when there is none). */
function scaled(values: Float32Array, factor = 1): Float32Array {
  return factor === 1 ? values : values.map((v) => v * factor);
}
