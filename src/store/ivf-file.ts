/**
 * The file of the ivf engine (ivf-index.ts), written and read in one streaming pass:
 *
 *   "RSCLIPIVF1" + 6 zero bytes
 *   u32 dim, u32 lists (0: not trained yet, one list and no centroids), u32 trained size, u32 vectors
 *   lists x dim f32: the centroids
 *   per list (at least one): u32 n, n x u32 item ids, n x dim i8 vectors
 *   sha256 of everything above (32 bytes), "RSCLIPI1"
 *
 * Numbers are little-endian (typed arrays written as they lie in memory: x86-64 and arm64). The
 * reader checks every count against the file's size before it allocates, and the checksum after
 * the last byte, so a damaged or truncated file is refused rather than served. A file whose
 * sha256 is known is not hashed again, and its lists' vectors may stay on the disk until they are
 * needed (UnreadListVectors): a reader of 10^7 items answers before it has read 5 GB.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, read, readSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { RsclipError } from '../errors.js';
import { fileIdentity } from './file-identity.js';
import { rebuiltFromCatalogHint, type GraphFileDigest } from './graph-index.js';

const MAGIC = Buffer.from('RSCLIPIVF1\0\0\0\0\0\0', 'latin1');
const FOOTER_MAGIC = 'RSCLIPI1';
const HEAD_BYTES = MAGIC.length + 16;
const FOOTER_BYTES = 32 + FOOTER_MAGIC.length;

export interface IvfList {
  ids: Uint32Array;
  vectors: Int8Array;
  /** Rows in use (the arrays may be longer). */
  count: number;
}

export interface IvfContent {
  dim: number;
  /** lists x dim unit centroids; empty before the first training. */
  centroids: Float32Array;
  trainedSize: number;
  lists: IvfList[];
}

function corrupt(file: string, what: string): RsclipError {
  return new RsclipError('INDEX_CORRUPT', `cannot read ivf file ${file}: ${what}`, { hint: rebuiltFromCatalogHint(file) });
}

const bytesOf = (array: Float32Array | Uint32Array | Int8Array, count: number): Uint8Array => new Uint8Array(array.buffer, array.byteOffset, count * array.BYTES_PER_ELEMENT);

/** Writes `content` to `file` (created or truncated); returns the facts of what was written. */
export function writeIvfFile(file: string, content: IvfContent): Omit<GraphFileDigest, 'identity'> {
  const fd = openSync(file, 'w');
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    const put = (chunk: Uint8Array) => {
      hash.update(chunk);
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
      bytes += chunk.length;
    };
    const count = content.lists.reduce((sum, list) => sum + list.count, 0);
    const lists = content.centroids.length / content.dim;
    const head = Buffer.alloc(HEAD_BYTES);
    MAGIC.copy(head, 0);
    [content.dim, lists, content.trainedSize, count].forEach((value, i) => head.writeUInt32LE(value, MAGIC.length + i * 4));
    put(head);
    put(bytesOf(content.centroids, content.centroids.length));
    const n = Buffer.alloc(4);
    for (const list of content.lists) {
      n.writeUInt32LE(list.count, 0);
      put(n);
      put(bytesOf(list.ids, list.count));
      put(bytesOf(list.vectors, list.count * content.dim));
    }
    const whole = hash.copy();
    const footer = Buffer.concat([hash.digest(), Buffer.from(FOOTER_MAGIC, 'latin1')]);
    whole.update(footer);
    for (let done = 0; done < footer.length; ) done += writeSync(fd, footer, done, footer.length - done);
    return { bytes: bytes + footer.length, sha256: whole.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/**
 * The vectors of the lists of an ivf file that readIvfFile left on the disk: read list by list,
 * from the file as it was opened (a file renamed over its path later changes nothing read here),
 * until `close`.
 */
export class UnreadListVectors {
  #fd: number | undefined;
  readonly #readAsync = promisify(read);
  readonly #identity: string;

  constructor(
    fd: number,
    readonly file: string,
    private readonly dim: number,
    /** Per list: where its vectors start in the file, and its rows. */
    private readonly starts: Float64Array,
    private readonly rows: Uint32Array,
    /** fileIdentity(fd) when the file was opened: a write in place changes its size or mtime, a rename over its path neither. */
    identity: string,
  ) {
    this.#fd = fd;
    this.#identity = identity;
  }

  readSync(list: number): Int8Array {
    const { fd, vectors, at } = this.#target(list);
    try {
      readFully(fd, vectors, at, this.file);
      this.#checkUnchanged(fd);
    } catch (cause) {
      throw unreadable(this.file, cause);
    }
    return vectors;
  }

  async read(list: number): Promise<Int8Array> {
    const { fd, vectors, at } = this.#target(list);
    try {
      for (let done = 0; done < vectors.length; ) {
        const { bytesRead } = await this.#readAsync(fd, vectors, done, vectors.length - done, at + done);
        if (bytesRead === 0) throw corrupt(this.file, `it ends early at byte ${at + done}`);
        done += bytesRead;
      }
      this.#checkUnchanged(fd);
    } catch (cause) {
      throw unreadable(this.file, cause);
    }
    return vectors;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** After a read: what was read is the opened file's only if nothing wrote to it since the open (checked after the read, so a write during it counts). */
  #checkUnchanged(fd: number): void {
    if (fileIdentity(fd) !== this.#identity) throw corrupt(this.file, 'it was written in place while its vectors were still being read (a new file must be renamed over it)');
  }

  #target(list: number): { fd: number; vectors: Int8Array; at: number } {
    if (this.#fd === undefined) throw corrupt(this.file, 'its vectors were asked for after it was closed');
    return { fd: this.#fd, vectors: new Int8Array(this.rows[list]! * this.dim), at: this.starts[list]! };
  }
}

/** Reads `target.length` bytes at `at`; a file that ends first is INDEX_CORRUPT. */
function readFully(fd: number, target: NodeJS.ArrayBufferView, at: number, file: string): void {
  for (let done = 0; done < target.byteLength; ) {
    const got = readSync(fd, target, done, target.byteLength - done, at + done);
    if (got === 0) throw corrupt(file, `it ends early at byte ${at + done}`);
    done += got;
  }
}

/** A read that failed as INDEX_CORRUPT, as it was or naming the file. */
function unreadable(file: string, cause: unknown): RsclipError {
  if (cause instanceof RsclipError) return cause;
  return new RsclipError('INDEX_CORRUPT', `cannot read ivf file ${file}: ${(cause as Error).message}`, { cause, hint: rebuiltFromCatalogHint(file) });
}

/** An empty array for the vectors of a list not read yet (its rows are counted, its ids read). */
const UNREAD_VECTORS = new Int8Array(0);

/**
 * Reads and checks an ivf file: its content and facts; a damaged file is INDEX_CORRUPT. A file
 * whose identity has a recorded sha256 (`knownSha256`, as for usearch files) is checked for its
 * structure but not hashed again: hashing was a second of a 1M index's start-up, five at 10M.
 * Such a file's vectors are left on the disk with `deferVectors`: its lists then hold their ids
 * and counts and UNREAD_VECTORS, and `unread` reads their vectors (and holds the file open).
 */
export function readIvfFile(
  file: string,
  dim: number,
  knownSha256?: (identity: string) => string | undefined,
  options: { deferVectors?: boolean } = {},
): { content: IvfContent; facts: GraphFileDigest; unread?: UnreadListVectors } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (cause) {
    throw new RsclipError('INDEX_CORRUPT', `cannot open ivf file ${file}: ${(cause as Error).message}`, { cause, hint: rebuiltFromCatalogHint(file) });
  }
  let keepOpen = false;
  try {
    const size = fstatSync(fd).size;
    const identity = fileIdentity(fd);
    const known = knownSha256?.(identity);
    const content = known === undefined ? createHash('sha256') : undefined;
    const defer = options.deferVectors === true && known !== undefined;
    let at = 0;
    const skip = (bytes: number) => {
      if (at + bytes > size) throw corrupt(file, `it ends at byte ${size}, inside a part that needs ${at + bytes}`);
      at += bytes;
    };
    const read = (target: Uint8Array, hash: Hash | undefined = content) => {
      const start = at;
      skip(target.length);
      readFully(fd, target, start, file);
      hash?.update(target);
    };
    if (size < HEAD_BYTES + FOOTER_BYTES) throw corrupt(file, `${size} bytes is too short to be one`);
    const head = Buffer.alloc(HEAD_BYTES);
    read(head);
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt(file, 'it does not start as an rsclip ivf file');
    const [fileDim, lists, trainedSize, count] = [0, 1, 2, 3].map((i) => head.readUInt32LE(MAGIC.length + i * 4)) as [number, number, number, number];
    if (fileDim !== dim) throw corrupt(file, `its vectors have ${fileDim} dimensions, the index ${dim}`);
    const payload = size - FOOTER_BYTES;
    if (HEAD_BYTES + lists * dim * 4 + Math.max(1, lists) * 4 + count * (4 + dim) !== payload) throw corrupt(file, `${size} bytes do not hold ${lists} lists of ${count} vectors of ${dim} dimensions`);
    const centroids = new Float32Array(lists * dim);
    read(bytesOf(centroids, centroids.length));
    const out: IvfList[] = [];
    const starts = new Float64Array(Math.max(1, lists));
    const rowsOf = new Uint32Array(Math.max(1, lists));
    const n = Buffer.alloc(4);
    let seen = 0;
    for (let l = 0; l < Math.max(1, lists); l++) {
      read(n);
      const rows = n.readUInt32LE(0);
      seen += rows;
      if (seen > count) throw corrupt(file, `its lists hold more than the ${count} vectors its head counts`);
      const ids = new Uint32Array(rows);
      read(bytesOf(ids, rows));
      starts[l] = at;
      rowsOf[l] = rows;
      let vectors = UNREAD_VECTORS;
      if (defer) skip(rows * dim);
      else read(bytesOf((vectors = new Int8Array(rows * dim)), rows * dim));
      out.push({ ids, vectors, count: rows });
    }
    if (seen !== count) throw corrupt(file, `its lists hold ${seen} vectors, its head counts ${count}`);
    const whole = content?.copy();
    const footer = Buffer.alloc(FOOTER_BYTES);
    read(footer, whole);
    if (footer.toString('latin1', 32) !== FOOTER_MAGIC) throw corrupt(file, 'its footer is missing');
    if (content && !footer.subarray(0, 32).equals(content.digest())) throw corrupt(file, 'its checksum does not match its content');
    const facts = { bytes: size, sha256: known ?? whole!.digest('hex'), identity };
    const unread = defer && count > 0 ? new UnreadListVectors(fd, file, dim, starts, rowsOf, identity) : undefined;
    keepOpen = unread !== undefined;
    return { content: { dim, centroids, trainedSize, lists: out }, facts, ...(unread ? { unread } : {}) };
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}
