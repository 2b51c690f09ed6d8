/**
 * A file's content hash, and its bytes when it is small enough to decode from memory: small
 * images are read once for both; a scene larger than `maxBufferBytes` is hashed as a stream and
 * read again window by window, so memory stays bounded whatever its size.
 */
import { createHash, webcrypto } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface FileContent {
  /** sha256 of the bytes, hex. */
  hash: string;
  size: number;
  /** The bytes, unless the file is larger than the buffer limit. */
  bytes: Buffer | undefined;
}

/** Files up to this size are read whole (and decoded from memory when they are plain images). */
export const DEFAULT_MAX_BUFFER_BYTES = 64 * 1024 * 1024;

export async function readFileContent(file: string, expectedBytes: number, maxBufferBytes = DEFAULT_MAX_BUFFER_BYTES): Promise<FileContent> {
  if (expectedBytes <= maxBufferBytes) {
    const bytes = await readFile(file);
    // WebCrypto hashes on libuv's pool, keeping the main thread free for commits and HNSW inserts
    const hash = Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
    return { hash, size: bytes.length, bytes };
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), size, bytes: undefined };
}
