/**
 * The ANN engines of the embedded back end, behind one factory. The engine is chosen when an
 * index is created and recorded in its meta (`engine` plus its build parameters); an index
 * naming an engine this rsclip lacks is refused rather than guessed at.
 */
import { RsclipError } from '../errors.js';
import { checkHnswFile } from './hnsw-file-check.js';
import { describeCheckFailure, graphFileCorrupt, HnswIndex, MAX_ITEM_ID } from './hnsw-index.js';
import type { VectorIndex } from './types.js';

export type EngineName = 'hnswlib';

/** hnswlib's build parameters (see docs/params.md). */
export interface HnswParams {
  M: number;
  efConstruction: number;
  seed: number;
}

export type EngineSpec = { name: 'hnswlib' } & HnswParams;

/** The largest item id the engines can label (hnswlib's labels keep versions of an item above it). */
export const ITEM_ID_LIMIT = MAX_ITEM_ID;

export const DEFAULT_ENGINE: EngineSpec = { name: 'hnswlib', M: 16, efConstruction: 200, seed: 100 };

/** What a checkpoint wrote, as read back from the disk. */
export interface GraphFileDigest {
  bytes: number;
  sha256: string;
}

/** A VectorIndex kept in a file next to the catalog (derived from it, rebuildable). */
export interface GraphIndex extends VectorIndex {
  /** The stored (normalised) vector of a live id. */
  getPoint(id: number): Float32Array | undefined;
  /** Points stored, deleted ones included. */
  readonly storedCount: number;
  /** Writes the whole index to `file` (callers rename into place), verified on the disk: its size and sha256. */
  save(file: string): Promise<GraphFileDigest>;
  /** Engine numbers for stats. */
  details(): Record<string, number>;
}

export function createGraph(spec: EngineSpec, dim: number, capacity: number): GraphIndex {
  return HnswIndex.create(dim, spec, capacity);
}

/**
 * Loads a graph file after checking its structure and letting `accept` judge its digest (it
 * returns why the file is refused, or undefined); a damaged or refused file is INDEX_CORRUPT.
 */
export function loadGraph(spec: EngineSpec, file: string, dim: number, accept?: (digest: GraphFileDigest) => string | undefined): GraphIndex {
  return HnswIndex.load(file, dim, { M: spec.M, ...(accept ? { accept } : {}) });
}

/** Size and sha256 of a graph file, after checking that the engine could load it safely; damage is INDEX_CORRUPT. */
export function checkGraphFile(spec: EngineSpec, file: string, dim: number): GraphFileDigest {
  try {
    const { bytes, sha256 } = checkHnswFile(file, { dim, M: spec.M });
    return { bytes, sha256 };
  } catch (cause) {
    throw graphFileCorrupt(file, describeCheckFailure(cause), cause);
  }
}

/** The catalog meta keys of an engine spec. */
export function engineToMeta(spec: EngineSpec): Record<string, string | number> {
  return { engine: spec.name, hnsw_m: spec.M, hnsw_ef_construction: spec.efConstruction, hnsw_seed: spec.seed };
}

/** The engine an index records; an index from before `engine` was recorded used hnswlib. */
export function engineFromMeta(meta: ReadonlyMap<string, string>, location: string): EngineSpec {
  const name = meta.get('engine') ?? 'hnswlib';
  if (name !== 'hnswlib') {
    throw new RsclipError('INDEX_INCOMPATIBLE', `index ${location} uses the vector engine "${name}"; this rsclip has hnswlib`, { hint: 'update rsclip' });
  }
  return { name, M: Number(meta.get('hnsw_m')), efConstruction: Number(meta.get('hnsw_ef_construction')), seed: Number(meta.get('hnsw_seed')) };
}
