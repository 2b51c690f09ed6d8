/**
 * CLIPTextModelWithProjection as an ONNX graph: input_ids, attention_mask int64
 * [batch, sequence] -> text_embeds [batch, projection_dim] (projected, not normalised),
 * computed as modeling_clip.py does: token + position embeddings (positions 0..seq-1),
 * causal + padding mask (additive float32 min; the int8 graph's attention is causal itself and
 * reads no mask, see TowerBuilder.attention), encoder, final_layer_norm, the hidden state
 * of the first end token (argmax of input_ids for legacy configs with eos_token_id 2),
 * text_projection.
 */
import type { ClipConfig } from '../model-dir.js';
import type { TensorMap } from '../checkpoint/tensor.js';
import { textDims } from './clip-config.js';
import { TowerBuilder, type LinearPrecision } from './clip-layers.js';
import { GraphBuilder, attr } from './graph-builder.js';
import { OnnxDataType, type ModelProto } from './onnx-proto.js';
import { CheckpointWeights } from './weights.js';

/** torch.finfo(torch.float32).min, the value transformers puts at masked positions. */
const FLOAT32_MIN = -3.4028234663852886e38;

export function buildTextModel(config: ClipConfig, tensors: TensorMap, precision: LinearPrecision): ModelProto {
  const d = textDims(config);
  const projectionDim = config.projection_dim;
  const g = new GraphBuilder();
  const t = new TowerBuilder(g, new CheckpointWeights(tensors), precision);
  const p = 'text_model';

  const ids = g.input('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', OnnxDataType.INT64, ['batch_size', 'sequence_length']);

  const tokenTable = t.weight(`${p}.embeddings.token_embedding.weight`, [d.vocabSize, d.width]);
  const tokens = g.node('Gather', [tokenTable, ids], { attributes: { axis: attr.int(0) }, name: `${p}.embeddings.token_embedding` });
  const seqLen = g.node('Slice', [g.node('Shape', [ids]), g.int64([1]), g.int64([2])], { name: 'sequence_length' });
  const posTable = t.weight(`${p}.embeddings.position_embedding.weight`, [d.maxPositions, d.width]);
  const positions = g.node('Slice', [posTable, g.int64([0]), seqLen, g.int64([0])], { name: `${p}.embeddings.position_embedding` });
  const embeddings = g.node('Add', [tokens, positions], { name: `${p}.embeddings` });

  // Key j is visible to query i when j <= i and attention_mask[j] is 1 (built where the attention takes a mask).
  let attentionBias: string | undefined;
  const causalMask = (): string => {
    const range = g.node('Range', [g.int64([0], []), g.node('Squeeze', [seqLen, g.int64([0])]), g.int64([1], [])], { name: 'positions' });
    const causal = g.node('LessOrEqual', [g.node('Unsqueeze', [range, g.int64([0])]), g.node('Unsqueeze', [range, g.int64([1])])], { name: 'causal' });
    const padding = g.node('Unsqueeze', [g.node('Cast', [mask], { attributes: { to: attr.int(OnnxDataType.BOOL) } }), g.int64([1, 2])]);
    const visible = g.node('And', [causal, padding], { name: 'visible' });
    return g.node('Where', [visible, g.scalar(0), g.scalar(FLOAT32_MIN)], { name: 'attention_bias' });
  };

  const h = t.encoder(embeddings, `${p}.encoder`, d, { bias: () => (attentionBias ??= causalMask()) });

  const poolKey = d.eosTokenId === 2 ? ids : g.node('Equal', [ids, g.int64([d.eosTokenId], [])]);
  // ArgMax returns the first maximum, i.e. the first end token (or the largest id).
  const eosIndex = g.node('ArgMax', [g.node('Cast', [poolKey], { attributes: { to: attr.int(OnnxDataType.FLOAT) } })], {
    attributes: { axis: attr.int(1), keepdims: attr.int(1) },
    name: 'eos_index',
  });
  const pooledHidden = g.node('GatherND', [h, eosIndex], { attributes: { batch_dims: attr.int(1) }, name: `${p}.pooled` });
  // final_layer_norm is per token, so normalising only the pooled token is the same computation.
  const pooled = t.layerNorm(pooledHidden, `${p}.final_layer_norm`, d.width, d.layerNormEps);
  const embeds = t.checkpointLinear(pooled, 'text_projection', d.width, projectionDim, false);
  g.output(embeds, 'text_embeds', OnnxDataType.FLOAT, ['batch_size', projectionDim]);
  return g.build('clip_text_model', `CLIP text tower exported by rsclip (${precision})`);
}
