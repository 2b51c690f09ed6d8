/**
 * Approximate nearest neighbours with hnswlib (cosine space, label = item id).
 * Build parameters (M, efConstruction, seed) are fixed at creation; `ef` is per search.
 * hnswlib-node takes plain arrays, so vectors are converted at this boundary.
 */
import hnswlib from 'hnswlib-node';
import { open } from 'node:fs/promises';
import { RsclipError } from '../errors.js';
import { checkLength, compareBestFirst, type ScoredId } from '../vector-math.js';
import type { GraphIndex, HnswParams } from './engines.js';
import { checkHnswFile, HnswFileError, type HnswFileReport } from './hnsw-file-check.js';

export const DEFAULT_EF = 64;
const MIN_CAPACITY = 1024;

/** A graph file that could not be written completely (a full disk, an I/O error). */
export class GraphWriteError extends Error {
  override readonly name = 'GraphWriteError';
}

/** INDEX_CORRUPT for a damaged graph file, saying why and that it is rebuilt. */
export function graphFileCorrupt(file: string, why: string, cause?: unknown): RsclipError {
  return new RsclipError('INDEX_CORRUPT', `HNSW file ${file} is damaged: ${why}`, {
    hint: 'it is rebuilt from catalog.sqlite: run `rsclip doctor --index <dir>`',
    cause,
  });
}

export function describeCheckFailure(cause: unknown): string {
  return cause instanceof HnswFileError ? cause.message : `cannot read it: ${(cause as Error).message}`;
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class HnswIndex implements GraphIndex {
  readonly dim: number;
  private readonly native: hnswlib.HierarchicalNSW;
  /** Labels present and not marked deleted (hnswlib cannot list these itself). */
  private readonly live: Set<number>;

  private constructor(dim: number, native: hnswlib.HierarchicalNSW, live: Set<number>) {
    this.dim = dim;
    this.native = native;
    this.live = live;
  }

  static create(dim: number, params: HnswParams, capacity = MIN_CAPACITY): HnswIndex {
    const native = new hnswlib.HierarchicalNSW('cosine', dim);
    native.initIndex({
      maxElements: Math.max(MIN_CAPACITY, capacity),
      m: params.M,
      efConstruction: params.efConstruction,
      randomSeed: params.seed,
    });
    return new HnswIndex(dim, native, new Set());
  }

  /**
   * Loads a saved index, after checking that hnswlib can read it safely (its structure) and that
   * `accept` takes its size and sha256 (it returns why not, if not). Labels the file marks
   * deleted stay deleted.
   */
  static load(file: string, dim: number, expected: { M?: number; accept?: (digest: HnswFileReport) => string | undefined } = {}): HnswIndex {
    let report: HnswFileReport;
    try {
      report = checkHnswFile(file, { dim, ...(expected.M === undefined ? {} : { M: expected.M }) });
    } catch (cause) {
      throw graphFileCorrupt(file, describeCheckFailure(cause), cause);
    }
    const refusal = expected.accept?.(report);
    if (refusal !== undefined) throw graphFileCorrupt(file, refusal);
    const native = new hnswlib.HierarchicalNSW('cosine', dim);
    try {
      native.readIndexSync(file);
    } catch (cause) {
      throw graphFileCorrupt(file, (cause as Error).message, cause);
    }
    const live = new Set(native.getIdsList());
    for (const label of report.deletedLabels) live.delete(label);
    return new HnswIndex(dim, native, live);
  }

  get size(): number {
    return this.live.size;
  }

  /** Points stored in the graph, deleted ones included. */
  get storedCount(): number {
    return this.native.getCurrentCount();
  }

  details(): Record<string, number> {
    return { size: this.live.size, deleted: this.storedCount - this.live.size, capacity: this.native.getMaxElements() };
  }

  add(id: number, vector: Float32Array): void {
    checkLength(vector, this.dim, 'INDEX_INCOMPATIBLE');
    const stored = this.native.getCurrentCount();
    if (!this.live.has(id) && stored >= this.native.getMaxElements()) {
      this.native.resizeIndex(Math.max(MIN_CAPACITY, Math.ceil(stored * 1.5)));
    }
    this.native.addPoint(Array.from(vector), id);
    this.live.add(id);
  }

  markDeleted(id: number): void {
    try {
      this.native.markDelete(id);
    } catch {
      // unknown or already deleted: the desired state holds
    }
    this.live.delete(id);
  }

  has(id: number): boolean {
    return this.live.has(id);
  }

  ids(): number[] {
    return [...this.live].sort((a, b) => a - b);
  }

  /** The stored vector (hnswlib keeps it normalised), or undefined if absent or deleted. */
  getPoint(id: number): Float32Array | undefined {
    if (!this.live.has(id)) return undefined;
    return Float32Array.from(this.native.getPoint(id));
  }

  searchBestFirst(query: Float32Array, k: number, options: { ef?: number; filter?: (id: number) => boolean } = {}): ScoredId[] {
    checkLength(query, this.dim, 'BAD_QUERY');
    const wanted = Math.min(Math.floor(k), this.live.size);
    if (wanted <= 0) return [];
    this.native.setEf(Math.max(options.ef ?? DEFAULT_EF, wanted));
    const result = this.native.searchKnn(Array.from(query), wanted, options.filter);
    // hnswlib returns farthest first in some versions; order explicitly
    return result.neighbors.map((id, i) => ({ id, score: 1 - result.distances[i]! })).sort(compareBestFirst);
  }

  /**
   * Writes the index to `file`, flushes it to the disk and reads it back: hnswlib reports no write
   * error (a full disk leaves a short file), so what is on the disk is checked before anyone
   * relies on it. Returns its size and sha256.
   */
  async save(file: string): Promise<HnswFileReport> {
    await this.native.writeIndex(file);
    await syncFile(file);
    let report: HnswFileReport;
    try {
      report = checkHnswFile(file, { dim: this.dim });
    } catch (cause) {
      throw new GraphWriteError(`the file written is incomplete or damaged: ${(cause as Error).message}`, { cause });
    }
    if (report.elements !== this.storedCount) throw new GraphWriteError(`the file written holds ${report.elements} elements, the index ${this.storedCount}`);
    return report;
  }
}
