import type { ModelVariant } from './model-dir.js';

/** What an index binds to and what `rsclip model info` shows. */
export interface ModelInfo {
  /** Model id (`_name_or_path` or the directory name). */
  id: string;
  dir: string;
  variant: ModelVariant;
  /** sha256 over the ONNX files of the variant and the preprocessing/tokenizer config, hex. */
  fingerprint: string;
  /** Length of every embedding (projection_dim). */
  embeddingDim: number;
  /** Text positions of the text tower (77 for CLIP). */
  contextLength: number;
  /** Side of the square input of the vision tower. */
  imageSize: number;
  /** exp(logit_scale) if known (from the checkpoint or config), for logits = scale * cosine. */
  logitScale: number | undefined;
}

/** An image ready for the vision tower: channel-first float32 [3, height, width]. */
export interface PreprocessedImage {
  pixels: Float32Array;
  /** Size of the decoded source image, before resizing. */
  width: number;
  height: number;
  /** Format sharp detected: jpeg, png, tiff, webp, gif, ... */
  format: string;
}

export type ImageSource = string | Buffer;

export interface ClipEncoder {
  readonly info: ModelInfo;
  /** Unit vectors, one per text. Throws BAD_INPUT on an empty list. */
  embedTexts(texts: string[]): Promise<Float32Array[]>;
  /** Unit vectors, one per image (file path or encoded bytes). Throws IMAGE_UNREADABLE naming the bad input. */
  embedImages(images: ImageSource[]): Promise<Float32Array[]>;
  /** Decodes (sharp, in libuv's pool) and preprocesses one image; call it ahead of embedPixels to overlap decoding with inference. */
  preprocess(image: ImageSource): Promise<PreprocessedImage>;
  /** Unit vectors for already-preprocessed images. */
  embedPixels(images: Float32Array[]): Promise<Float32Array[]>;
  /** Number of model runs so far (tests use it to prove that nothing was re-embedded). */
  readonly runCount: { text: number; image: number };
  close(): Promise<void>;
}
