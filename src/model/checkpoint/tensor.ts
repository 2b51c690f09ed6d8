/** A named float32 tensor read from a checkpoint (any stored dtype is widened to float32). */
export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** State-dict name -> tensor, e.g. `vision_model.embeddings.patch_embedding.weight`. */
export type TensorMap = Map<string, Tensor>;
