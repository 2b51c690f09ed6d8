/**
 * The RSICD evaluation (../shared/datasets/README.md has both protocols):
 * 1. zero-shot classification score@1/3/5/10 as on the clip-rsicd model card: images whose
 *    name contains `_`, classes = their sorted distinct labels, prompt
 *    `Aerial photograph of {class}` (several templates are ensembled);
 * 2. cross-modal retrieval over every image: text->image R@1/5/10 (each caption queries, its
 *    own image is the hit), image->text R@1/5/10 (any own caption is a hit), and mR.
 * Image vectors come from the model (mode `exact`) or from an index (mode `index`: then
 * text->image goes through the index's HNSW search, or its exact scan with `exact`).
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { openClip } from '../model/encoder.js';
import { chooseEf } from '../search/limits.js';
import { exactSelectionLimit } from '../store/exact-selection.js';
import { openIndex } from '../store/open-index.js';
import type { IndexStore } from '../store/types.js';
import { bootstrapSettings, type BootstrapSettings } from './bootstrap.js';
import { compareCodeUnits, imageListChecksum, readCaptions, readLabels } from './dataset.js';
import { singleClassWarning } from './labelling.js';
import { sha256OfFile } from '../file-sha256.js';
import { listImageFiles } from './image-listing.js';
import { embedImageFiles, vectorsFromIndex, type EvalProgress, type IndexedImageVectors } from './image-vectors.js';
import { cosineScores, imageToTextRankPerImage, textToImageRanks } from './metrics.js';
import { zeroShotSection, type RetrievalSection, type ZeroShotSection } from './outcomes.js';
import { PREDICTIONS_PER_IMAGE, PREDICTION_KS, type ImagePrediction } from './predictions.js';
import { assertPromptTemplates, DEFAULT_PROMPT, embedClassPrompts } from './prompts.js';
import { embedCaptions, flattenCaptions, RETRIEVAL_KS, retrievalFromRanks, type CaptionedDataRecord, type CaptionedImages } from './retrieval.js';
import { batchSizeOf, startRun, type ModelRunOptions, type RunRecord } from './run-support.js';
import type { TextEmbeddingStats } from './text-embeddings.js';
import { classifyZeroShot, DEFAULT_LOGIT_SCALE } from './zero-shot.js';

export const ZERO_SHOT_KS = PREDICTION_KS;
export { RETRIEVAL_KS };

export interface EvaluateRsicdOptions extends ModelRunOptions {
  /** Folder holding the images (directly, not in subfolders). */
  images: string;
  /** JSONL: `{"filename", "captions": [...]}` per image. */
  captions: string;
  /** `filename<TAB>label` per image. */
  labels: string;
  /** Zero-shot prompt templates with a `{class}` slot; several are ensembled. Default: the model card's. */
  prompts?: string[];
  /** Index built by `rsclip index` over `images` with the same model: image vectors come from it. */
  index?: string;
  /** With `index`: rank text->image by an exact scan of the index instead of its HNSW graph. */
  exact?: boolean;
  /** With `index`: HNSW search breadth. Default: what `rsclip search` gives a text query for the largest k of the recalls. */
  ef?: number;
  /** Cache caption embeddings per model under this folder (`<dir>/text-embeddings/`); no cache when omitted. */
  cacheDir?: string;
}

export interface RsicdReport extends RunRecord {
  kind: 'rsicd';
  /** Where the wall time went: image vectors (embedding or index reads), class prompts + zero-shot, caption embedding, retrieval ranking/search. */
  phaseSeconds: { images: number; zeroShot: number; captions: number; ranking: number };
  /** `exact`: image vectors from the model, exhaustive ranking; `index`: image vectors and text->image search from an index. */
  mode: 'exact' | 'index';
  /** `imagesFromIndex`: images whose vector the index held for the same bytes (the others were embedded); null without an index. */
  search: { textToImage: 'exact' | 'hnsw'; imageToText: 'exact'; ef: number | null; index: string | null; imagesFromIndex: number | null };
  model: { id: string; fingerprint: string; variant: string; logitScale: number; logitScaleSource: 'model' | 'default' };
  data: CaptionedDataRecord & { labelsFile: string; labelsSha256: string };
  prompts: string[];
  captionEmbedding: TextEmbeddingStats;
  confidence: BootstrapSettings;
  zeroShot: ZeroShotSection;
  retrieval: RetrievalSection;
  /** What the run found doubtful (images the index lacks), also printed. */
  warnings: string[];
}

export interface RsicdEvaluation {
  report: RsicdReport;
  /** Per-image zero-shot predictions (the clip-rsicd result-file rows). */
  predictions: ImagePrediction[];
  /** The image vectors evaluated, in file-name order (e.g. to index them without embedding again). */
  imageVectors: { fileNames: string[]; vectors: Float32Array[] };
}

interface RsicdData extends CaptionedImages {
  zeroShotRows: number[];
  zeroShotLabels: number[];
  classes: string[];
}

async function loadRsicd(options: EvaluateRsicdOptions): Promise<RsicdData> {
  const [fileNames, captionsByFile, labelsByFile] = await Promise.all([
    listImageFiles(options.images),
    readCaptions(options.captions),
    readLabels(options.labels),
  ]);
  const present = new Set(fileNames);
  const stray = [...captionsByFile.keys()].filter((f) => !present.has(f));
  if (stray.length > 0) {
    throw new RsclipError('DATASET_INVALID', `${options.captions} captions ${stray.length} image(s) not in ${options.images} (e.g. ${stray.slice(0, 3).join(', ')})`, {
      hint: 'point --images at the folder of the captioned split',
    });
  }
  const zeroShotRows = fileNames.flatMap((f, row) => (f.includes('_') ? [row] : []));
  if (zeroShotRows.length === 0) {
    throw new RsclipError('DATASET_INVALID', `no image in ${options.images} has "_" in its name: the zero-shot protocol uses those (class_number.jpg)`);
  }
  const unlabelled = zeroShotRows.filter((row) => !labelsByFile.has(fileNames[row]!));
  if (unlabelled.length > 0) {
    throw new RsclipError('DATASET_INVALID', `${options.labels} has no label for ${unlabelled.length} image(s) (e.g. ${fileNames[unlabelled[0]!]})`);
  }
  const rowLabels = zeroShotRows.map((row) => labelsByFile.get(fileNames[row]!)!);
  const classes = [...new Set(rowLabels)].sort(compareCodeUnits);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  return { ...flattenCaptions(fileNames, captionsByFile), zeroShotRows, zeroShotLabels: rowLabels.map((l) => classIndex.get(l)!), classes };
}

/**
 * Text->image ranks through the index's search: the position of the caption's own image, or
 * Infinity past the cut-off; and whether the searches walked the graph. Other images in the index
 * must not take places in the ranking, so the evaluated ones are searched as a selection, which
 * the index scores exactly when it is a small part of it (the test split in a large archive).
 */
async function searchTextToImageRanks(
  store: IndexStore,
  captionVectors: readonly Float32Array[],
  captionImage: readonly number[],
  imageIds: readonly number[],
  search: { k: number; ef: number; exact: boolean },
  onProgress?: (p: EvalProgress) => void,
): Promise<{ ranks: number[]; graph: boolean }> {
  const indexed = await store.countItems();
  const evaluated = new Set(imageIds).size;
  const onlyEvaluated = indexed > evaluated ? { onlyIds: imageIds } : {};
  const graph = !search.exact && !(indexed > evaluated && evaluated <= exactSelectionLimit(indexed));
  const ranks: number[] = [];
  // the start is reported, so that the rate counts from it even when the first report is the end
  onProgress?.({ phase: 'search', done: 0, total: captionVectors.length });
  for (const [caption, q] of captionVectors.entries()) {
    const found = await store.search(q, search.k, { ef: search.ef, exact: search.exact, ...onlyEvaluated });
    const rank = found.findIndex((hit) => hit.id === imageIds[captionImage[caption]!]);
    if ((caption + 1) % 500 === 0 || caption + 1 === captionVectors.length) onProgress?.({ phase: 'search', done: caption + 1, total: captionVectors.length });
    ranks.push(rank < 0 ? Infinity : rank);
  }
  return { ranks, graph };
}

export async function evaluateRsicd(options: EvaluateRsicdOptions): Promise<RsicdEvaluation> {
  const finishRun = startRun(options.commandLine);
  const prompts = options.prompts && options.prompts.length > 0 ? options.prompts : [DEFAULT_PROMPT];
  const batchSize = batchSizeOf(options);
  const settings = bootstrapSettings(options.bootstrap);
  assertPromptTemplates(prompts);
  const data = await loadRsicd(options);
  const [captionsSha256, labelsSha256] = await Promise.all([sha256OfFile(options.captions), sha256OfFile(options.labels)]);

  const encoder =
    typeof options.model === 'string'
      ? await openClip(options.model, { ...(options.threads ? { threads: options.threads } : {}), ...(options.variant ? { variant: options.variant } : {}) })
      : options.model;
  let store: IndexStore | undefined;
  try {
    const ef = chooseEf(Math.max(...RETRIEVAL_KS), options.ef, 'text');
    const phaseStart = { at: performance.now() };
    const lap = (): number => {
      const now = performance.now();
      const seconds = (now - phaseStart.at) / 1000;
      phaseStart.at = now;
      return seconds;
    };
    const files = data.fileNames.map((f) => path.join(options.images, f));
    let imageVectors: Float32Array[];
    let indexed: IndexedImageVectors | undefined;
    // a single class makes every zero-shot score 1, as `eval zero-shot` and `eval labels` warn
    const warnings = [singleClassWarning(data.classes)].filter((w) => w !== undefined);
    if (options.index) {
      store = await openIndex(options.index, { readonly: true, model: encoder.info });
      indexed = await vectorsFromIndex(store, options.images, data.fileNames);
      const missing = data.fileNames.flatMap((_, i) => (indexed!.vectors[i] ? [] : [i]));
      const embedded = await embedImageFiles(encoder, missing.map((i) => files[i]!), batchSize, options.onProgress);
      let next = 0;
      imageVectors = indexed.vectors.map((v) => v ?? embedded[next++]!);
      if (missing.length > 0) {
        warnings.push(
          `${store.describe().location} lacks ${missing.length} of the ${files.length} images with these bytes (e.g. ${data.fileNames[missing[0]!]}: changed since indexing, or another file of that name): they were embedded from the files, and text->image ranked exactly, as the index's search cannot return them`,
        );
      }
    } else {
      imageVectors = await embedImageFiles(encoder, files, batchSize, options.onProgress);
    }
    const imagesSeconds = lap();

    const classVectors = await embedClassPrompts(encoder, data.classes, prompts);
    const logitScale = encoder.info.logitScale ?? DEFAULT_LOGIT_SCALE;
    const zeroShot = classifyZeroShot({
      fileNames: data.zeroShotRows.map((r) => data.fileNames[r]!),
      imageVectors: data.zeroShotRows.map((r) => imageVectors[r]!),
      labels: data.zeroShotLabels,
      classes: data.classes,
      classVectors,
      logitScale,
      ks: ZERO_SHOT_KS,
      predictionsPerImage: PREDICTIONS_PER_IMAGE,
    });

    const zeroShotSeconds = lap();

    if (data.captionTexts.length === 0) throw new RsclipError('DATASET_INVALID', `${options.captions} gives no caption for any image in ${options.images}`);
    const captions = await embedCaptions(encoder, data.captionTexts, options.cacheDir, options.onProgress);
    const captionVectors = captions.vectors;
    const captionsSeconds = lap();
    const textToImage = cosineScores(captionVectors, imageVectors);
    const searchable = store && indexed && indexed.fromIndex === files.length ? { store, ids: indexed.ids as number[] } : undefined;
    const searched = searchable ? await searchTextToImageRanks(searchable.store, captionVectors, data.captionImage, searchable.ids, { k: Math.max(...RETRIEVAL_KS), ef, exact: options.exact ?? false }, options.onProgress) : undefined;
    const textRanks = searched?.ranks ?? textToImageRanks(textToImage, data.captionImage);
    const retrieval = retrievalFromRanks(data, textRanks, imageToTextRankPerImage(textToImage, data.captionImage), settings);
    const rankingSeconds = lap();

    const report: RsicdReport = {
      kind: 'rsicd',
      ...finishRun(),
      phaseSeconds: { images: imagesSeconds, zeroShot: zeroShotSeconds, captions: captionsSeconds, ranking: rankingSeconds },
      mode: store ? 'index' : 'exact',
      search: {
        textToImage: searched?.graph ? 'hnsw' : 'exact',
        imageToText: 'exact',
        ef: searched?.graph ? ef : null,
        index: store ? store.describe().location : null,
        imagesFromIndex: indexed?.fromIndex ?? null,
      },
      model: {
        id: encoder.info.id,
        fingerprint: encoder.info.fingerprint,
        variant: encoder.info.variant,
        logitScale,
        logitScaleSource: encoder.info.logitScale === undefined ? 'default' : 'model',
      },
      data: {
        imagesDir: path.resolve(options.images),
        images: data.fileNames.length,
        imageListSha256: imageListChecksum(data.fileNames),
        captionsFile: path.resolve(options.captions),
        captionsSha256,
        captions: data.captionTexts.length,
        labelsFile: path.resolve(options.labels),
        labelsSha256,
      },
      prompts,
      captionEmbedding: captions.stats,
      confidence: settings,
      zeroShot: zeroShotSection(zeroShot.scores, zeroShot.perClass, data.classes, zeroShot.outcomes, ZERO_SHOT_KS, settings),
      retrieval,
      warnings,
    };
    return { report, predictions: zeroShot.predictions, imageVectors: { fileNames: data.fileNames, vectors: imageVectors } };
  } finally {
    await store?.close();
    if (typeof options.model === 'string') await encoder.close();
  }
}
