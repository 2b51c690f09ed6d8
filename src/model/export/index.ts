/** Checkpoint -> ONNX export, int8 quantisation and random CLIP models. */
export {
  exportClip,
  exportCheckpointDirectory,
  writeModelDirectory,
  logitScaleOf,
  RSCLIP_MODEL_FILE,
  type ExportClipOptions,
  type ExportCheckpointOptions,
  type ExportResult,
  type ModelDirectoryFile,
  type WriteModelDirectoryOptions,
} from './export-clip.js';
export { writeRandomClipModel, randomClipTensors, RANDOM_CLIP_SIZES, type RandomClipDims, type RandomClipOptions, type RandomClipSize } from './random-model.js';
export { buildBpeVocabulary, type BpeVocabulary } from './bpe-vocab.js';
export { encodeModel, decodeModel, type ModelProto } from './onnx-proto.js';
