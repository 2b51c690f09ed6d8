/**
 * A worker's side of a job: the model inputs of one file's windows, read exactly as the local
 * indexer reads them (the model's own decoding of a whole image; a scene window through
 * src/raster with the file's stretch, then the model's preprocessing), so vectors are identical.
 *
 * The file must be the one the coordinator hashed (`identity`): a whole image is hashed as it is
 * read and decoded from those very bytes (at most 1 MiB; a larger one is read again to decode);
 * a scene (several GiB, its windows spread over many jobs) is not hashed here: its size must be
 * the coordinator's. Either way the file's size, mtime and ctime here, before and after the read,
 * must agree (one machine, one mount: comparable, where the coordinator's times may not be). A
 * file that fails these gets an error instead of vectors; the coordinator, seeing it changed
 * since its scan, records it as changed and the next run indexes it as it is then.
 */
import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { hashFile } from '../indexer/content-hash.js';
import { openPixelPreparer } from '../indexer/decode-pool.js';
import { fileFailure, SCENE_BLOCK_CACHE_BYTES, type WindowRead } from '../indexer/prepare-file.js';
import { sceneWindows } from '../indexer/scene-windows.js';
import type { AlreadyRead, ClipEncoder } from '../model/encoder-types.js';
import { openRaster } from '../raster/open-raster.js';
import { Scene } from '../raster/scene.js';
import type { FileIdentity } from './protocol.js';

export type WindowInput = { key: string } & (
  | { pixels: Float32Array; decoded?: { width: number; height: number; format: string }; fallback?: true }
  | { nodata: true; fallback?: true }
  | { error: string }
);

/** The start of the error a worker returns for a file that is not the one the coordinator hashed. */
export const CHANGED_FILE_ERROR = 'the file changed after the coordinator hashed it';

/** Thrown while reading: the file read is not the one the coordinator hashed. */
class FileChangedError extends Error {}

export async function readFileWindows(file: string, reads: { key: string; read: WindowRead }[], encoder: ClipEncoder, readAhead: number, identity?: FileIdentity): Promise<WindowInput[]> {
  const failed = (message: string): WindowInput[] => reads.map(({ key }) => ({ key, error: message }));
  let before: Stats;
  try {
    // opened first, as the local indexer's hash does: a worker that may not read the file says so,
    // where the decoders would call it an unsupported format, or not found
    const handle = await open(file, 'r');
    try {
      before = await handle.stat();
    } finally {
      await handle.close();
    }
  } catch (error) {
    return failed(`cannot read file: ${fileFailure(error)}`);
  }
  try {
    if (identity && before.size !== identity.bytes) throw new FileChangedError(`${before.size} bytes here, ${identity.bytes} when hashed`);
    const out = await readAll(file, reads, encoder, readAhead, identity);
    const after = await stat(file);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) throw new FileChangedError('its size, modification or status-change time changed while it was read');
    return out;
  } catch (error) {
    // the coordinator sees the change too and the next run indexes the file as it is then; where it does
    // not, this worker reads another file than the coordinator's (a --path-map to another copy)
    if (error instanceof FileChangedError) return failed(`${CHANGED_FILE_ERROR} (${error.message}): written to meanwhile, or this worker reads another copy than the coordinator (its mount or --path-map)`);
    return failed(fileFailure(error));
  }
}

/**
 * The bytes of a whole image, hashed: the ones to decode (a file of at most 1 MiB is decoded from
 * them, a larger one from its head and the file).
 */
async function readWhole(file: string, identity: FileIdentity | undefined): Promise<AlreadyRead> {
  const hashed = await hashFile(file, { keepHead: true });
  if (identity && hashed.sha256 !== identity.sha256) throw new FileChangedError(`sha256 ${hashed.sha256.slice(0, 12)} here, ${identity.sha256.slice(0, 12)} when hashed`);
  return hashed.content ? { content: hashed.content } : { head: hashed.head! };
}

async function readAll(file: string, reads: { key: string; read: WindowRead }[], encoder: ClipEncoder, readAhead: number, identity: FileIdentity | undefined): Promise<WindowInput[]> {
  const out: WindowInput[] = [];
  const windows: Extract<WindowRead, { whole: false }>[] = [];
  let fallback = false;
  for (const { key, read } of reads) {
    if (!read.whole) windows.push(read);
    else {
      // outside the fallback's try: a file that changed is not a TIFF the model's decoder cannot read
      const alreadyRead = await readWhole(file, identity);
      try {
        const { pixels, width, height, format } = await encoder.preprocess(file, alreadyRead);
        out.push({ key, pixels, decoded: { width, height, format } });
      } catch (error) {
        // a TIFF the model's decoder cannot read goes through the scene path, as the local indexer does
        if (!read.fallback) throw error;
        windows.push({ whole: false, ...read.fallback });
        fallback = true;
      }
    }
  }
  if (windows.length === 0) return out;
  const source = await openRaster(file, { blockCacheBytes: SCENE_BLOCK_CACHE_BYTES });
  try {
    // the windows of one file share its stretch
    const scene = Scene.fromSource(source, windows[0]!.stretch);
    for await (const result of sceneWindows(scene, windows.map((w) => w.window), openPixelPreparer(encoder, 0), encoder.info.imageSize, readAhead)) {
      const input = 'nodata' in result ? { key: result.window.key, nodata: true as const } : { key: result.window.key, pixels: result.pixels };
      out.push(fallback ? { ...input, fallback: true } : input);
    }
  } finally {
    await source.close();
  }
  return out;
}
