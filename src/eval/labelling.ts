/** How images get their class for zero-shot evaluation: a `filename<TAB>label` file, or the folder each image sits in. */
import path from 'node:path';
import { compareCodeUnits } from './dataset.js';

/** The name of the folder holding the image (`a/b/c.jpg` -> `b`); undefined for an image at the root. */
export function folderLabel(relativePath: string): string | undefined {
  const parts = relativePath.split('/');
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

/** The label of an image by its path relative to the root: a labels file row names the path or the base name; without a file, the folder. */
export function labelOf(relativePath: string, labelsByName: ReadonlyMap<string, string> | undefined): string | undefined {
  if (!labelsByName) return folderLabel(relativePath);
  return labelsByName.get(relativePath) ?? labelsByName.get(path.posix.basename(relativePath));
}

/** The classes scored: those requested (deduplicated, in the given order), else every label seen, sorted. */
export function chooseClasses(labels: Iterable<string>, requested: readonly string[] | undefined): string[] {
  return requested && requested.length > 0 ? [...new Set(requested)] : [...new Set(labels)].sort(compareCodeUnits);
}
