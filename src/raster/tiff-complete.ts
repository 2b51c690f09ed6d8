/**
 * A TIFF whose directory places blocks past the end of its bytes: a copy or download cut short.
 * Neither decoder notices: geotiff.js reads the missing blocks as zeros, libvips (sharp, even with
 * `failOn: 'truncated'`) as black. So the block tables are checked against the file's size
 * before anything is decoded: by the scene reader when it opens a file, and by the image decoder
 * for a TIFF it is given (a query upload, a small archive image). Sparse blocks (offset and count
 * 0) are in order. The size of an uploaded TIFF is read here too, from the same directories.
 */
import { stat } from 'node:fs/promises';
import type { GeoTIFF, GeoTIFFImage } from 'geotiff';
import { RsclipError } from '../errors.js';
import { dependencyMissing } from '../lazy-package.js';

export class TiffTruncatedError extends RsclipError {
  /** `label`: "image PATH", or "the uploaded image". */
  constructor(label: string, end: number, fileBytes: number) {
    super('IMAGE_UNREADABLE', `cannot read ${label}: the TIFF is truncated (its blocks run to byte ${end}, the file ends at ${fileBytes})`, {
      hint: 'check that the whole file is there (a copy or download cut short)',
    });
  }
}

/** The byte just past the last block of `image` (its TileOffsets/StripOffsets plus their byte counts). */
async function blocksEnd(image: GeoTIFFImage): Promise<number> {
  const [offsetsTag, countsTag] = image.isTiled ? (['TileOffsets', 'TileByteCounts'] as const) : (['StripOffsets', 'StripByteCounts'] as const);
  const offsets = (await image.fileDirectory.loadValue(offsetsTag)) as ArrayLike<number | bigint> | undefined;
  const counts = (await image.fileDirectory.loadValue(countsTag)) as ArrayLike<number | bigint> | undefined;
  let end = 0;
  if (!offsets || !counts) return end;
  for (let i = 0; i < Math.min(offsets.length, counts.length); i++) end = Math.max(end, Number(offsets[i]) + Number(counts[i]));
  return end;
}

/** Throws TiffTruncatedError when a block of `image` lies past `fileBytes`. */
export async function checkBlocksInFile(image: GeoTIFFImage, label: string, fileBytes: number): Promise<void> {
  const end = await blocksEnd(image);
  if (end > fileBytes) throw new TiffTruncatedError(label, end, fileBytes);
}

/** The TIFF at `source` (a path, or its bytes) as geotiff.js parses its directories, with its size in bytes; undefined where it cannot. */
async function parsedTiff(source: string | Uint8Array): Promise<{ tiff: GeoTIFF; fileBytes: number } | undefined> {
  const geotiff = await import('geotiff').catch((cause: unknown) => {
    throw dependencyMissing('geotiff', cause);
  });
  try {
    if (typeof source === 'string') return { fileBytes: (await stat(source)).size, tiff: await geotiff.fromFile(source) };
    // an upload's bytes usually fill their buffer: copied only when they are part of a larger one (a server's main thread reads these)
    const whole = source.byteOffset === 0 && source.byteLength === source.buffer.byteLength;
    const buffer = (whole ? source.buffer : source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength)) as ArrayBuffer;
    return { fileBytes: source.byteLength, tiff: await geotiff.fromArrayBuffer(buffer) };
  } catch {
    return undefined;
  }
}

/**
 * Throws TiffTruncatedError when any image of the TIFF at `source` (a path, or its bytes) has
 * blocks past its end. Reads the directories only. A directory geotiff.js cannot parse is left to
 * the decoder, which reports it in its own words.
 */
export async function checkTiffComplete(source: string | Uint8Array, label: string): Promise<void> {
  const parsed = await parsedTiff(source);
  if (!parsed) return;
  try {
    const count = await parsed.tiff.getImageCount();
    for (let i = 0; i < count; i++) await checkBlocksInFile(await parsed.tiff.getImage(i), label, parsed.fileBytes);
  } catch (error) {
    if (error instanceof TiffTruncatedError) throw error;
  } finally {
    await parsed.tiff.close();
  }
}

/**
 * The size of the first image of a TIFF held in memory, from its directory (libvips refuses the
 * headers of some TIFFs the scene reader reads, such as 64-bit floats); undefined when
 * geotiff.js cannot parse it, for the caller's decoder to word the error.
 */
export async function readTiffSize(bytes: Uint8Array): Promise<{ width: number; height: number } | undefined> {
  const parsed = await parsedTiff(bytes);
  if (!parsed) return undefined;
  try {
    const image = await parsed.tiff.getImage(0);
    return { width: image.getWidth(), height: image.getHeight() };
  } catch {
    return undefined;
  } finally {
    await parsed.tiff.close();
  }
}
