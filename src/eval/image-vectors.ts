/**
 * Where evaluation image vectors come from: the model directly (decode of the next batch
 * overlaps inference of the current one), or an index built by `rsclip index`.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import type { IndexStore } from '../store/types.js';

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
    vectors.push(...(await encoder.embedPixels(pixels, { handOver: true })));
    onProgress?.({ phase: 'images', done: vectors.length, total: files.length });
  }
  return vectors;
}

/**
 * Index ids and stored vectors of `fileNames` inside `imagesDir`: matched by absolute path,
 * else by file name when exactly one `ok` image has it.
 */
export async function vectorsFromIndex(store: IndexStore, imagesDir: string, fileNames: readonly string[]): Promise<{ ids: number[]; vectors: Float32Array[] }> {
  const byName = new Map<string, number[]>();
  for (const item of await store.getItems(await store.listItemIds())) {
    const list = byName.get(item.file.fileName) ?? [];
    list.push(item.id);
    byName.set(item.file.fileName, list);
  }
  const root = path.resolve(imagesDir);
  const chosen: (number | undefined)[] = [];
  for (const name of fileNames) {
    // today a file's one item has the file's id
    const exact = await store.findFileByPath(path.join(root, name));
    const candidates = byName.get(name) ?? [];
    chosen.push(exact?.status === 'ok' ? exact.id : candidates.length === 1 ? candidates[0] : undefined);
  }
  const stored = await store.getVectors(chosen.flatMap((id) => (id === undefined ? [] : [id])));
  const missing: string[] = [];
  const ids: number[] = [];
  const vectors: Float32Array[] = [];
  fileNames.forEach((name, i) => {
    const id = chosen[i];
    const vector = id === undefined ? undefined : stored.get(id);
    if (id === undefined || !vector) missing.push(name);
    else {
      ids.push(id);
      vectors.push(vector);
    }
  });
  if (missing.length > 0) {
    const location = store.describe().location;
    throw new RsclipError('DATASET_INVALID', `index ${location} lacks ${missing.length} of the ${fileNames.length} evaluation images (e.g. ${missing.slice(0, 3).join(', ')})`, {
      hint: `index them first: rsclip index ${imagesDir} --index ${location}`,
    });
  }
  return { ids, vectors };
}
