/**
 * The usearch graph file: usearch's own serialisation (vectors, a 64-byte head, the HNSW graph)
 * followed by rsclip's trailer, the live ids as a bitset, which usearch cannot list itself:
 *
 *   [usearch bytes][live-id bitset: words x u32][footer: "RSCLIPU1", u64 usearch bytes, u64 words, u64 live ids]
 *
 * usearch's loader trusts the file: garbage or a truncated file crashes the process (checked on
 * usearch 2.25: segfault or abort). So before usearch sees a file, its structure is checked
 * here: the footer, the head (magic, version, dimensions, scalar type, counts) and the size
 * the graph's levels imply. Random damage inside the vectors or links passes that check; the
 * sha256 of the whole file, computed in the same pass and compared with the one the catalog
 * recorded at the file's checkpoint, catches it.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { RsclipError } from '../errors.js';
import { fileIdentity } from './file-identity.js';
import { rebuiltFromCatalogHint } from './graph-index.js';
import { IdBitset } from './id-bitset.js';
import type { UsearchMetric } from './usearch-native.js';

export type VectorQuantization = 'f32' | 'f16' | 'i8';

const FOOTER_MAGIC = 'RSCLIPU1';
const FOOTER_BYTES = 32;
const MATRIX_HEADER_BYTES = 8;
const DENSE_HEAD_BYTES = 64;
const GRAPH_HEADER_BYTES = 40;
const USEARCH_MAGIC = 'usearch';
const USEARCH_MAJOR = 2;
/** usearch's scalar kinds (index_plugins.hpp) and their bytes per value. */
const SCALAR: Record<VectorQuantization, { kind: number; bytes: number }> = { f32: { kind: 11, bytes: 4 }, f16: { kind: 12, bytes: 2 }, i8: { kind: 23, bytes: 1 } };
const KEY_KIND_U64 = 14;
const SLOT_KIND_U32 = 15;
/**
 * The metrics a file of each precision may have (see usearchMetricFor), by usearch's kind byte:
 * f16 files written before f16 moved to the cosine have the inner product.
 */
const METRICS: Record<VectorQuantization, readonly UsearchMetric[]> = { f32: ['ip'], f16: ['cos', 'ip'], i8: ['cos'] };
const METRIC_KIND: Record<UsearchMetric, number> = { ip: 'i'.charCodeAt(0), cos: 'c'.charCodeAt(0) };
/** Bytes of a node: key (u64) + level (i16), then per level a u32 count and u32 slots. */
const NODE_HEAD_BYTES = 10;
const MAX_LEVEL = 64;
const READ_CHUNK = 1 << 20;
const HASH_CHUNK_BYTES = 4 << 20;

export interface UsearchFileFacts {
  bytes: number;
  /** sha256 of the whole file, hex. */
  sha256: string;
  identity: string;
  /** Length of usearch's part; the trailer follows. */
  usearchBytes: number;
  live: IdBitset;
  /** Nodes usearch keeps for removed keys (free slots). */
  deleted: number;
  metric: UsearchMetric;
}

function corrupt(file: string, what: string): RsclipError {
  return new RsclipError('INDEX_CORRUPT', `cannot read usearch file ${file}: ${what}`, { hint: rebuiltFromCatalogHint(file) });
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

function sha256OfFile(fd: number, size: number): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK_BYTES, Math.max(1, size)));
  for (let position = 0; position < size; ) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    position += n;
  }
  return hash.digest('hex');
}

/** Appends the trailer (the live ids) to a file usearch has just saved. */
export function appendTrailer(file: string, live: IdBitset): void {
  const fd = openSync(file, 'r+');
  try {
    const usearchBytes = fstatSync(fd).size;
    const words = live.usedWords();
    const footer = Buffer.alloc(FOOTER_BYTES);
    footer.write(FOOTER_MAGIC, 0, 'latin1');
    footer.writeBigUInt64LE(BigInt(usearchBytes), 8);
    footer.writeBigUInt64LE(BigInt(words.length), 16);
    footer.writeBigUInt64LE(BigInt(live.size), 24);
    writeSync(fd, new Uint8Array(words.buffer, words.byteOffset, words.byteLength), 0, words.byteLength, usearchBytes);
    writeSync(fd, footer, 0, FOOTER_BYTES, usearchBytes + words.byteLength);
  } finally {
    closeSync(fd);
  }
}

export interface ReadUsearchFileOptions {
  /** The sha256 already known for a file of this identity (recorded at its checkpoint): the file is then not hashed again. */
  knownSha256?: (identity: string) => string | undefined;
}

/** Checks a file's structure against what the index expects, reads its live ids and hashes it (unless its hash is known). */
export function readUsearchFile(file: string, dim: number, quantization: VectorQuantization, options: ReadUsearchFileOptions = {}): UsearchFileFacts {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (cause) {
    throw new RsclipError('INDEX_CORRUPT', `cannot read usearch file ${file}: ${(cause as Error).message}`, { cause, hint: rebuiltFromCatalogHint(file) });
  }
  try {
    const size = fstatSync(fd).size;
    if (size < FOOTER_BYTES) throw corrupt(file, `${size} bytes is too short`);
    const footer = readExactly(fd, FOOTER_BYTES, size - FOOTER_BYTES);
    if (footer.toString('latin1', 0, 8) !== FOOTER_MAGIC) throw corrupt(file, 'no rsclip trailer at the end');
    const usearchBytes = Number(footer.readBigUInt64LE(8));
    const words = Number(footer.readBigUInt64LE(16));
    const liveCount = Number(footer.readBigUInt64LE(24));
    if (usearchBytes + words * 4 + FOOTER_BYTES !== size) throw corrupt(file, 'the trailer does not match the file size');
    const bits = readExactly(fd, words * 4, usearchBytes);
    const live = new IdBitset(new Uint32Array(bits.buffer, bits.byteOffset, words).slice());
    if (live.size !== liveCount) throw corrupt(file, `the trailer lists ${live.size} live ids, its footer says ${liveCount}`);
    const { deleted, metric } = checkUsearchPart(file, fd, usearchBytes, dim, quantization, liveCount);
    const identity = fileIdentity(fd);
    const sha256 = options.knownSha256?.(identity) ?? sha256OfFile(fd, size);
    return { bytes: size, sha256, identity, usearchBytes, live, deleted, metric };
  } finally {
    closeSync(fd);
  }
}

/** Checks usearch's head and graph sizes; returns the count of deleted nodes and the metric. */
function checkUsearchPart(file: string, fd: number, end: number, dim: number, quantization: VectorQuantization, liveCount: number): { deleted: number; metric: UsearchMetric } {
  const scalar = SCALAR[quantization];
  const matrix = readExactly(fd, MATRIX_HEADER_BYTES, 0);
  if (matrix.length < MATRIX_HEADER_BYTES) throw corrupt(file, 'no vector matrix');
  const rows = matrix.readUInt32LE(0);
  const rowBytes = matrix.readUInt32LE(4);
  if (rowBytes !== dim * scalar.bytes) throw corrupt(file, `vectors of ${rowBytes} bytes, expected ${dim} x ${quantization}`);
  const headAt = MATRIX_HEADER_BYTES + rows * rowBytes;
  if (headAt + DENSE_HEAD_BYTES + GRAPH_HEADER_BYTES > end) throw corrupt(file, `${rows} vectors do not fit in the file`);
  const head = readExactly(fd, DENSE_HEAD_BYTES + GRAPH_HEADER_BYTES, headAt);
  if (head.toString('latin1', 0, 7) !== USEARCH_MAGIC) throw corrupt(file, 'no usearch head after the vectors');
  if (head.readUInt16LE(7) !== USEARCH_MAJOR) throw corrupt(file, `usearch format ${head.readUInt16LE(7)}, expected ${USEARCH_MAJOR}`);
  const metric = METRICS[quantization].find((m) => METRIC_KIND[m] === head[13]);
  if (metric === undefined || head[14] !== scalar.kind || head[15] !== KEY_KIND_U64 || head[16] !== SLOT_KIND_U32) {
    throw corrupt(file, `metric, scalar, key or slot type is not ${METRICS[quantization].join(' or ')}, ${quantization}, u64, u32`);
  }
  const present = Number(head.readBigUInt64LE(17));
  const deleted = Number(head.readBigUInt64LE(25));
  if (Number(head.readBigUInt64LE(33)) !== dim) throw corrupt(file, `dimension ${head.readBigUInt64LE(33)}, expected ${dim}`);
  if (present !== liveCount || present + deleted !== rows) throw corrupt(file, `${present} present and ${deleted} deleted nodes do not match ${rows} vectors and ${liveCount} live ids`);
  const graph = DENSE_HEAD_BYTES;
  const nodes = Number(head.readBigUInt64LE(graph));
  const connectivity = Number(head.readBigUInt64LE(graph + 8));
  const connectivityBase = Number(head.readBigUInt64LE(graph + 16));
  const maxLevel = Number(head.readBigUInt64LE(graph + 24));
  const entry = Number(head.readBigUInt64LE(graph + 32));
  if (nodes !== rows) throw corrupt(file, `${nodes} graph nodes for ${rows} vectors`);
  if (nodes === 0) return { deleted, metric };
  if (connectivity < 2 || connectivity > 4096 || connectivityBase < connectivity || connectivityBase > 8192 || maxLevel >= MAX_LEVEL || entry >= nodes) {
    throw corrupt(file, 'implausible graph header');
  }
  const levelsAt = headAt + DENSE_HEAD_BYTES + GRAPH_HEADER_BYTES;
  let tapeBytes = 0;
  for (let first = 0; first < nodes; first += READ_CHUNK) {
    const count = Math.min(READ_CHUNK, nodes - first);
    const levels = readExactly(fd, count * 2, levelsAt + first * 2);
    if (levels.length < count * 2) throw corrupt(file, 'the node levels are cut short');
    for (let i = 0; i < count; i++) {
      const level = levels.readInt16LE(i * 2);
      if (level < 0 || level > maxLevel) throw corrupt(file, `node ${first + i} has level ${level}, above the maximum ${maxLevel}`);
      tapeBytes += NODE_HEAD_BYTES + 4 + connectivityBase * 4 + level * (4 + connectivity * 4);
    }
  }
  if (levelsAt + nodes * 2 + tapeBytes !== end) throw corrupt(file, `the graph needs ${levelsAt + nodes * 2 + tapeBytes} bytes, the file has ${end}`);
  return { deleted, metric };
}

/** usearch's ceil2: the next power of two, 0 for 0. */
function ceil2(v: number): number {
  return v === 0 ? 0 : 2 ** Math.ceil(Math.log2(v));
}

/** The capacity of usearch's key hash set once it has reserved room for `count` keys (buckets of 64 slots, two thirds of them usable). */
function keySetCapacity(count: number): number {
  if (count === 0) return 0;
  return Math.floor((Math.max(64, ceil2(Math.ceil((count * 3) / 2))) * 2) / 3);
}

/**
 * Whether usearch (2.25) can load or view a file of `live` vectors and `deleted` removed nodes.
 * Its loader sizes the table of every node's vector to the key set it reserves for the live
 * vectors alone, then copies the table of all the nodes, removed ones included, into it: where
 * removed nodes are many (a file whose every vector was removed, or most of them), that copy
 * runs past the table and corrupts the heap (glibc then aborts the process). The caller rebuilds
 * such a graph from the catalog instead of loading it.
 */
export function usearchReloadsSafely(live: number, deleted: number): boolean {
  const afterKeys = keySetCapacity(live);
  const reserved = ceil2(live) <= afterKeys ? afterKeys : keySetCapacity(ceil2(live));
  return reserved >= live + deleted;
}
