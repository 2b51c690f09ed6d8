/** How images get their class for zero-shot evaluation: a `filename<TAB>label` file, or the folder each image sits in. */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { compareCodeUnits } from './dataset.js';

/** The name of the folder holding the image (`a/b/c.jpg` -> `b`); undefined for an image at the root. */
export function folderLabel(relativePath: string): string | undefined {
  const parts = relativePath.split('/');
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

/** A file a labels row may name: by its absolute path, its path relative to the folder (or archive root), or its base name. */
export interface NamedFile {
  absolutePath: string;
  relativePath: string;
}

export interface LabelsMatch {
  /** Per file, in order: its label, or undefined when no row names it. */
  labels: (string | undefined)[];
  /** Rows that name no file, as written. */
  unmatchedRows: string[];
}

const EXAMPLES = 3;

/**
 * The label of each file from a labels file: the row naming its absolute path, else its relative
 * path, else its base name. A row that would label two files (one base name in two folders, one
 * relative path under two archive roots) is refused: which one it meant is unknown.
 */
export function matchLabels(files: readonly NamedFile[], labelsByName: ReadonlyMap<string, string>, labelsFile: string): LabelsMatch {
  const usedBy = new Map<string, NamedFile[]>();
  const labels = files.map((file) => {
    const row = [file.absolutePath, file.relativePath, path.posix.basename(file.relativePath)].find((name) => labelsByName.has(name));
    if (row === undefined) return undefined;
    const users = usedBy.get(row) ?? [];
    users.push(file);
    usedBy.set(row, users);
    return labelsByName.get(row);
  });
  for (const [row, users] of usedBy) {
    if (users.length < 2) continue;
    const named = users.slice(0, EXAMPLES).map((f) => f.absolutePath).join(', ');
    throw new RsclipError('DATASET_INVALID', `${labelsFile}: the row ${JSON.stringify(row)} names ${users.length} files (${named}${users.length > EXAMPLES ? ', ...' : ''}), which may not share a label`, {
      hint: 'name each of them by its path relative to the images folder or archive root, or by its absolute path',
    });
  }
  return { labels, unmatchedRows: [...labelsByName.keys()].filter((row) => !usedBy.has(row)) };
}

/** The warning for rows of a labels file that name no file, or undefined when every row was used. */
export function unmatchedRowsWarning(unmatchedRows: readonly string[], labelsFile: string, where: string): string | undefined {
  if (unmatchedRows.length === 0) return undefined;
  const examples = unmatchedRows.slice(0, EXAMPLES).map((r) => JSON.stringify(r)).join(', ');
  return `${unmatchedRows.length} row(s) of ${labelsFile} name no image in ${where} (e.g. ${examples}); they were not scored`;
}

/** The warning for a dataset with a single class: every image's true class is then the only one, so every score is 1. */
export function singleClassWarning(classes: readonly string[]): string | undefined {
  return classes.length === 1 ? `only one class (${classes[0]}): every score is trivially 1; check the labels or the class folders` : undefined;
}

/** The classes scored: those requested (deduplicated, in the given order), else every label seen, sorted. */
export function chooseClasses(labels: Iterable<string>, requested: readonly string[] | undefined): string[] {
  return requested && requested.length > 0 ? [...new Set(requested)] : [...new Set(labels)].sort(compareCodeUnits);
}
