/**
 * Zero-shot classification over any labelled archive in an index: the RSICD protocol
 * (score@1/3/5/10, prompts ensembled) plus per-class top-1 accuracy, with labels from a
 * `filename<TAB>label` file or from each image's parent folder name.
 */
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openClip } from '../model/encoder.js';
import type { ModelVariant } from '../model/model-dir.js';
import { openIndex } from '../store/open-index.js';
import { version } from '../version.js';
import { bootstrapSettings, type BootstrapOptions, type BootstrapSettings } from './bootstrap.js';
import { readLabels } from './dataset.js';
import { chooseClasses, folderLabel } from './labelling.js';
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
}

export interface LabelsReport {
  kind: 'labels';
  rsclipVersion: string;
  date: string;
  index: string;
  model: { id: string; fingerprint: string };
  labelSource: string;
  prompts: string[];
  /** Images left out: no label found, or a label outside the classes. */
  excluded: { unlabelled: number; otherClass: number };
  confidence: BootstrapSettings;
  /** Images scored, classes, score@k, per-class accuracy, confusion matrix, with intervals. */
  zeroShot: ZeroShotSection;
}

export async function evaluateLabels(options: EvaluateLabelsOptions): Promise<LabelsReport> {
  const date = new Date().toISOString();
  if (Boolean(options.labels) === Boolean(options.labelsFromFolders)) {
    throw new RsclipError('BAD_INPUT', 'expected exactly one label source', { hint: 'pass --labels FILE or --labels-from-folders' });
  }
  const prompts = options.prompts && options.prompts.length > 0 ? options.prompts : [DEFAULT_PROMPT];
  const settings = bootstrapSettings(options.bootstrap);
  const labelsByName = options.labels ? await readLabels(options.labels) : undefined;
  const encoder =
    typeof options.model === 'string'
      ? await openClip(options.model, { ...(options.threads ? { threads: options.threads } : {}), ...(options.variant ? { variant: options.variant } : {}) })
      : options.model;
  try {
    const store = await openIndex(options.index, { readonly: true, model: encoder.info });
    try {
      const items = await store.getItems(await store.listItemIds());
      const stored = await store.getVectors(items.map((item) => item.id));
      const labelled: { fileName: string; label: string; vector: Float32Array }[] = [];
      let unlabelled = 0;
      for (const { id, file: record } of items) {
        const label = labelsByName ? (labelsByName.get(record.path) ?? labelsByName.get(record.fileName)) : folderLabel(record.path);
        const vector = stored.get(id);
        if (label === undefined || !vector) unlabelled++;
        else labelled.push({ fileName: record.path, label, vector });
      }
      const classes = chooseClasses(labelled.map((l) => l.label), options.classes);
      const classIndex = new Map(classes.map((c, i) => [c, i]));
      const scored = labelled.filter((l) => classIndex.has(l.label));
      if (scored.length === 0) {
        throw new RsclipError('DATASET_INVALID', `none of the ${items.length} images in ${store.describe().location} has a label among the classes (${classes.slice(0, 5).join(', ') || 'none'})`, {
          hint: options.labels ? 'check that the labels file names the indexed files' : 'images must sit in one folder per class',
        });
      }
      const classVectors = await embedClassPrompts(encoder, classes, prompts);
      const outcome = classifyZeroShot({
        fileNames: scored.map((s) => s.fileName),
        imageVectors: scored.map((s) => s.vector),
        labels: scored.map((s) => classIndex.get(s.label)!),
        classes,
        classVectors,
        logitScale: encoder.info.logitScale ?? DEFAULT_LOGIT_SCALE,
        ks: PREDICTION_KS,
        predictionsPerImage: PREDICTIONS_PER_IMAGE,
      });
      return {
        kind: 'labels',
        rsclipVersion: version,
        date,
        index: store.describe().location,
        model: { id: encoder.info.id, fingerprint: encoder.info.fingerprint },
        labelSource: options.labels ?? 'folders',
        prompts,
        excluded: { unlabelled, otherClass: labelled.length - scored.length },
        confidence: settings,
        zeroShot: zeroShotSection(outcome.scores, outcome.perClass, classes, outcome.outcomes, PREDICTION_KS, settings),
      };
    } finally {
      await store.close();
    }
  } finally {
    if (typeof options.model === 'string') await encoder.close();
  }
}
