/**
 * Zero-shot classification of any labelled image folder (`rsclip eval zero-shot`): the model
 * card's protocol (one prompt per class, or several ensembled; score@k) generalised to AID,
 * UCM, NWPU-RESISC45, EuroSAT and the like, which ship as one folder per class, or to a
 * folder with a `filename<TAB>label` file. Reports top-k accuracy, per-class accuracy and the
 * confusion matrix, each with a bootstrap interval over images. `eval labels` (an index
 * instead of a folder) classifies with the same code.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { bootstrapSettings, type BootstrapSettings } from './bootstrap.js';
import { imageListChecksum, readLabels } from './dataset.js';
import { sha256OfFile } from '../file-sha256.js';
import { listImagesRecursively } from './image-listing.js';
import { embedImageFiles } from './image-vectors.js';
import { chooseClasses, folderLabel, matchLabels, singleClassWarning, unmatchedRowsWarning } from './labelling.js';
import { zeroShotSection, type ZeroShotSection } from './outcomes.js';
import { PREDICTIONS_PER_IMAGE, PREDICTION_KS, type ImagePrediction } from './predictions.js';
import { assertPromptTemplates, DEFAULT_PROMPT, embedClassPrompts } from './prompts.js';
import { batchSizeOf, phaseClock, reportModel, startRun, withEncoder, type ModelRunOptions, type ReportModel, type RunRecord } from './run-support.js';
import { classifyZeroShot, DEFAULT_LOGIT_SCALE } from './zero-shot.js';

export interface EvaluateZeroShotOptions extends ModelRunOptions {
  /** Folder of the images, searched recursively. */
  images: string;
  /** `filename<TAB>label` file; a row names the path relative to `images` or the base name. */
  labels?: string;
  /** Label each image by the folder it sits in (AID, UCM, NWPU-RESISC45, EuroSAT layout). */
  labelsFromFolders?: boolean;
  /** Classes to score (default: every label seen, sorted); images of other labels are left out. */
  classes?: string[];
  /** Prompt templates with a `{class}` slot; several are ensembled. Default: the clip-rsicd model card's. */
  prompts?: string[];
}

export interface ZeroShotReport extends RunRecord {
  kind: 'zero-shot';
  phaseSeconds: { images: number; zeroShot: number };
  model: ReportModel & { logitScale: number; logitScaleSource: 'model' | 'default' };
  data: {
    imagesDir: string;
    /** Image files found under `imagesDir`. */
    imageFiles: number;
    /** sha256 of the sorted relative paths of the images scored, joined by `\n`. */
    imageListSha256: string;
    /** `folders`, or the labels file. */
    labelSource: string;
    labelsSha256: string | null;
    /** Images left out: no label found, or a label outside the classes. */
    excluded: { unlabelled: number; otherClass: number };
    /** Rows of the labels file that name no image (0 with folder labels). */
    unmatchedLabelRows: number;
  };
  /** What the run found doubtful (rows naming no image, a single class), also printed. */
  warnings: string[];
  prompts: string[];
  confidence: BootstrapSettings;
  zeroShot: ZeroShotSection;
}

export interface ZeroShotEvaluation {
  report: ZeroShotReport;
  /** Per-image predictions in the clip-rsicd result-file format (`eval score` reads them). */
  predictions: ImagePrediction[];
}

export async function evaluateZeroShot(options: EvaluateZeroShotOptions): Promise<ZeroShotEvaluation> {
  const finishRun = startRun(options.commandLine);
  if (Boolean(options.labels) === Boolean(options.labelsFromFolders)) {
    throw new RsclipError('BAD_INPUT', 'expected exactly one label source', { hint: 'pass --labels FILE or --labels-from-folders' });
  }
  const batchSize = batchSizeOf(options);
  const settings = bootstrapSettings(options.bootstrap);
  const prompts = options.prompts && options.prompts.length > 0 ? options.prompts : [DEFAULT_PROMPT];
  assertPromptTemplates(prompts);
  const files = await listImagesRecursively(options.images);
  const matched = options.labels
    ? matchLabels(
        files.map((file) => ({ absolutePath: path.resolve(options.images, file), relativePath: file })),
        await readLabels(options.labels),
        options.labels,
      )
    : { labels: files.map(folderLabel), unmatchedRows: [] };
  const labelled = files.flatMap((file, i) => {
    const label = matched.labels[i];
    return label === undefined ? [] : [{ file, label }];
  });
  const classes = chooseClasses(
    labelled.map((l) => l.label),
    options.classes,
  );
  const warnings = [unmatchedRowsWarning(matched.unmatchedRows, options.labels ?? '', options.images), singleClassWarning(classes)].filter((w) => w !== undefined);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const scored = labelled.filter((l) => classIndex.has(l.label));
  if (scored.length === 0) {
    throw new RsclipError('DATASET_INVALID', `none of the ${files.length} images under ${options.images} has a label among the classes (${classes.slice(0, 5).join(', ') || 'none'})`, {
      hint: options.labels ? 'check that the labels file names these files (relative path or base name)' : 'images must sit in one folder per class',
    });
  }
  const labelsSha256 = options.labels ? await sha256OfFile(options.labels) : null;

  return withEncoder(options, async (encoder) => {
    const lap = phaseClock();
    const imageVectors = await embedImageFiles(
      encoder,
      scored.map((s) => path.join(options.images, s.file)),
      batchSize,
      options.onProgress,
    );
    const imagesSeconds = lap();
    const classVectors = await embedClassPrompts(encoder, classes, prompts);
    const logitScale = encoder.info.logitScale ?? DEFAULT_LOGIT_SCALE;
    const outcome = classifyZeroShot({
      fileNames: scored.map((s) => s.file),
      imageVectors,
      labels: scored.map((s) => classIndex.get(s.label)!),
      classes,
      classVectors,
      logitScale,
      ks: PREDICTION_KS,
      predictionsPerImage: PREDICTIONS_PER_IMAGE,
    });
    const zeroShotSeconds = lap();
    const report: ZeroShotReport = {
      kind: 'zero-shot',
      ...finishRun(),
      phaseSeconds: { images: imagesSeconds, zeroShot: zeroShotSeconds },
      model: { ...reportModel(encoder.info), logitScale, logitScaleSource: encoder.info.logitScale === undefined ? 'default' : 'model' },
      data: {
        imagesDir: path.resolve(options.images),
        imageFiles: files.length,
        imageListSha256: imageListChecksum(scored.map((s) => s.file)),
        labelSource: options.labels ? path.resolve(options.labels) : 'folders',
        labelsSha256,
        excluded: { unlabelled: files.length - labelled.length, otherClass: labelled.length - scored.length },
        unmatchedLabelRows: matched.unmatchedRows.length,
      },
      warnings,
      prompts,
      confidence: settings,
      zeroShot: zeroShotSection(outcome.scores, outcome.perClass, classes, outcome.outcomes, PREDICTION_KS, settings),
    };
    return { report, predictions: outcome.predictions };
  });
}
