/** The model module's public surface: opening CLIP models, preprocessing, tokenising, model import. */
export { openClip, normalizeRows, type OpenClipOptions } from './encoder.js';
export type { AlreadyRead, ClipEncoder, EmbedPixelsOptions, ImageSource, ModelInfo, PixelRecipe, PreprocessedImage } from './encoder-types.js';
export type { Raster8 } from './resample.js';
export { openModelDirectory, parsePreprocessConfig, MODEL_VARIANTS, type ModelDirectory, type ModelVariant, type PreprocessConfig, type ClipConfig } from './model-dir.js';
export { describeModel, type ModelDescription } from './describe.js';
export { tokenizeTexts } from './tokenize.js';
export { computeModelFingerprint } from './fingerprint.js';
export { defaultThreadCount } from './onnx.js';
export { loadTokenizer, type ClipTokenizer, type TokenizedBatch } from './tokenizer.js';
export { preprocessImage, createThumbnail, readImageInfo, checkQueryImage, DEFAULT_MAX_QUERY_PIXELS } from './image.js';
// model import exports go here (checkpoint readers, exporter, hub)
export { readTorchCheckpoint, readSafetensors, loadCheckpointTensors, CHECKPOINT_WEIGHT_FILES, type Tensor, type TensorMap } from './checkpoint/index.js';
export { exportClip, exportCheckpointDirectory, writeRandomClipModel, RANDOM_CLIP_SIZES, type ExportClipOptions, type ExportCheckpointOptions, type ExportResult, type RandomClipDims, type RandomClipOptions, type RandomClipSize } from './export/index.js';
export { fetchModel, defaultCacheDir, DEFAULT_REPO_ID, type FetchModelOptions, type FetchModelResult, type FetchProgressEvent, type FetchVariant } from './hub/index.js';
export { resolveModel, type ResolvedModel } from './resolve-model.js';
