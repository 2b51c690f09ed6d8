/**
 * Cross-modal retrieval on any captioned image set (`rsclip eval retrieval`): the images of
 * one split of a Karpathy-style file, or of our JSONL, are embedded by the model; every
 * caption queries the images (text->image, its own image is the hit) and every image
 * queries the captions (image->text, any own caption is a hit); R@1/5/10 both ways and mR,
 * each with a bootstrap interval over images. `eval rsicd` ranks with the same code.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { bootstrapSettings, type BootstrapSettings } from './bootstrap.js';
import { readCaptionFile, type CaptionFormat } from './captions.js';
import { compareCodeUnits, imageListChecksum } from './dataset.js';
import { sha256OfFile } from '../file-sha256.js';
import { embedImageFiles, type EvalProgress } from './image-vectors.js';
import { cosineScores, crossModalRecallFromRanks, imageToTextRankPerImage, textToImageRanks } from './metrics.js';
import { retrievalOutcomes, retrievalSection, type RetrievalSection } from './outcomes.js';
import { batchSizeOf, phaseClock, reportModel, startRun, withEncoder, type ModelRunOptions, type ReportModel, type RunRecord } from './run-support.js';
import { TextEmbeddingCache } from './text-cache.js';
import { embedTextsCached, type TextEmbeddingStats } from './text-embeddings.js';

export const RETRIEVAL_KS = [1, 5, 10] as const;

export interface EvaluateRetrievalOptions extends ModelRunOptions {
  /** Folder the caption file's image paths are relative to. */
  images: string;
  /** Karpathy-style JSON (`dataset_rsicd.json`, ...) or JSONL (`{"filename", "captions"}` per line). */
  captions: string;
  /** Split of a Karpathy-style file. Default "test"; JSONL has none. */
  split?: string;
  /** Cache caption embeddings per model under this folder (`<dir>/text-embeddings/`); no cache when omitted. */
  cacheDir?: string;
}

/** The images and captions of a run, as its report records them. */
export interface CaptionedDataRecord {
  imagesDir: string;
  images: number;
  /** sha256 of the sorted image paths joined by `\n`. */
  imageListSha256: string;
  captionsFile: string;
  captionsSha256: string;
  captions: number;
}

export interface RetrievalReport extends RunRecord {
  kind: 'retrieval';
  phaseSeconds: { images: number; captions: number; ranking: number };
  model: ReportModel;
  data: CaptionedDataRecord & { captionsFormat: CaptionFormat; split: string | null };
  captionEmbedding: TextEmbeddingStats;
  confidence: BootstrapSettings;
  retrieval: RetrievalSection;
}

export interface RetrievalEvaluation {
  report: RetrievalReport;
}

/** Images with their captions, flattened into caption queries. */
export interface CaptionedImages {
  fileNames: string[];
  captionsPerImage: string[][];
  captionTexts: string[];
  /** Image index of each caption. */
  captionImage: number[];
}

export function flattenCaptions(fileNames: readonly string[], captionsByFile: ReadonlyMap<string, readonly string[]>): CaptionedImages {
  const captionTexts: string[] = [];
  const captionImage: number[] = [];
  const captionsPerImage = fileNames.map((f, image) => {
    const own = [...(captionsByFile.get(f) ?? [])];
    for (const caption of own) {
      captionTexts.push(caption);
      captionImage.push(image);
    }
    return own;
  });
  return { fileNames: [...fileNames], captionsPerImage, captionTexts, captionImage };
}

/** Recall both ways, per-image outcomes and bootstrap intervals, from text->image ranks (exact or searched) and exact image->text ranks. */
export function retrievalFromRanks(
  data: CaptionedImages,
  textRanks: readonly number[],
  imageRankPerImage: readonly (number | undefined)[],
  settings: BootstrapSettings,
): RetrievalSection {
  const imageRanks = imageRankPerImage.filter((r): r is number => r !== undefined);
  if (imageRanks.length === 0) throw new RsclipError('DATASET_INVALID', 'no image has a caption: image->text retrieval has no queries');
  const recall = crossModalRecallFromRanks(textRanks, { ranks: imageRanks, imagesWithoutCaptions: imageRankPerImage.length - imageRanks.length }, RETRIEVAL_KS);
  const outcomes = retrievalOutcomes(data.fileNames, data.captionImage, textRanks, imageRankPerImage);
  return retrievalSection(recall, outcomes, data.captionsPerImage, RETRIEVAL_KS, settings);
}

/** Caption embeddings through the per-model cache when `cacheDir` is given. */
export async function embedCaptions(
  encoder: ClipEncoder,
  texts: readonly string[],
  cacheDir: string | undefined,
  onProgress?: (p: EvalProgress) => void,
): Promise<{ vectors: Float32Array[]; stats: TextEmbeddingStats }> {
  const cache = cacheDir ? await TextEmbeddingCache.open(cacheDir, encoder.info) : undefined;
  return embedTextsCached(encoder, texts, { cache, onProgress });
}

async function assertImagesExist(imagesDir: string, fileNames: readonly string[], captionsFile: string): Promise<void> {
  const missing: string[] = [];
  for (const name of fileNames) {
    const found = await stat(path.join(imagesDir, name)).then((s) => s.isFile(), () => false);
    if (!found) missing.push(name);
  }
  if (missing.length > 0) {
    throw new RsclipError('DATASET_INVALID', `${missing.length} of the ${fileNames.length} images captioned in ${captionsFile} are not in ${imagesDir} (e.g. ${missing.slice(0, 3).join(', ')})`, {
      hint: 'point --images at the folder the caption file names its images in',
    });
  }
}

export async function evaluateRetrieval(options: EvaluateRetrievalOptions): Promise<RetrievalEvaluation> {
  const finishRun = startRun(options.commandLine);
  const batchSize = batchSizeOf(options);
  const settings = bootstrapSettings(options.bootstrap);
  const captionFile = await readCaptionFile(options.captions, options.split === undefined ? {} : { split: options.split });
  const fileNames = [...captionFile.captions.keys()].sort(compareCodeUnits);
  await assertImagesExist(options.images, fileNames, options.captions);
  const data = flattenCaptions(fileNames, captionFile.captions);
  if (data.captionTexts.length === 0) throw new RsclipError('DATASET_INVALID', `${options.captions} gives no caption for any image`);
  const captionsSha256 = await sha256OfFile(options.captions);

  return withEncoder(options, async (encoder) => {
    const lap = phaseClock();
    const files = fileNames.map((f) => path.join(options.images, f));
    const imageVectors = await embedImageFiles(encoder, files, batchSize, options.onProgress);
    const imagesSeconds = lap();
    const captions = await embedCaptions(encoder, data.captionTexts, options.cacheDir, options.onProgress);
    const captionsSeconds = lap();
    const textToImage = cosineScores(captions.vectors, imageVectors);
    const retrieval = retrievalFromRanks(data, textToImageRanks(textToImage, data.captionImage), imageToTextRankPerImage(textToImage, data.captionImage), settings);
    const rankingSeconds = lap();
    const report: RetrievalReport = {
      kind: 'retrieval',
      ...finishRun(),
      phaseSeconds: { images: imagesSeconds, captions: captionsSeconds, ranking: rankingSeconds },
      model: reportModel(encoder.info),
      data: {
        imagesDir: path.resolve(options.images),
        images: fileNames.length,
        imageListSha256: imageListChecksum(fileNames),
        captionsFile: path.resolve(options.captions),
        captionsSha256,
        captionsFormat: captionFile.format,
        split: captionFile.split,
        captions: data.captionTexts.length,
      },
      captionEmbedding: captions.stats,
      confidence: settings,
      retrieval,
    };
    return { report };
  });
}
