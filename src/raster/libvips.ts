/**
 * The raster folder's one use of sharp/libvips: cutting a window out of an image as raw
 * interleaved samples (libvips decodes only the tiles or rows the window needs).
 */
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import type { PixelWindow } from '../geo/index.js';

export type { Metadata };

export function openWithLibvips(file: string) {
  return sharp(file, { failOn: 'truncated', limitInputPixels: false, limitInputChannels: 256, ignoreIcc: true, autoOrient: false, pages: 1, page: 0 });
}

/** The libvips interpretation that keeps samples as they are stored (no conversion to 8-bit sRGB). */
export type StoredColourspace = 'srgb' | 'rgb16' | 'b-w' | 'grey16';

/** Raw interleaved samples of a window (optionally resized, nearest neighbour). */
export async function extractRaw(file: string, window: PixelWindow, depth: 'uchar' | 'ushort', out?: { width: number; height: number }, colourspace?: StoredColourspace): Promise<Buffer> {
  let pipeline = openWithLibvips(file).extract({ left: window.x, top: window.y, width: window.width, height: window.height });
  if (out && (out.width !== window.width || out.height !== window.height)) pipeline = pipeline.resize(out.width, out.height, { fit: 'fill', kernel: 'nearest' });
  if (colourspace) pipeline = pipeline.toColourspace(colourspace);
  return pipeline.raw({ depth }).toBuffer();
}

/** Splits interleaved samples into one array per requested band (1-based). */
export function deinterleave(data: Buffer, bandCount: number, bands: readonly number[], depth: 'uchar' | 'ushort'): (Uint8Array | Uint16Array)[] {
  const n = data.length / (depth === 'ushort' ? 2 : 1) / bandCount;
  const interleaved = depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, n * bandCount) : new Uint8Array(data.buffer, data.byteOffset, n * bandCount);
  return bands.map((b) => {
    const band = depth === 'ushort' ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0, s = b - 1; i < n; i++, s += bandCount) band[i] = interleaved[s]!;
    return band;
  });
}
