/**
 * Image formats archives hold that the prebuilt sharp cannot decode, told by their first bytes,
 * so that a file of one is said to be of that format, not a damaged JPEG or PNG.
 */
import { open } from 'node:fs/promises';
import type { ImageSource } from '../model/encoder-types.js';

/** Formats archives hold that the prebuilt sharp cannot decode, by their first bytes (the indexer names them by extension, src/indexer/scan.ts). */
const UNREADABLE_SIGNATURES: readonly [format: string, signature: number[]][] = [
  ['JPEG 2000', [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]],
  ['JPEG 2000', [0xff, 0x4f, 0xff, 0x51]],
  ['BMP', [0x42, 0x4d]],
  ['PSD', [0x38, 0x42, 0x50, 0x53]],
];

/** The format sharp cannot read that `source` starts as, or undefined. */
export async function unreadableFormat(source: ImageSource): Promise<string | undefined> {
  let head: Uint8Array = typeof source === 'string' ? new Uint8Array(0) : source;
  if (typeof source === 'string') {
    const file = await open(source).catch(() => undefined);
    if (file === undefined) return undefined;
    try {
      const { buffer, bytesRead } = await file.read(Buffer.alloc(16), 0, 16, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }
  return UNREADABLE_SIGNATURES.find(([, signature]) => signature.every((b, i) => head[i] === b))?.[0];
}
