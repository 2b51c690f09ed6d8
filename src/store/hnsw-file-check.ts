/**
 * Reads an hnswlib index file (hnswalg.h `saveIndex`) the way hnswlib would, in JavaScript, and
 * refuses anything hnswlib could crash on: hnswlib trusts its file (no magic number, no
 * checksum), so a damaged file can make it allocate without bound or follow a link out of
 * range (SIGSEGV). The same pass computes the sha256 of the whole file, which the catalog
 * records at each checkpoint, so that damage a structural check cannot see (a changed vector)
 * is caught too. Streaming: memory stays small whatever the file size.
 *
 * Layout (little-endian; size_t = 8 bytes):
 *   header: offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
 *           offsetData (size_t), maxlevel (int32), enterpoint_node (uint32), maxM, maxM0, M
 *           (size_t), mult (double), ef_construction (size_t)                       = 96 bytes
 *   level 0: cur_element_count records of size_data_per_element bytes:
 *           [uint32 count | deleted flag << 16] [maxM0 x uint32 links] [dim x float32] [uint64 label]
 *   upper levels, per element: uint32 size (level x (4 + 4 maxM)), then level blocks [uint32 count][maxM x uint32]
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileIdentity } from './file-identity.js';

export const HNSW_HEADER_BYTES = 96;
/** hnswlib draws levels with mult = 1/ln(M): a level above this never happens in practice. */
const MAX_LEVEL = 64;
/** Capacity may exceed the element count (rsclip grows it by 1.5x, from at least 1024). */
const SPARE_CAPACITY = 1024;
const CHUNK_BYTES = 4 << 20;

export interface HnswFileExpectation {
  dim: number;
  /** The M the index was built with (maxM = M, maxM0 = 2M). */
  M?: number;
}

export interface HnswFileReport {
  bytes: number;
  /** sha256 of the whole file, hex. */
  sha256: string;
  identity: string;
  /** Elements stored, deleted ones included. */
  elements: number;
  /** Labels of the elements marked deleted. */
  deletedLabels: number[];
}

/** What is wrong with a file, in words; thrown by checkHnswFile. */
export class HnswFileError extends Error {
  override readonly name = 'HnswFileError';
}

/** Sequential reads through one buffer, hashing every byte that goes by. */
class HashingReader {
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private start = 0;
  private end = 0;
  /** File offset of buffer[0]. */
  private base = 0;
  readonly hash = createHash('sha256');

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  get position(): number {
    return this.base + this.start;
  }

  /** The next `n` bytes (n <= CHUNK_BYTES), valid until the next call. */
  take(n: number, what: string): Buffer {
    if (n > this.buffer.length) throw new HnswFileError(`${what} would need ${n} bytes at once`);
    if (this.position + n > this.size) throw new HnswFileError(`file ends inside ${what} (at byte ${this.position} of ${this.size})`);
    if (this.end - this.start < n) this.refill();
    const out = this.buffer.subarray(this.start, this.start + n);
    this.start += n;
    return out;
  }

  private refill(): void {
    const left = this.end - this.start;
    this.buffer.copy(this.buffer, 0, this.start, this.end);
    this.base += this.start;
    this.start = 0;
    this.end = left;
    while (this.end < this.buffer.length && this.base + this.end < this.size) {
      const n = readSync(this.fd, this.buffer, this.end, this.buffer.length - this.end, this.base + this.end);
      if (n === 0) throw new HnswFileError(`file shrank while being read (at byte ${this.base + this.end})`);
      this.hash.update(this.buffer.subarray(this.end, this.end + n));
      this.end += n;
    }
  }
}

function sizeT(b: Buffer, offset: number, name: string): number {
  const value = b.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new HnswFileError(`${name} is ${value}, beyond any index`);
  return Number(value);
}

function expectEqual(name: string, actual: number, expected: number): void {
  if (actual !== expected) throw new HnswFileError(`${name} is ${actual}, expected ${expected}`);
}

/** Checks the structure of the hnswlib file `file` and returns its size and sha256; throws HnswFileError on damage. */
export function checkHnswFile(file: string, expect: HnswFileExpectation): HnswFileReport {
  const fd = openSync(file, 'r');
  try {
    return { ...checkOpenFile(new HashingReader(fd, fstatSync(fd).size), expect), identity: fileIdentity(fd) };
  } finally {
    closeSync(fd);
  }
}

function checkOpenFile(reader: HashingReader, expect: HnswFileExpectation): Omit<HnswFileReport, 'identity'> {
  const h = reader.take(HNSW_HEADER_BYTES, 'the header');
  const offsetLevel0 = sizeT(h, 0, 'offsetLevel0');
  const maxElements = sizeT(h, 8, 'max_elements');
  const count = sizeT(h, 16, 'cur_element_count');
  const dataPerElement = sizeT(h, 24, 'size_data_per_element');
  const labelOffset = sizeT(h, 32, 'label_offset');
  const offsetData = sizeT(h, 40, 'offsetData');
  const maxLevel = h.readInt32LE(48);
  const entryPoint = h.readUInt32LE(52);
  const maxM = sizeT(h, 56, 'maxM');
  const maxM0 = sizeT(h, 64, 'maxM0');
  const M = sizeT(h, 72, 'M');
  const mult = h.readDoubleLE(80);
  const efConstruction = sizeT(h, 88, 'ef_construction');

  expectEqual('offsetLevel0', offsetLevel0, 0);
  if (M < 2 || M > 4096) throw new HnswFileError(`M is ${M}, outside 2..4096`);
  if (expect.M !== undefined) expectEqual('M', M, expect.M);
  expectEqual('maxM', maxM, M);
  expectEqual('maxM0', maxM0, 2 * M);
  if (!(Math.abs(mult - 1 / Math.log(M)) < 1e-9)) throw new HnswFileError(`mult is ${mult}, expected 1/ln(${M})`);
  if (efConstruction < 1 || efConstruction > 1_000_000) throw new HnswFileError(`ef_construction is ${efConstruction}`);
  const links0 = 4 + 4 * maxM0;
  expectEqual('offsetData', offsetData, links0);
  expectEqual('label_offset', labelOffset, links0 + 4 * expect.dim);
  expectEqual('size_data_per_element', dataPerElement, links0 + 4 * expect.dim + 8);
  if (count > maxElements) throw new HnswFileError(`cur_element_count ${count} exceeds max_elements ${maxElements}`);
  if (maxElements > 2 * count + SPARE_CAPACITY) throw new HnswFileError(`max_elements ${maxElements} is far beyond the ${count} elements stored`);
  const minimumSize = HNSW_HEADER_BYTES + count * (dataPerElement + 4);
  if (reader.size < minimumSize) throw new HnswFileError(`file has ${reader.size} bytes, at least ${minimumSize} needed for ${count} elements`);
  if (count === 0) {
    if (maxLevel !== -1) throw new HnswFileError(`maxlevel is ${maxLevel} in an empty index`);
  } else {
    if (maxLevel < 0 || maxLevel > MAX_LEVEL) throw new HnswFileError(`maxlevel is ${maxLevel}, outside 0..${MAX_LEVEL}`);
    if (entryPoint >= count) throw new HnswFileError(`the entry point ${entryPoint} is not one of the ${count} elements`);
  }

  const labels = new Float64Array(count);
  const deletedLabels: number[] = [];
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / dataPerElement));
  for (let first = 0; first < count; first += perChunk) {
    const n = Math.min(perChunk, count - first);
    const block = reader.take(n * dataPerElement, 'the level-0 records');
    for (let j = 0; j < n; j++) {
      const at = j * dataPerElement;
      const element = first + j;
      const head = block.readUInt32LE(at);
      const links = head & 0xffff;
      const flags = head >>> 16;
      if (links > maxM0 || flags > 1) throw new HnswFileError(`element ${element} has a damaged level-0 link header (${head})`);
      for (let k = 0; k < links; k++) {
        const to = block.readUInt32LE(at + 4 + 4 * k);
        if (to >= count) throw new HnswFileError(`element ${element} links to ${to}, beyond the ${count} elements`);
      }
      const label = block.readBigUInt64LE(at + labelOffset);
      if (label > BigInt(Number.MAX_SAFE_INTEGER)) throw new HnswFileError(`element ${element} has label ${label}`);
      labels[element] = Number(label);
      if (flags === 1) deletedLabels.push(Number(label));
    }
  }
  labels.sort();
  for (let i = 1; i < count; i++) {
    if (labels[i] === labels[i - 1]) throw new HnswFileError(`label ${labels[i]} is stored twice`);
  }

  const linksPerLevel = 4 + 4 * maxM;
  const levels = new Uint8Array(count);
  // upper-level links, checked once every element's level is known: a link to an element of a
  // lower level would make hnswlib read a link list that does not exist
  const upperLinks: number[] = [];
  for (let element = 0; element < count; element++) {
    const size = reader.take(4, `the link lists of element ${element}`).readUInt32LE(0);
    if (size % linksPerLevel !== 0 || size / linksPerLevel > maxLevel) throw new HnswFileError(`element ${element} has upper link lists of ${size} bytes`);
    const level = size / linksPerLevel;
    levels[element] = level;
    for (let l = 1; l <= level; l++) {
      const block = reader.take(linksPerLevel, `the level-${l} links of element ${element}`);
      const links = block.readUInt32LE(0);
      if (links > maxM) throw new HnswFileError(`element ${element} has ${links} links at level ${l}, more than ${maxM}`);
      for (let k = 0; k < links; k++) {
        const to = block.readUInt32LE(4 + 4 * k);
        if (to >= count) throw new HnswFileError(`element ${element} links to ${to} at level ${l}, beyond the ${count} elements`);
        upperLinks.push(to, l);
      }
    }
  }
  if (reader.position !== reader.size) throw new HnswFileError(`${reader.size - reader.position} bytes follow the last link list`);
  for (let i = 0; i < upperLinks.length; i += 2) {
    if (levels[upperLinks[i]!]! < upperLinks[i + 1]!) throw new HnswFileError(`a level-${upperLinks[i + 1]} link points to element ${upperLinks[i]}, which is on level ${levels[upperLinks[i]!]}`);
  }
  if (count > 0 && levels[entryPoint] !== maxLevel) throw new HnswFileError(`the entry point is on level ${levels[entryPoint]}, not on the top level ${maxLevel}`);
  return { bytes: reader.size, sha256: reader.hash.digest('hex'), elements: count, deletedLabels };
}
