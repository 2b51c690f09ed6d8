/**
 * CLIPVisionModelWithProjection as an ONNX graph: pixel_values [batch, 3, H, W] float32
 * -> image_embeds [batch, projection_dim] (projected, not normalised), computed as
 * modeling_clip.py does: patch embedding (its Conv as a MatMul over flattened patches) -> class token + patches -> position
 * embeddings -> pre_layrnorm -> encoder -> post_layernorm(class token) -> visual_projection.
 */
import type { ClipConfig } from '../model-dir.js';
import type { TensorMap } from '../checkpoint/tensor.js';
import { visionDims } from './clip-config.js';
import { TowerBuilder, type LinearPrecision } from './clip-layers.js';
import { GraphBuilder, attr } from './graph-builder.js';
import { OnnxDataType, type ModelProto } from './onnx-proto.js';
import { CheckpointWeights } from './weights.js';

export function buildVisionModel(config: ClipConfig, tensors: TensorMap, precision: LinearPrecision): ModelProto {
  const d = visionDims(config);
  const projectionDim = config.projection_dim;
  const g = new GraphBuilder();
  const t = new TowerBuilder(g, new CheckpointWeights(tensors), precision);
  const p = 'vision_model';
  const grid = d.imageSize / d.patchSize;
  const positions = grid * grid + 1;

  const pixels = g.input('pixel_values', OnnxDataType.FLOAT, ['batch_size', d.channels, d.imageSize, d.imageSize]);
  // The patch Conv (stride = kernel, no bias) as what it computes: each patch flattened to
  // channels x P x P, times the kernel matrix; a MatMul, so the int8 variant quantises it too.
  const patchValues = d.channels * d.patchSize * d.patchSize;
  const patchGrid = g.node('Reshape', [pixels, g.int64([0, d.channels, grid, d.patchSize, grid, d.patchSize])]);
  const patchRows = g.node('Transpose', [patchGrid], { attributes: { perm: attr.ints([0, 2, 4, 1, 3, 5]) } });
  const patchMatrix = g.node('Reshape', [patchRows, g.int64([0, grid * grid, patchValues])], { name: `${p}.embeddings.patches` });
  const kernel = t.w.get(`${p}.embeddings.patch_embedding.weight`, [d.width, d.channels, d.patchSize, d.patchSize]);
  const patchSeq = t.linear(patchMatrix, `${p}.embeddings.patch_embedding`, kernel.data, patchValues, d.width);
  const batch = g.node('Slice', [g.node('Shape', [pixels]), g.int64([0]), g.int64([1])], { name: 'batch_size' });
  const classToken = t.weight(`${p}.embeddings.class_embedding`, [d.width], [1, 1, d.width]);
  const classTokens = g.node('Expand', [classToken, g.node('Concat', [batch, g.int64([1, d.width])], { attributes: { axis: attr.int(0) } })]);
  const tokens = g.node('Concat', [classTokens, patchSeq], { attributes: { axis: attr.int(1) }, name: `${p}.embeddings.tokens` });
  const pos = t.weight(`${p}.embeddings.position_embedding.weight`, [positions, d.width]);
  const embeddings = g.node('Add', [tokens, pos], { name: `${p}.embeddings` });

  const h0 = t.layerNorm(embeddings, `${p}.pre_layrnorm`, d.width, d.layerNormEps);
  const h = t.encoder(h0, `${p}.encoder`, d);
  const cls = g.node('Gather', [h, g.int64([0], [])], { attributes: { axis: attr.int(1) }, name: `${p}.pooled` });
  const pooled = t.layerNorm(cls, `${p}.post_layernorm`, d.width, d.layerNormEps);
  const embeds = t.checkpointLinear(pooled, 'visual_projection', d.width, projectionDim, false);
  g.output(embeds, 'image_embeds', OnnxDataType.FLOAT, ['batch_size', projectionDim]);
  return g.build('clip_vision_model', `CLIP vision tower exported by rsclip (${precision})`);
}
