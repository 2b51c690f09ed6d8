/**
 * Where evaluation image vectors come from: the model directly (decode of the next batch
 * overlaps inference of the current one), or an index built by `rsclip index`.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/index.js';
import type { IndexStore } from '../store/index.js';

export interface EvalProgress {
  phase: 'images' | 'texts' | 'search';
  done: number;
  total: number;
}

/** Unit vectors of `files`, in order, `batchSize` images per model run. */
export async function embedImageFiles(
  encoder: ClipEncoder,
  files: readonly string[],
  batchSize: number,
  onProgress?: (p: EvalProgress) => void,
): Promise<Float32Array[]> {
  const preprocessBatch = (start: number): Promise<Float32Array[]> =>
    Promise.all(files.slice(start, start + batchSize).map(async (f) => (await encoder.preprocess(f)).pixels));
  const vectors: Float32Array[] = [];
  onProgress?.({ phase: 'images', done: 0, total: files.length });
  let next = files.length > 0 ? preprocessBatch(0) : undefined;
  for (let start = 0; start < files.length; start += batchSize) {
    const pixels = await next!;
    next = start + batchSize < files.length ? preprocessBatch(start + batchSize) : undefined;
    // a failing look-ahead batch is reported when its turn comes, not as an unhandled rejection
    next?.catch(() => undefined);
    vectors.push(...(await encoder.embedPixels(pixels)));
    onProgress?.({ phase: 'images', done: vectors.length, total: files.length });
  }
  return vectors;
}

/**
 * Index ids and stored vectors of `fileNames` inside `imagesDir`: matched by absolute path,
 * else by file name when exactly one `ok` image has it.
 */
export function vectorsFromIndex(store: IndexStore, imagesDir: string, fileNames: readonly string[]): { ids: number[]; vectors: Float32Array[] } {
  const byName = new Map<string, number[]>();
  for (const record of store.getImages(store.filterIds({}))) {
    const list = byName.get(record.fileName) ?? [];
    list.push(record.id);
    byName.set(record.fileName, list);
  }
  const root = path.resolve(imagesDir);
  const missing: string[] = [];
  const ids: number[] = [];
  const vectors: Float32Array[] = [];
  for (const name of fileNames) {
    const exact = store.findImageByPath(path.join(root, name));
    const candidates = byName.get(name) ?? [];
    const id = exact?.status === 'ok' ? exact.id : candidates.length === 1 ? candidates[0] : undefined;
    const vector = id === undefined ? undefined : store.getVector(id);
    if (id === undefined || !vector) {
      missing.push(name);
      continue;
    }
    ids.push(id);
    vectors.push(vector);
  }
  if (missing.length > 0) {
    throw new RsclipError(
      'DATASET_INVALID',
      `index ${store.dir} lacks ${missing.length} of the ${fileNames.length} evaluation images (e.g. ${missing.slice(0, 3).join(', ')})`,
      { hint: `index them first: rsclip index ${imagesDir} --index ${store.dir}` },
    );
  }
  return { ids, vectors };
}
