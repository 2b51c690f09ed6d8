/**
 * The contract of a graph engine of the embedded back end: a VectorIndex kept in a file next to
 * the catalog (derived from it, rebuildable), and the build parameters the engines share.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { VectorIndex } from './types.js';
import type { VectorQuantization } from './usearch-file.js';

export type { VectorQuantization } from './usearch-file.js';

/** Graph search breadth when a search names none. */
export const DEFAULT_EF = 64;

/** A stored vector is the same as another when their cosine is this close to 1 (the error of the precision it is stored at). */
export const SAME_VECTOR_TOLERANCE: Record<VectorQuantization, number> = { f32: 1e-4, f16: 1e-3, i8: 2e-2 };

/** HNSW build parameters both engines have (see docs/params.md). */
export interface GraphParams {
  /** Links per node (usearch calls it connectivity); layer 0 has 2M. */
  M: number;
  /** Candidate list while inserting (usearch: expansion_add). */
  efConstruction: number;
}

/** hnswlib: float32 vectors; its level assignment is seeded, so a build is reproducible. */
export interface HnswParams extends GraphParams {
  seed: number;
}

/** usearch: vectors stored at this precision (cosine at f16 is within ~1e-3 of float32). */
export interface UsearchParams extends GraphParams {
  quantization: VectorQuantization;
}

/** What a checkpoint wrote, as read back from the disk. */
export interface GraphFileDigest {
  bytes: number;
  sha256: string;
  /** The file's identity on the disk (see file-identity.ts). */
  identity: string;
}

export interface LoadGraphOptions {
  /** Judges the file's digest: returns why the file is refused, or undefined. */
  accept?: (digest: GraphFileDigest) => string | undefined;
  /** The sha256 recorded for a file of this identity, if any: such a file is not hashed again (usearch, ivf; hnswlib's reader hashes as it reads). */
  knownSha256?: (identity: string) => string | undefined;
  /** Serve the file memory-mapped and read-only where the engine can (usearch); changes then stay in memory. */
  mapped?: boolean;
}

/** A graph file that could not be written completely (a full disk, an I/O error). */
export class GraphWriteError extends Error {
  override readonly name = 'GraphWriteError';
}

/** The hint of every INDEX_CORRUPT about an engine's file: what happens to it and how to make it happen now. */
export function rebuiltFromCatalogHint(file: string): string {
  return `it is rebuilt from catalog.sqlite: run \`rsclip doctor --index ${path.dirname(file)}\``;
}

/** INDEX_CORRUPT for a damaged graph file (an HNSW graph, or the ivf engine's lists), saying why and that it is rebuilt. */
export function graphFileCorrupt(file: string, why: string, cause?: unknown, kind: 'HNSW' | 'ivf' = 'HNSW'): RsclipError {
  return new RsclipError('INDEX_CORRUPT', `${kind} file ${file} is damaged: ${why}`, { hint: rebuiltFromCatalogHint(file), cause });
}

/** Flushes a written file to the disk. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface GraphIndex extends VectorIndex {
  /** The precision of the scores a search returns: float32 cosines, or those of vectors kept at f16 or i8 (the store re-ranks these on its own copies). */
  readonly scorePrecision: VectorQuantization;
  /**
   * Why a writer should build this graph again from the catalog: a file of an older rsclip that
   * searches worse (undefined when there is no such reason).
   */
  readonly outdated?: string;
  /**
   * Whether `id` is live with this vector, within the precision the engine stores vectors at.
   * usearch (no read by key) answers by a search for the vector restricted to `id`: a node its
   * graph does not reach reads as another vector.
   */
  stores(id: number, vector: Float32Array): boolean;
  /** Adds or replaces many vectors (an engine may use several cores). */
  addMany(entries: Iterable<readonly [number, Float32Array]>): void;
  /** Points stored, deleted ones included. */
  readonly storedCount: number;
  /** Writes the whole index to `file` (callers rename into place), verified on the disk: its size and sha256. */
  save(file: string): Promise<GraphFileDigest>;
  /** Engine numbers for stats. */
  details(): Record<string, number>;
  /** Why the graph can no longer answer every search (an engine that reads its file after the open, ivf, could not): a reader opens the file again. */
  readonly damage?: string;
  /** Stops what the graph still does with its file in the background and lets go of it (its store closes, or a newer file replaces it). */
  release?(): void;
}
