/**
 * The content hash of an archive file (sha256, hex), read as a stream: memory stays at one
 * chunk whatever the file size (scenes of several GiB included), where reading the whole file
 * first cost its size in memory and failed past 2 GiB (ERR_FS_FILE_TOO_LARGE).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const CHUNK_BYTES = 1 << 20;

export interface ContentHash {
  sha256: string;
  /** Bytes hashed: the file's size as read. */
  bytes: number;
}

export async function hashFile(file: string): Promise<ContentHash> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
