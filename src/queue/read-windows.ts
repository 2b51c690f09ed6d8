/**
 * A worker's side of a job: the model inputs of one file's windows, read exactly as the local
 * indexer reads them (the model's own decoding of a whole image; a scene window through
 * src/raster with the file's stretch, then the model's preprocessing), so vectors are identical.
 */
import { open } from 'node:fs/promises';
import { openPixelPreparer } from '../indexer/decode-pool.js';
import { fileFailure, SCENE_BLOCK_CACHE_BYTES, type WindowRead } from '../indexer/prepare-file.js';
import { sceneWindows } from '../indexer/scene-windows.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openRaster } from '../raster/open-raster.js';
import { Scene } from '../raster/scene.js';

export type WindowInput = { key: string } & (
  | { pixels: Float32Array; decoded?: { width: number; height: number; format: string }; fallback?: true }
  | { nodata: true; fallback?: true }
  | { error: string }
);

export async function readFileWindows(file: string, reads: { key: string; read: WindowRead }[], encoder: ClipEncoder, readAhead: number): Promise<WindowInput[]> {
  try {
    // opened first, as the local indexer's hash does: a worker that may not read the file says so,
    // where the decoders would call it an unsupported format, or not found
    await (await open(file, 'r')).close();
  } catch (error) {
    const message = `cannot read file: ${fileFailure(error)}`;
    return reads.map(({ key }) => ({ key, error: message }));
  }
  try {
    return await readAll(file, reads, encoder, readAhead);
  } catch (error) {
    const message = fileFailure(error);
    return reads.map(({ key }) => ({ key, error: message }));
  }
}

async function readAll(file: string, reads: { key: string; read: WindowRead }[], encoder: ClipEncoder, readAhead: number): Promise<WindowInput[]> {
  const out: WindowInput[] = [];
  const windows: Extract<WindowRead, { whole: false }>[] = [];
  let fallback = false;
  for (const { key, read } of reads) {
    if (!read.whole) windows.push(read);
    else {
      try {
        const { pixels, width, height, format } = await encoder.preprocess(file);
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
