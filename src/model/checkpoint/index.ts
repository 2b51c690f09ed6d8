/** Checkpoint readers: torch.save zips (restricted unpickler), safetensors, and the directory loader. */
export type { Tensor, TensorMap } from './tensor.js';
export { readTorchCheckpoint } from './torch-pickle.js';
export { readSafetensors } from './safetensors.js';
export { loadCheckpointTensors, CHECKPOINT_WEIGHT_FILES } from './load.js';
