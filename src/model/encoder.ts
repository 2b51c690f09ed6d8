/**
 * The CLIP encoder: tokenizer + text tower, preprocessing + vision tower, both returning
 * L2-normalised Float32Array embeddings, as `CLIPModel.get_text_features` /
 * `get_image_features` followed by normalisation compute them.
 */
import { RsclipError, invalidParameter } from '../errors.js';
import type { AlreadyRead, ClipEncoder, EmbedPixelsOptions, ImageSource, ModelInfo, PixelRecipe, PreprocessedImage, QueryRendering } from './encoder-types.js';
import { computeModelFingerprint } from './fingerprint.js';
import { checkOutputWidth, checkTextContext, checkTowerGraph, embeddingOutput, textFeeds } from './graph-check.js';
import { int8SaturationWarning } from './int8-saturation.js';
import { preprocessImage, preprocessQueryImage, preprocessRgb } from './image.js';
import { openModelDirectory, type ModelDirectory, type ModelVariant } from './model-dir.js';
import { PixelArrayPool } from './pixel-arrays.js';
import { defaultThreadCount, joinRows, type OnnxFeed, type OnnxSessionOptions } from './onnx.js';
import type { Raster8 } from './resample.js';
import { ThreadedSession, type ModelSession, type SessionOutput } from './session-thread.js';
import { loadTokenizer, type ClipTokenizer } from './tokenizer.js';
import { normalizeRows } from '../vector-math.js';

export interface OpenClipOptions {
  /** onnxruntime intra-op threads per tower; default: number of cores. */
  threads?: number;
  variant?: ModelVariant;
  /** Largest decoded image accepted, in pixels (decompression-bomb guard). */
  maxInputPixels?: number;
  /** Most images per vision-tower run. */
  maxImageBatch?: number;
  /** Whether onnxruntime's threads busy-wait between parallel sections (default: onnxruntime's, yes) or sleep. */
  spinning?: boolean;
  /**
   * Vision-tower sessions, each in a thread of its own with `threads` threads (default 1): calls
   * of embedPixels made while another runs go to a free one. Several small sessions side by side
   * get more images a second out of the same cores than one large one (README "Indexing
   * performance"), for callers that keep that many batches going (the indexer).
   */
  visionSessions?: number;
  /** Where the hashes of model files are remembered between starts (default: the rsclip cache directory); `null` hashes them every time. */
  cacheDir?: string | null;
}

const DEFAULT_MAX_IMAGE_BATCH = 32;

/** L2-normalisation of the towers' outputs lives with the rest of the vector maths. */
export { normalizeRows } from '../vector-math.js';

/** `count` sessions opened at once; if one cannot open, those that did are closed again. */
async function openAll(count: number, open: () => Promise<ModelSession>): Promise<ModelSession[]> {
  const opened = await Promise.allSettled(Array.from({ length: count }, open));
  const failed = opened.find((o) => o.status === 'rejected');
  if (!failed) return opened.map((o) => (o as PromiseFulfilledResult<ModelSession>).value);
  for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
  throw failed.reason;
}

/** The name of a checked tower's embedding output (checkTowerGraph found one). */
function outputName(session: ModelSession, tower: 'vision' | 'text'): string {
  return embeddingOutput(session, tower)!.name;
}

/** `sessions` once their graph agrees with the model's settings; closed and refused when it does not. */
async function checked<T extends ModelSession | ModelSession[]>(sessions: Promise<T>, check: (session: ModelSession) => Promise<void> | void): Promise<T> {
  const opened = await sessions;
  const all = Array.isArray(opened) ? opened : [opened as ModelSession];
  try {
    await check(all[0]!);
  } catch (error) {
    for (const session of all) await session.close();
    throw error;
  }
  return opened;
}

class OnnxClipEncoder implements ClipEncoder {
  readonly info: ModelInfo;
  readonly pixelRecipe: PixelRecipe;
  readonly runCount = { text: 0, image: 0 };
  readonly #model: ModelDirectory;
  readonly #tokenizer: ClipTokenizer;
  /** onnxruntime's session options of both towers. */
  readonly #sessionOptions: OnnxSessionOptions;
  readonly #maxInputPixels: number | undefined;
  readonly #maxImageBatch: number;
  /** Arrays for preprocessed images, reused once the model thread gives them back (a centre-cropping model's are all one size). */
  readonly pixelArrays: PixelArrayPool | undefined;
  readonly visionSessions: number;
  #vision: Promise<ModelSession[]> | undefined;
  /** Model runs under way in each vision session. */
  readonly #visionRuns: number[];
  #text: Promise<ModelSession> | undefined;
  #closed = false;

  constructor(model: ModelDirectory, tokenizer: ClipTokenizer, info: ModelInfo, options: OpenClipOptions) {
    this.#model = model;
    this.#tokenizer = tokenizer;
    this.info = info;
    this.#sessionOptions = { threads: options.threads ?? defaultThreadCount(), ...(options.spinning === undefined ? {} : { spinning: options.spinning }) };
    this.#maxInputPixels = options.maxInputPixels;
    this.#maxImageBatch = options.maxImageBatch ?? DEFAULT_MAX_IMAGE_BATCH;
    this.visionSessions = options.visionSessions ?? 1;
    this.#visionRuns = new Array<number>(this.visionSessions).fill(0);
    this.pixelRecipe = { preprocess: model.preprocess, maxInputPixels: options.maxInputPixels };
    const { doCenterCrop, cropHeight, cropWidth } = model.preprocess;
    // a batch's worth for each session running, and one for the batch being prepared
    this.pixelArrays = doCenterCrop ? new PixelArrayPool(3 * cropHeight * cropWidth, (this.visionSessions + 1) * this.#maxImageBatch) : undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new RsclipError('BAD_INPUT', 'the encoder was closed');
  }

  // Sessions open on first use: an indexer never loads the text tower, a text-only query never the vision tower.
  // Each tower runs in a thread of its own, as onnxruntime-node opens and runs a session on the
  // calling thread: a vision batch takes seconds, during which that thread must keep decoding and
  // committing; and opening the text tower (0.4-0.8 s) then overlaps with what the caller does
  // meanwhile, such as mapping a large index. A text query pays 0.05-0.3 ms for the hop.
  #visionSessionsOpen(): Promise<ModelSession[]> {
    this.#vision ??= checked(
      openAll(this.visionSessions, () => ThreadedSession.open(this.#model.onnx.vision, this.#sessionOptions)),
      (session) => checkTowerGraph(this.#model, 'vision', session),
    );
    return this.#vision;
  }

  #textSession(): Promise<ModelSession> {
    this.#text ??= checked(ThreadedSession.open(this.#model.onnx.text, this.#sessionOptions), async (session) => {
      checkTowerGraph(this.#model, 'text', session);
      await checkTextContext(this.#model, session, this.#tokenizer);
    });
    return this.#text;
  }

  /** The texts' rows, as the text tower gives them (padded to the graph's fixed length, else to the longest text). */
  async #runTexts(session: ModelSession, texts: string[]): Promise<SessionOutput> {
    const seqDim = session.inputs.find((i) => i.name === 'input_ids')?.shape[1];
    const padTo = typeof seqDim === 'number' ? seqDim : undefined;
    const batch = this.#tokenizer.encodeBatch(texts, padTo === undefined ? {} : { padTo });
    const out = await session.run(textFeeds(batch, session.inputs), outputName(session, 'text'));
    checkOutputWidth(this.#model, session.file, out.dims, batch.batchSize);
    return out;
  }

  textTokens(text: string): number {
    return this.#tokenizer.tokenCount(text);
  }

  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    this.#assertOpen();
    if (!Array.isArray(texts)) {
      const refused = invalidParameter('texts', 'an array of strings', texts);
      throw typeof texts === 'string' ? new RsclipError('BAD_INPUT', refused.message, { hint: `embed one text as an array of one: embedTexts([${JSON.stringify(texts)}])` }) : refused;
    }
    if (texts.length === 0) throw new RsclipError('BAD_INPUT', 'no texts to embed: expected at least one text');
    for (const t of texts) if (typeof t !== 'string') throw invalidParameter('text', 'a string', t);
    const out = await this.#runTexts(await this.#textSession(), texts);
    this.runCount.text++;
    return normalizeRows(out.data, texts.length, this.info.embeddingDim);
  }

  preprocess(image: ImageSource, alreadyRead?: AlreadyRead): Promise<PreprocessedImage> {
    this.#assertOpen();
    const options = { ...(this.#maxInputPixels === undefined ? {} : { maxInputPixels: this.#maxInputPixels }), ...(alreadyRead ? { alreadyRead } : {}) };
    return preprocessImage(image, this.#model.preprocess, options, this.pixelArrays?.take());
  }

  preprocessRgb(rgb: Raster8): Float32Array {
    this.#assertOpen();
    return preprocessRgb(rgb, this.#model.preprocess, 'torchvision', this.pixelArrays?.take());
  }

  async embedImages(images: ImageSource[], rendering: QueryRendering = {}): Promise<Float32Array[]> {
    this.#assertOpen();
    if (!Array.isArray(images) || images.length === 0) {
      throw new RsclipError('BAD_INPUT', 'no images to embed: expected at least one image');
    }
    // query images: rendered as the indexer renders the same file (16-bit and float data stretched)
    const options = { ...rendering, ...(this.#maxInputPixels === undefined ? {} : { maxInputPixels: this.#maxInputPixels }) };
    const pixels = await Promise.all(images.map(async (image) => (await preprocessQueryImage(image, this.#model.preprocess, options, this.pixelArrays?.take())).pixels));
    return this.embedPixels(pixels, { handOver: true });
  }

  async embedPixels(images: Float32Array[], options: EmbedPixelsOptions = {}): Promise<Float32Array[]> {
    this.#assertOpen();
    if (images.length === 0) throw new RsclipError('BAD_INPUT', 'no images to embed: expected at least one image');
    const { cropHeight, cropWidth } = this.#model.preprocess;
    const size = 3 * cropHeight * cropWidth;
    for (const p of images) {
      if (p.length !== size) throw invalidParameter('pixels length', `${size} (3x${cropHeight}x${cropWidth})`, p.length);
    }
    const sessions = await this.#visionSessionsOpen();
    const output = outputName(sessions[0]!, 'vision');
    const vectors: Float32Array[] = [];
    for (let start = 0; start < images.length; start += this.#maxImageBatch) {
      const chunk = images.slice(start, start + this.#maxImageBatch);
      const dims = [chunk.length, 3, cropHeight, cropWidth];
      // handed over, the rows move to the model thread and are joined there
      const feed: OnnxFeed = options.handOver ? { type: 'float32', rows: chunk, dims } : { type: 'float32', data: joinRows(chunk, size), dims };
      const chosen = this.#visionRuns.indexOf(Math.min(...this.#visionRuns));
      this.#visionRuns[chosen]!++;
      let out: SessionOutput;
      try {
        out = await sessions[chosen]!.run({ pixel_values: feed }, output);
      } finally {
        this.#visionRuns[chosen]!--;
      }
      if (out.spentRows) this.pixelArrays?.give(out.spentRows);
      checkOutputWidth(this.#model, sessions[chosen]!.file, out.dims, chunk.length);
      this.runCount.image++;
      vectors.push(...normalizeRows(out.data, chunk.length, this.info.embeddingDim));
    }
    return vectors;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sessions = await Promise.allSettled([this.#vision, this.#text?.then((text) => [text])].filter((s) => s !== undefined));
    for (const s of sessions) if (s.status === 'fulfilled') for (const session of s.value) await session.close();
  }
}

/** Opens a model directory as a ClipEncoder (validates files, loads the tokenizer, fingerprints the model). */
export async function openClip(dir: string, options: OpenClipOptions = {}): Promise<ClipEncoder> {
  // a JavaScript caller's arguments, which TypeScript does not check
  if (typeof dir !== 'string' || dir === '') throw invalidParameter('dir', 'a model directory path', dir);
  const given: unknown = options;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw invalidParameter('options', 'an object', given);
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
    throw invalidParameter('threads', 'a positive integer', options.threads);
  }
  if (options.maxImageBatch !== undefined && (!Number.isInteger(options.maxImageBatch) || options.maxImageBatch < 1)) {
    throw invalidParameter('maxImageBatch', 'a positive integer', options.maxImageBatch);
  }
  if (options.visionSessions !== undefined && (!Number.isInteger(options.visionSessions) || options.visionSessions < 1)) {
    throw invalidParameter('visionSessions', 'a positive integer', options.visionSessions);
  }
  const model = openModelDirectory(dir, options.variant === undefined ? {} : { variant: options.variant });
  const cacheOption = options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir };
  const [tokenizer, fingerprint] = await Promise.all([loadTokenizer(model.tokenizer, model.contextLength), computeModelFingerprint(model, cacheOption)]);
  if (model.variant === 'int8') {
    const warning = await int8SaturationWarning({ files: [model.onnx.vision, model.onnx.text], fingerprint }, cacheOption);
    if (warning) process.emitWarning(warning, { code: 'RSCLIP_INT8_SATURATES' });
  }
  const info: ModelInfo = {
    id: model.id,
    dir: model.dir,
    variant: model.variant,
    fingerprint,
    embeddingDim: model.config.projection_dim,
    contextLength: model.contextLength,
    imageSize: model.preprocess.cropHeight,
    logitScale: model.logitScale,
  };
  return new OnnxClipEncoder(model, tokenizer, info, options);
}
