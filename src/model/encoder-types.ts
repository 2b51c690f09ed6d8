import type { ModelVariant, PreprocessConfig } from './model-dir.js';
import type { PixelArrayPool } from './pixel-arrays.js';
import type { Raster8 } from './resample.js';

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

/** Bytes of an image file that the caller has read already (see DecodeOptions.alreadyRead). */
export interface AlreadyRead {
  /** The file's first bytes. */
  head?: Uint8Array;
  /** All of the file's bytes, as they were read. */
  content?: Uint8Array;
  /** A TIFF's blocks were checked against the file's size already (the indexer opened it with the scene reader): the decoder need not check again. */
  tiffChecked?: boolean;
}

/**
 * What a decoding thread needs to reproduce an encoder's `preprocess` and `preprocessRgb` bit for
 * bit (see src/indexer/decode-pool.ts): plain data, so it crosses to a worker thread.
 */
export interface PixelRecipe {
  preprocess: PreprocessConfig;
  /** Largest decoded image accepted, in pixels; undefined: PIL's limit. */
  maxInputPixels: number | undefined;
}

export interface EmbedPixelsOptions {
  /**
   * The caller gives the arrays up (they may be moved to the model's thread and left empty):
   * the batch is then joined there, and the caller's thread allocates nothing per batch.
   */
  handOver?: boolean;
}

/** How an index renders the images it does not embed as decoded (its `--bands` and `--stretch`): query images are rendered alike. */
export interface QueryRendering {
  /** 1-based bands for R, G, B (or one grey band); default from the colour interpretation. */
  bands?: number[];
  /** Percentiles of the stretch; default [2, 98]. */
  percentiles?: [number, number];
}

export interface ClipEncoder {
  readonly info: ModelInfo;
  /** Unit vectors, one per text. Throws BAD_INPUT on an empty list. */
  embedTexts(texts: string[]): Promise<Float32Array[]>;
  /** How many tokens `text` has, start and end included; above `info.contextLength`, the model reads only the first ones. */
  textTokens(text: string): number;
  /**
   * Unit vectors, one per query image (file path or encoded bytes), each rendered as the indexer
   * renders the same file whole (16-bit, float and band-reordered data stretched). Throws
   * IMAGE_UNREADABLE naming the bad input, for vector formats and paths that are not regular files too.
   * `rendering`: the index's band choice and stretch (default: the indexer's defaults).
   */
  embedImages(images: ImageSource[], rendering?: QueryRendering): Promise<Float32Array[]>;
  /**
   * Decodes (sharp, in libuv's pool) and preprocesses one image; call it ahead of embedPixels to
   * overlap decoding with inference. `alreadyRead`: bytes of the file at that path read already.
   */
  preprocess(image: ImageSource, alreadyRead?: AlreadyRead): Promise<PreprocessedImage>;
  /**
   * Preprocesses an image already decoded to 8-bit RGB (a scene's window): the same pixels as
   * `preprocess` gives for a lossless file of that RGB. Synchronous, on the calling thread.
   */
  preprocessRgb(rgb: Raster8): Float32Array;
  /** Set when this preprocessing can run in other threads (absent: only this object can preprocess). */
  readonly pixelRecipe?: PixelRecipe;
  /**
   * Present when every preprocessed image of this model has one size: arrays that embedPixels
   * gives back here once the model has run the images handed over to it. A decoding thread
   * preprocesses into one taken from here, so an indexer turns over no new pixel memory.
   */
  readonly pixelArrays?: PixelArrayPool;
  /** Vision-tower runs that can go on at once (calls of embedPixels; absent: one). */
  readonly visionSessions?: number;
  /** Unit vectors for already-preprocessed images. */
  embedPixels(images: Float32Array[], options?: EmbedPixelsOptions): Promise<Float32Array[]>;
  /** Number of model runs so far (tests use it to prove that nothing was re-embedded). */
  readonly runCount: { text: number; image: number };
  close(): Promise<void>;
}
