/**
 * Where evaluation image vectors come from: the model directly (decode of the next batch
 * overlaps inference of the current one), or an index built by `rsclip index`.
 */
import path from 'node:path';
import type { ClipEncoder } from '../model/encoder-types.js';
import { WHOLE_IMAGE_KEY, type IndexStore } from '../store/types.js';
import { sha256OfFile } from '../file-sha256.js';

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

/** What an index holds of the evaluation images: per image, in order, its item id and vector, or undefined for each to embed. */
export interface IndexedImageVectors {
  ids: (number | undefined)[];
  vectors: (Float32Array | undefined)[];
  /** Images whose vector came from the index. */
  fromIndex: number;
}

/**
 * Stored vectors of `fileNames` inside `imagesDir`: an index item serves an image only when it
 * is the whole-image item of a file with the image's very bytes (the catalog's sha256 content
 * hash), the file at the image's path first, else any copy (a dataset indexed in another place).
 * A file of the same name with other bytes (edited since indexing, another folder's file) never
 * serves: its vector is not this image's. Images are looked up at their own path; the index's
 * items are listed only for those not found there (a test split inside a large archive costs
 * its own lookups, not the archive's list).
 */
export async function vectorsFromIndex(store: IndexStore, imagesDir: string, fileNames: readonly string[]): Promise<IndexedImageVectors> {
  const root = path.resolve(imagesDir);
  const files = fileNames.map((name) => path.join(root, name));
  const hashes: string[] = [];
  const chosen: (number | undefined)[] = [];
  for (const file of files) {
    hashes.push(await sha256OfFile(file));
    chosen.push(await wholeImageItemAt(store, file, hashes.at(-1)!));
  }
  const elsewhere = chosen.flatMap((id, i) => (id === undefined ? [i] : []));
  if (elsewhere.length > 0) {
    const byHash = await wholeImageItemsByHash(store);
    for (const i of elsewhere) chosen[i] = byHash.get(hashes[i]!);
  }
  const stored = await store.getVectors(chosen.flatMap((id) => (id === undefined ? [] : [id])));
  const vectors = chosen.map((id) => (id === undefined ? undefined : stored.get(id)));
  const ids = chosen.map((id, i) => (vectors[i] ? id : undefined));
  return { ids, vectors, fromIndex: vectors.filter((v) => v !== undefined).length };
}

/** The whole-image item of the indexed file at `file`, when it holds these bytes. */
async function wholeImageItemAt(store: IndexStore, file: string, contentHash: string): Promise<number | undefined> {
  const record = await store.findFileByPath(file);
  if (!record || record.absolutePath !== file || record.status !== 'ok' || record.contentHash !== contentHash) return undefined;
  return (await store.fileItems(record.id)).find((item) => item.key === WHOLE_IMAGE_KEY)?.id;
}

/** Per content hash, the first whole-image item of a readable file with those bytes. */
async function wholeImageItemsByHash(store: IndexStore): Promise<Map<string, number>> {
  const byHash = new Map<string, number>();
  for (const item of await store.getItems(await store.listItemIds())) {
    if (item.key !== WHOLE_IMAGE_KEY || item.file.status !== 'ok' || item.file.contentHash === '' || byHash.has(item.file.contentHash)) continue;
    byHash.set(item.file.contentHash, item.id);
  }
  return byHash;
}
