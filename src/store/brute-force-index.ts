/**
 * Exact nearest neighbours by scanning every vector: the recall oracle for HNSW and the
 * search used for very selective filters. Cosine similarity on unit vectors (normalised on add).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { RsclipError } from '../errors.js';
import type { ScoredId, VectorIndex } from './types.js';
import { unitVector, checkDim, TopK } from './vector-math.js';

const MAGIC = 0x46425352; // "RSBF" little-endian

export class BruteForceIndex implements VectorIndex {
  readonly dim: number;
  private slots = new Map<number, number>();
  private slotIds: number[] = [];
  private data: Float32Array;

  constructor(dim: number, initialCapacity = 1024) {
    this.dim = dim;
    this.data = new Float32Array(dim * Math.max(1, initialCapacity));
  }

  get size(): number {
    return this.slots.size;
  }

  add(id: number, vector: Float32Array): void {
    checkDim(vector, this.dim);
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.slotIds.length;
      if ((slot + 1) * this.dim > this.data.length) {
        const grown = new Float32Array(this.data.length * 2);
        grown.set(this.data);
        this.data = grown;
      }
      this.slots.set(id, slot);
      this.slotIds.push(id);
    }
    this.data.set(unitVector(vector), slot * this.dim);
  }

  markDeleted(id: number): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    // move the last vector into the freed slot so that a scan touches live vectors only
    const lastSlot = this.slotIds.length - 1;
    const lastId = this.slotIds[lastSlot]!;
    if (slot !== lastSlot) {
      this.data.copyWithin(slot * this.dim, lastSlot * this.dim, (lastSlot + 1) * this.dim);
      this.slotIds[slot] = lastId;
      this.slots.set(lastId, slot);
    }
    this.slotIds.pop();
    this.slots.delete(id);
  }

  has(id: number): boolean {
    return this.slots.has(id);
  }

  ids(): number[] {
    return [...this.slotIds].sort((a, b) => a - b);
  }

  searchBestFirst(query: Float32Array, k: number, options: { filter?: (id: number) => boolean } = {}): ScoredId[] {
    checkDim(query, this.dim);
    const q = unitVector(query);
    const top = new TopK(k);
    const { dim, data, slotIds } = this;
    const filter = options.filter;
    for (let slot = 0; slot < slotIds.length; slot++) {
      const id = slotIds[slot]!;
      if (filter && !filter(id)) continue;
      let dot = 0;
      const base = slot * dim;
      for (let i = 0; i < dim; i++) dot += q[i]! * data[base + i]!;
      top.offer(id, dot);
    }
    return top.bestFirst();
  }

  /** Format: u32 magic, u32 dim, u32 count, then count x (f64 id, dim x f32). */
  async save(file: string): Promise<void> {
    const count = this.slotIds.length;
    const buf = Buffer.alloc(12 + count * (8 + 4 * this.dim));
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(this.dim, 4);
    buf.writeUInt32LE(count, 8);
    let offset = 12;
    for (let slot = 0; slot < count; slot++) {
      buf.writeDoubleLE(this.slotIds[slot]!, offset);
      offset += 8;
      const vec = this.data.subarray(slot * this.dim, (slot + 1) * this.dim);
      Buffer.from(vec.buffer, vec.byteOffset, vec.byteLength).copy(buf, offset);
      offset += 4 * this.dim;
    }
    await writeFile(file, buf);
  }

  static async load(file: string): Promise<BruteForceIndex> {
    const buf = await readFile(file);
    if (buf.length < 12 || buf.readUInt32LE(0) !== MAGIC) {
      throw new RsclipError('INDEX_CORRUPT', `${file} is not a brute-force vector file (bad magic number)`);
    }
    const dim = buf.readUInt32LE(4);
    const count = buf.readUInt32LE(8);
    if (buf.length !== 12 + count * (8 + 4 * dim)) {
      throw new RsclipError('INDEX_CORRUPT', `${file} is truncated: expected ${12 + count * (8 + 4 * dim)} bytes, found ${buf.length}`);
    }
    const index = new BruteForceIndex(dim, count);
    let offset = 12;
    for (let i = 0; i < count; i++) {
      const id = buf.readDoubleLE(offset);
      offset += 8;
      const vec = new Float32Array(dim);
      Buffer.from(vec.buffer).set(buf.subarray(offset, offset + 4 * dim));
      offset += 4 * dim;
      index.add(id, vec);
    }
    return index;
  }
}
