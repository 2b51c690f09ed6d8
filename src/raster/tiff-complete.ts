/**
 * A TIFF whose directory places blocks past the end of its bytes: a copy or download cut short.
 * Neither decoder notices: geotiff.js reads the missing blocks as zeros, libvips (sharp, even with
 * `failOn: 'truncated'`) as black. So the block tables are checked against the file's size
 * before anything is decoded: by the scene reader when it opens a file, and by the image decoder
 * for a TIFF it is given (a query upload, a small archive image). Sparse blocks (offset and count
 * 0) are in order.
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

/**
 * Throws TiffTruncatedError when any image of the TIFF at `source` (a path, or its bytes) has
 * blocks past its end. Reads the directories only. A directory geotiff.js cannot parse is left to
 * the decoder, which reports it in its own words.
 */
export async function checkTiffComplete(source: string | Uint8Array, label: string): Promise<void> {
  const geotiff = await import('geotiff').catch((cause: unknown) => {
    throw dependencyMissing('geotiff', cause);
  });
  let tiff: GeoTIFF;
  let fileBytes: number;
  try {
    if (typeof source === 'string') {
      fileBytes = (await stat(source)).size;
      tiff = await geotiff.fromFile(source);
    } else {
      fileBytes = source.byteLength;
      tiff = await geotiff.fromArrayBuffer(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength) as ArrayBuffer);
    }
  } catch {
    return;
  }
  try {
    const count = await tiff.getImageCount();
    for (let i = 0; i < count; i++) await checkBlocksInFile(await tiff.getImage(i), label, fileBytes);
  } catch (error) {
    if (error instanceof TiffTruncatedError) throw error;
  } finally {
    await tiff.close();
  }
}
