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
import { WHOLE_IMAGE_KEY, type IndexStore } from '../store/types.js';
import { version } from '../version.js';
import { bootstrapSettings, type BootstrapOptions, type BootstrapSettings } from './bootstrap.js';
import { readLabels } from './dataset.js';
import { sha256OfFile } from '../file-sha256.js';
import { chooseClasses, folderLabel, matchLabels, singleClassWarning, unmatchedRowsWarning } from './labelling.js';
import { zeroShotSection, type ZeroShotSection } from './outcomes.js';
import { PREDICTION_KS } from './predictions.js';
import { DEFAULT_PROMPT, embedClassPrompts } from './prompts.js';
import { ZeroShotAccumulator, type ZeroShotTotals } from './zero-shot-chunks.js';

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

/** Items asked of the store at a time: their rows first (every item), then the vectors of those scored. */
const ITEM_CHUNK = 5000;
/** Vectors read and scored at a time: the score matrix is this many rows by the classes. */
const VECTOR_CHUNK = 4096;

interface ItemFiles {
  /** Searchable items, in id order. */
  itemIds: number[];
  /** Per item, its file's position in `files`. */
  itemFile: Int32Array;
  /** The window key of each item that is a tile (absent: the whole image). */
  itemKeys: Map<number, string>;
  /** The items' files, in the order their first item comes. */
  files: { absolutePath: string; path: string }[];
}

/** The searchable items and their files' paths, read in chunks; nothing else of an item is kept (no vector is read). */
async function readItemFiles(store: IndexStore): Promise<ItemFiles> {
  const ids = await store.listItemIds();
  const itemIds: number[] = [];
  const itemFile = new Int32Array(ids.length);
  const itemKeys = new Map<number, string>();
  const files: ItemFiles['files'] = [];
  const fileIndex = new Map<number, number>();
  for (let start = 0; start < ids.length; start += ITEM_CHUNK) {
    for (const item of await store.getItems(ids.slice(start, start + ITEM_CHUNK))) {
      let f = fileIndex.get(item.file.id);
      if (f === undefined) {
        fileIndex.set(item.file.id, (f = files.length));
        files.push({ absolutePath: item.file.absolutePath, path: item.file.path });
      }
      // an outcome is named by its file's absolute path (root and path), and the window for a tile
      if (item.key !== WHOLE_IMAGE_KEY) itemKeys.set(itemIds.length, item.key);
      itemFile[itemIds.length] = f;
      itemIds.push(item.id);
    }
  }
  return { itemIds, itemFile: itemFile.subarray(0, itemIds.length), itemKeys, files };
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
      const { itemIds, itemFile, itemKeys, files } = await readItemFiles(store);
      const matched = labelsByName
        ? matchLabels(
            files.map((f) => ({ absolutePath: f.absolutePath, relativePath: f.path })),
            labelsByName,
            options.labels!,
          )
        : { labels: files.map((f) => folderLabel(f.path)), unmatchedRows: [] };
      const labelOf = (position: number): string | undefined => matched.labels[itemFile[position]!];
      // positions of the items that have a label, in id order; those without are left out
      const labelled: number[] = [];
      for (let position = 0; position < itemIds.length; position++) if (labelOf(position) !== undefined) labelled.push(position);
      /** Labelled items found without a vector: counted as unlabelled (only those of the classes scored are read). */
      const withoutVector = new Set<number>();
      const chooseFrom = (): string[] => chooseClasses(labelled.filter((p) => !withoutVector.has(p)).map((p) => labelOf(p)!), options.classes);
      let classes = chooseFrom();
      let scoredFiles: number[];
      let outcome: ZeroShotTotals;
      for (;;) {
        const classIndex = new Map(classes.map((c, i) => [c, i]));
        const candidates = labelled.filter((p) => classIndex.has(labelOf(p)!) && !withoutVector.has(p));
        if (candidates.length === 0) {
          throw new RsclipError('DATASET_INVALID', `none of the ${itemIds.length} images in ${store.describe().location} has a label among the classes (${classes.slice(0, 5).join(', ') || 'none'})`, {
            hint: options.labels ? 'check that the labels file names the indexed files' : 'images must sit in one folder per class',
          });
        }
        const accumulator = new ZeroShotAccumulator(classes, await embedClassPrompts(encoder, classes, prompts), PREDICTION_KS);
        scoredFiles = [];
        // only the candidates' vectors are read, a chunk at a time, and scored against the classes chunk by chunk
        for (let start = 0; start < candidates.length; start += VECTOR_CHUNK) {
          const chunk = candidates.slice(start, start + VECTOR_CHUNK);
          const vectors = await store.getVectors(chunk.map((p) => itemIds[p]!));
          const names: string[] = [];
          const chunkVectors: Float32Array[] = [];
          const labels: number[] = [];
          for (const p of chunk) {
            const vector = vectors.get(itemIds[p]!);
            if (!vector) {
              withoutVector.add(p);
              continue;
            }
            const file = files[itemFile[p]!]!;
            const key = itemKeys.get(p);
            names.push(key === undefined ? file.absolutePath : `${file.absolutePath}#${key}`);
            chunkVectors.push(vector);
            labels.push(classIndex.get(labelOf(p)!)!);
            scoredFiles.push(itemFile[p]!);
          }
          accumulator.add(names, chunkVectors, labels);
        }
        // a class whose every image lacks a vector is no class of the default list: score again without it
        const again = withoutVector.size > 0 ? chooseFrom() : classes;
        if (again.length === classes.length && again.every((c, i) => c === classes[i])) {
          if (accumulator.images === 0) continue;
          outcome = accumulator.finish();
          break;
        }
        classes = again;
      }
      const warnings = [unmatchedRowsWarning(matched.unmatchedRows, options.labels ?? '', store.describe().location), singleClassWarning(classes)].filter((w) => w !== undefined);
      // tiles of one scene are alike: their file is drawn whole, or the intervals would be too narrow
      const tiled = new Set(scoredFiles).size < scoredFiles.length;
      const outcomes = tiled ? { ...outcome.outcomes, files: scoredFiles.map((f) => files[f]!.absolutePath) } : outcome.outcomes;
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
        excluded: {
          unlabelled: itemIds.length - labelled.length + withoutVector.size,
          otherClass: labelled.length - withoutVector.size - outcome.outcomes.fileNames.length,
        },
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
