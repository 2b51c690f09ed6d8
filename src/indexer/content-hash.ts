/**
 * The content hash of an archive file (sha256, hex), read in chunks into one buffer sized to the
 * file (at most 1 MiB): memory stays at one chunk whatever the file size (scenes of several GiB
 * included), and a small file costs one read into a small buffer. A stream with a 1 MiB
 * high-water mark allocated a fresh 1 MiB buffer per read, which for archives of small images
 * cost 0.8 ms of CPU per file and kept the garbage collector busy. The first bytes can be kept,
 * so that the image header is parsed from them without opening the file again.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK_BYTES = 1 << 20;
/** The first bytes kept when asked: enough for a PNG's or JPEG's header, APP segments included, in almost all files. */
export const HEAD_BYTES = 64 * 1024;

export interface ContentHash {
  sha256: string;
  /** Bytes hashed: the file's size as read. */
  bytes: number;
  /** The file's first bytes (at most HEAD_BYTES), when asked for. */
  head?: Buffer;
}

export interface HashOptions {
  /** Keep the file's first bytes (a copy: the read buffer is reused). */
  keepHead?: boolean;
}

export async function hashFile(file: string, options: HashOptions = {}): Promise<ContentHash> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    // a file that grows while it is read is read to its end all the same
    const buffer = Buffer.allocUnsafe(Math.min(Math.max(size, 1), CHUNK_BYTES));
    const hash = createHash('sha256');
    let bytes = 0;
    let head: Buffer | undefined;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      if (options.keepHead && bytes === 0) head = Buffer.from(buffer.subarray(0, Math.min(bytesRead, HEAD_BYTES)));
      bytes += bytesRead;
    }
    return { sha256: hash.digest('hex'), bytes, ...(options.keepHead ? { head: head ?? Buffer.alloc(0) } : {}) };
  } finally {
    await handle.close();
  }
}
