/**
 * Zero-shot classification over any labelled archive in an index: the RSICD protocol
 * (score@1/3/5/10, prompts ensembled) plus per-class top-1 accuracy, with labels from a
 * `filename<TAB>label` file or from each image's parent folder name.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openClip } from '../model/encoder.js';
import type { ModelVariant } from '../model/model-dir.js';
import { openIndex } from '../store/open-index.js';
import { WHOLE_IMAGE_KEY, type ItemRecord } from '../store/types.js';
import { version } from '../version.js';
import { bootstrapSettings, type BootstrapOptions, type BootstrapSettings } from './bootstrap.js';
import { readLabels } from './dataset.js';
import { sha256OfFile } from '../file-sha256.js';
import { chooseClasses, folderLabel, matchLabels, singleClassWarning, unmatchedRowsWarning } from './labelling.js';
import { zeroShotSection, type ZeroShotSection } from './outcomes.js';
import { PREDICTIONS_PER_IMAGE, PREDICTION_KS } from './predictions.js';
import { DEFAULT_PROMPT, embedClassPrompts } from './prompts.js';
import { classifyZeroShot, DEFAULT_LOGIT_SCALE } from './zero-shot.js';

export interface EvaluateLabelsOptions {
  index: string;
  /** The model the index was built with (for the class prompts). */
  model: string | ClipEncoder;
  /** `filename<TAB>label` file; a row may name the path relative to the archive root or the base name. */
  labels?: string;
  /** Label each image by the name of the folder it sits in. */
  labelsFromFolders?: boolean;
  /** Classes to score (default: every label seen, sorted); images of other labels are left out. */
  classes?: string[];
  prompts?: string[];
  threads?: number;
  variant?: ModelVariant;
  bootstrap?: BootstrapOptions;
  /** The command that ran it, recorded in the report (a library call records none). */
  commandLine?: string;
}

export interface LabelsReport {
  kind: 'labels';
  rsclipVersion: string;
  date: string;
  commandLine: string | null;
  index: string;
  model: { id: string; fingerprint: string; variant: string };
  /** `folders`, or the labels file (absolute). */
  labelSource: string;
  labelsSha256: string | null;
  prompts: string[];
  /** Items left out: no label found, or a label outside the classes. */
  excluded: { unlabelled: number; otherClass: number };
  /** Rows of the labels file that name no indexed file (0 with folder labels). */
  unmatchedLabelRows: number;
  /** What the run found doubtful (rows naming no file, a single class), also printed. */
  warnings: string[];
  /** Resampling unit `file` when a file gave several items (tiles of a scene): its tiles are drawn together. */
  confidence: BootstrapSettings;
  /**
   * Items scored (images, or tiles of scenes), classes, score@k, per-class accuracy, confusion
   * matrix, with intervals. An outcome is named by its file's absolute path, followed by `#` and
   * the window's key for a tile.
   */
  zeroShot: ZeroShotSection;
}

/** A unique name for an item's outcome: its file's absolute path (root and path), and the window for a tile. */
function outcomeKey(item: ItemRecord): string {
  return item.key === WHOLE_IMAGE_KEY ? item.file.absolutePath : `${item.file.absolutePath}#${item.key}`;
}

export async function evaluateLabels(options: EvaluateLabelsOptions): Promise<LabelsReport> {
  const date = new Date().toISOString();
  if (Boolean(options.labels) === Boolean(options.labelsFromFolders)) {
    throw new RsclipError('BAD_INPUT', 'expected exactly one label source', { hint: 'pass --labels FILE or --labels-from-folders' });
  }
  const prompts = options.prompts && options.prompts.length > 0 ? options.prompts : [DEFAULT_PROMPT];
  const settings = bootstrapSettings(options.bootstrap);
  const labelsByName = options.labels ? await readLabels(options.labels) : undefined;
  const labelsSha256 = options.labels ? await sha256OfFile(options.labels) : null;
  const encoder =
    typeof options.model === 'string'
      ? await openClip(options.model, { ...(options.threads ? { threads: options.threads } : {}), ...(options.variant ? { variant: options.variant } : {}) })
      : options.model;
  try {
    const store = await openIndex(options.index, { readonly: true, model: encoder.info });
    try {
      const items = await store.getItems(await store.listItemIds());
      const stored = await store.getVectors(items.map((item) => item.id));
      const fileRecords = [...new Map(items.map((item) => [item.file.id, item.file])).values()];
      const matched = labelsByName
        ? matchLabels(
            fileRecords.map((f) => ({ absolutePath: f.absolutePath, relativePath: f.path })),
            labelsByName,
            options.labels!,
          )
        : { labels: fileRecords.map((f) => folderLabel(f.path)), unmatchedRows: [] };
      const labelOfFile = new Map(fileRecords.map((f, i) => [f.id, matched.labels[i]]));
      const labelled: { key: string; file: string; label: string; vector: Float32Array }[] = [];
      let unlabelled = 0;
      for (const item of items) {
        const label = labelOfFile.get(item.file.id);
        const vector = stored.get(item.id);
        if (label === undefined || !vector) unlabelled++;
        else labelled.push({ key: outcomeKey(item), file: item.file.absolutePath, label, vector });
      }
      const classes = chooseClasses(labelled.map((l) => l.label), options.classes);
      const warnings = [unmatchedRowsWarning(matched.unmatchedRows, options.labels ?? '', store.describe().location), singleClassWarning(classes)].filter((w) => w !== undefined);
      const classIndex = new Map(classes.map((c, i) => [c, i]));
      const scored = labelled.filter((l) => classIndex.has(l.label));
      if (scored.length === 0) {
        throw new RsclipError('DATASET_INVALID', `none of the ${items.length} images in ${store.describe().location} has a label among the classes (${classes.slice(0, 5).join(', ') || 'none'})`, {
          hint: options.labels ? 'check that the labels file names the indexed files' : 'images must sit in one folder per class',
        });
      }
      const classVectors = await embedClassPrompts(encoder, classes, prompts);
      const outcome = classifyZeroShot({
        fileNames: scored.map((s) => s.key),
        imageVectors: scored.map((s) => s.vector),
        labels: scored.map((s) => classIndex.get(s.label)!),
        classes,
        classVectors,
        logitScale: encoder.info.logitScale ?? DEFAULT_LOGIT_SCALE,
        ks: PREDICTION_KS,
        predictionsPerImage: PREDICTIONS_PER_IMAGE,
      });
      // tiles of one scene are alike: their file is drawn whole, or the intervals would be too narrow
      const tiled = new Set(scored.map((s) => s.file)).size < scored.length;
      const outcomes = tiled ? { ...outcome.outcomes, files: scored.map((s) => s.file) } : outcome.outcomes;
      const confidence: BootstrapSettings = { ...settings, unit: tiled ? 'file' : 'image' };
      return {
        kind: 'labels',
        rsclipVersion: version,
        date,
        commandLine: options.commandLine ?? null,
        index: store.describe().location,
        model: { id: encoder.info.id, fingerprint: encoder.info.fingerprint, variant: encoder.info.variant },
        labelSource: options.labels ? path.resolve(options.labels) : 'folders',
        labelsSha256,
        prompts,
        excluded: { unlabelled, otherClass: labelled.length - scored.length },
        unmatchedLabelRows: matched.unmatchedRows.length,
        warnings,
        confidence,
        zeroShot: zeroShotSection(outcome.scores, outcome.perClass, classes, outcomes, PREDICTION_KS, confidence),
      };
    } finally {
      await store.close();
    }
  } finally {
    if (typeof options.model === 'string') await encoder.close();
  }
}
