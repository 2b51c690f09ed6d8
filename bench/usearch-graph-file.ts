/**
 * Reads and writes the graph of an rsclip usearch file (src/store/usearch-file.ts: usearch's own
 * serialisation, then rsclip's live-id trailer, kept here byte for byte), so that a bench can
 * replace the base-layer edges of a saved index. The layout, as usearch 2.25 writes it
 * (index_dense_gt::save_to_stream, then index_gt::save_to_stream):
 *
 *   [u32 rows][u32 bytes per vector]                  index_dense.hpp (32-bit dimensions)
 *   rows x vector bytes, by slot
 *   64-byte dense head ("usearch", version, metric, scalar kind, key/slot kinds, counts, dims)
 *   u64 size, connectivity, connectivity_base, max_level, entry_slot   index.hpp index_serialized_header_t
 *   size x i16: the level of each node
 *   per node, by slot: u64 key, i16 level, then [u32 count][connectivity_base x u32 slot]
 *     for the base layer and [u32 count][connectivity x u32 slot] for each upper level
 *
 * Unused neighbour slots are zero (usearch zero-fills a new node), so a parsed file written back
 * is byte-identical, which the bench checks before trusting a rewrite.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readUsearchFile, type VectorQuantization } from '../src/store/usearch-file.js';

const MATRIX_HEADER_BYTES = 8;
const DENSE_HEAD_BYTES = 64;
const GRAPH_HEADER_FIELDS = 5;
const NODE_HEAD_BYTES = 10;

export interface UsearchGraph {
  /** Everything before the graph header (vector matrix and dense head), kept as read. */
  prefix: Buffer;
  connectivity: number;
  connectivityBase: number;
  maxLevel: number;
  entrySlot: number;
  /** Per slot: its key, level, base-layer neighbours and upper-level neighbours (upper[slot][level - 1]). */
  keys: BigUint64Array;
  levels: Int16Array;
  base: Uint32Array[];
  upper: Uint32Array[][];
  /** rsclip's trailer (live-id bitset and footer), kept as read. */
  trailer: Buffer;
}

export function readUsearchGraph(file: string, dim: number, quantization: VectorQuantization): UsearchGraph {
  const { usearchBytes } = readUsearchFile(file, dim, quantization);
  const bytes = readFileSync(file);
  const rows = bytes.readUInt32LE(0);
  const vectorBytes = bytes.readUInt32LE(4);
  let at = MATRIX_HEADER_BYTES + rows * vectorBytes + DENSE_HEAD_BYTES;
  const prefix = bytes.subarray(0, at);
  const u64 = (): number => {
    const value = Number(bytes.readBigUInt64LE(at));
    at += 8;
    return value;
  };
  const [size, connectivity, connectivityBase, maxLevel, entrySlot] = Array.from({ length: GRAPH_HEADER_FIELDS }, u64) as [number, number, number, number, number];
  const levels = new Int16Array(size);
  for (let slot = 0; slot < size; slot++, at += 2) levels[slot] = bytes.readInt16LE(at);
  const list = (capacity: number): Uint32Array => {
    const count = bytes.readUInt32LE(at);
    if (count > capacity) throw new Error(`${file}: ${count} neighbours in a list of ${capacity} at byte ${at}`);
    const out = new Uint32Array(count);
    for (let j = 0; j < count; j++) out[j] = bytes.readUInt32LE(at + 4 + 4 * j);
    at += 4 + 4 * capacity;
    return out;
  };
  const keys = new BigUint64Array(size);
  const base: Uint32Array[] = [];
  const upper: Uint32Array[][] = [];
  for (let slot = 0; slot < size; slot++) {
    keys[slot] = bytes.readBigUInt64LE(at);
    if (bytes.readInt16LE(at + 8) !== levels[slot]) throw new Error(`${file}: node ${slot} disagrees with the level table`);
    at += NODE_HEAD_BYTES;
    base.push(list(connectivityBase));
    upper.push(Array.from({ length: levels[slot]! }, () => list(connectivity)));
  }
  if (at !== usearchBytes) throw new Error(`${file}: the graph ends at byte ${at}, usearch's part at ${usearchBytes}`);
  return { prefix, connectivity, connectivityBase, maxLevel, entrySlot, keys, levels, base, upper, trailer: bytes.subarray(at) };
}

export function writeUsearchGraph(graph: UsearchGraph, file: string): void {
  const { connectivity, connectivityBase, levels } = graph;
  const size = levels.length;
  let total = graph.prefix.length + 8 * GRAPH_HEADER_FIELDS + 2 * size + graph.trailer.length;
  for (const level of levels) total += NODE_HEAD_BYTES + 4 + 4 * connectivityBase + level * (4 + 4 * connectivity);
  const bytes = Buffer.alloc(total);
  let at = graph.prefix.copy(bytes, 0);
  for (const value of [size, connectivity, connectivityBase, graph.maxLevel, graph.entrySlot]) at = bytes.writeBigUInt64LE(BigInt(value), at);
  for (const level of levels) at = bytes.writeInt16LE(level, at);
  const list = (neighbours: Uint32Array, capacity: number): void => {
    if (neighbours.length > capacity) throw new Error(`${neighbours.length} neighbours do not fit a list of ${capacity}`);
    bytes.writeUInt32LE(neighbours.length, at);
    neighbours.forEach((slot, j) => bytes.writeUInt32LE(slot, at + 4 + 4 * j));
    at += 4 + 4 * capacity;
  };
  for (let slot = 0; slot < size; slot++) {
    at = bytes.writeBigUInt64LE(graph.keys[slot]!, at);
    at = bytes.writeInt16LE(levels[slot]!, at);
    list(graph.base[slot]!, connectivityBase);
    for (const neighbours of graph.upper[slot]!) list(neighbours, connectivity);
  }
  graph.trailer.copy(bytes, at);
  writeFileSync(file, bytes);
}
