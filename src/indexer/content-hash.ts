/**
 * The content hash of an archive file (sha256, hex), read in chunks into one buffer sized to the
 * file (at most 1 MiB): memory stays at one chunk whatever the file size (scenes of several GiB
 * included), and a small file costs one read into a small buffer. The first bytes can be kept,
 * so that the image header is parsed from them without opening the file again, and with them a
 * file read in one read (at most 1 MiB), so that it is decoded without being read again.
 *
 * Files up to SYNC_BYTES are read synchronously. On a local disk that blocks the event loop for
 * tens of microseconds, while promise-based reads cost far more CPU in round trips through
 * libuv's threads: a queue's coordinator absorbed 20,000 small files at 0.33-0.35 ms of CPU per
 * file against 0.52-0.54 (bench/queue.ts), 2,900-3,100 files/s against 2,100. A file system that
 * answers slowly (a network mount) would block the loop for each read instead, so such a file
 * system sends every later read of the process down the asynchronous path, whose reads overlap:
 * when more than a quarter of a window of synchronous reads took over SLOW_READ_MS each (one slow
 * read, a page evicted or a busy machine, changes nothing).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

const CHUNK_BYTES = 1 << 20;
/** The first bytes kept when asked: enough for a PNG's or JPEG's header, APP segments included, in almost all files. */
export const HEAD_BYTES = 64 * 1024;
const SYNC_BYTES = CHUNK_BYTES;
const SLOW_READ_MS = 1;
const READ_WINDOW = 64;

let syncReads = true;
const recentReads = { count: 0, slow: 0 };

export interface ContentHash {
  sha256: string;
  /** Bytes hashed: the file's size as read. */
  bytes: number;
  /** The file's first bytes (at most HEAD_BYTES), when asked for. */
  head?: Buffer;
  /** All of the file's bytes, when asked for the head and the file was read in one read (at most 1 MiB). */
  content?: Buffer;
}

export interface HashOptions {
  /** Keep the file's first bytes (a copy: the read buffer is reused), and a small file's content (the read buffer itself). */
  keepHead?: boolean;
}

/** Whether small files are still read synchronously in this process (false once reads were found slow). */
export function smallFilesReadSynchronously(): boolean {
  return syncReads;
}

export async function hashFile(file: string, options: HashOptions = {}): Promise<ContentHash> {
  if (syncReads) {
    const started = performance.now();
    try {
      const hashed = hashSmallFileSync(file, options);
      if (hashed) return hashed;
    } finally {
      countRead(performance.now() - started);
    }
  }
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const hashing = new ChunkHasher(size, options);
    // a file that grows while it is read is read to its end all the same
    for (;;) {
      const { bytesRead } = await handle.read(hashing.buffer, 0, hashing.buffer.length, null);
      if (bytesRead === 0) return hashing.result();
      hashing.add(bytesRead);
    }
  } finally {
    await handle.close();
  }
}

function countRead(ms: number): void {
  recentReads.count++;
  if (ms > SLOW_READ_MS) recentReads.slow++;
  if (recentReads.count < READ_WINDOW) return;
  if (recentReads.slow > READ_WINDOW / 4) syncReads = false;
  recentReads.count = 0;
  recentReads.slow = 0;
}

/** The hash of a file of at most SYNC_BYTES, read synchronously; undefined for a larger file. */
function hashSmallFileSync(file: string, options: HashOptions): ContentHash | undefined {
  // non-blocking: a FIFO put in a file's place must not hang the thread in open()
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const { size } = fstatSync(fd);
    if (size > SYNC_BYTES) return undefined;
    const hashing = new ChunkHasher(size, options);
    for (;;) {
      const bytesRead = readSync(fd, hashing.buffer, 0, hashing.buffer.length, null);
      if (bytesRead === 0) return hashing.result();
      hashing.add(bytesRead);
    }
  } finally {
    closeSync(fd);
  }
}

/** The hash of chunks read one after another into `buffer`. */
class ChunkHasher {
  readonly buffer: Buffer;
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private reads = 0;
  private head: Buffer | undefined;

  constructor(
    size: number,
    private readonly options: HashOptions,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(Math.max(size, 1), CHUNK_BYTES));
  }

  add(bytesRead: number): void {
    this.hash.update(this.buffer.subarray(0, bytesRead));
    if (this.options.keepHead && this.bytes === 0) this.head = Buffer.from(this.buffer.subarray(0, Math.min(bytesRead, HEAD_BYTES)));
    this.bytes += bytesRead;
    this.reads++;
  }

  result(): ContentHash {
    const sha256 = this.hash.digest('hex');
    if (!this.options.keepHead) return { sha256, bytes: this.bytes };
    // one read (none for an empty file): the buffer still holds the whole file (a read at the end writes nothing)
    return { sha256, bytes: this.bytes, head: this.head ?? Buffer.alloc(0), ...(this.reads <= 1 ? { content: this.buffer.subarray(0, this.bytes) } : {}) };
  }
}
