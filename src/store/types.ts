/**
 * The public shapes of the on-disk index (see DESIGN.md "The index directory").
 * SQLite (`catalog.sqlite`) is the truth; `vectors.hnsw` is derived from it.
 */
import type { ModelInfo } from '../model/index.js';

export type ImageStatus = 'ok' | 'error' | 'removed';

/** Build parameters of the HNSW graph, fixed when the index is created. */
export interface HnswParams {
  M: number;
  efConstruction: number;
  seed: number;
}

export interface IndexMeta {
  schemaVersion: number;
  modelId: string;
  modelFingerprint: string;
  embeddingDim: number;
  metric: 'cosine';
  hnsw: HnswParams;
  createdAt: string;
  /** Model directory and variant of the last update: the default model for queries. */
  modelDir: string | undefined;
  modelVariant: string | undefined;
}

/** One archive file as the catalog knows it. */
export interface ImageRecord {
  /** images.id, also the HNSW label. */
  id: number;
  /** Absolute path of the archive root the file was found under. */
  root: string;
  /** Path relative to `root`, with forward slashes. */
  path: string;
  absolutePath: string;
  /** Base name of the file; user fields are keyed by it. */
  fileName: string;
  bytes: number;
  mtimeMs: number;
  /** sha256 of the file's bytes, hex; empty when the file could not be read. */
  contentHash: string;
  width: number | null;
  height: number | null;
  format: string | null;
  status: ImageStatus;
  error: string | null;
  /** Epoch milliseconds of the last change of this row. */
  indexedAt: number;
}

/** What the indexer writes for one file; the store assigns `id`. */
export interface NewImage {
  root: string;
  path: string;
  bytes: number;
  mtimeMs: number;
  contentHash: string;
  width: number | null;
  height: number | null;
  format: string | null;
}

/**
 * One change inside an atomic commit:
 * - `put`: the file is a good image with this unit vector (new, changed, or reused by content hash);
 * - `touch`: size/mtime changed but the content hash did not, so the vector stays;
 * - `fail`: the file could not be read as an image; its vector (if any) is dropped;
 * - `remove`: the file is gone; its row stays with status `removed`, its vector is dropped.
 */
export type CatalogChange =
  | { kind: 'put'; image: NewImage; vector: Float32Array }
  | { kind: 'touch'; id: number; bytes: number; mtimeMs: number }
  | { kind: 'fail'; image: NewImage; error: string }
  | { kind: 'remove'; id: number };

/** What change detection needs per known file, fetched in bulk per root. */
export interface KnownFile {
  id: number;
  bytes: number;
  mtimeMs: number;
  contentHash: string;
  status: ImageStatus;
}

export type FieldValue = string | number;

/** Filters over the catalog; all given conditions must hold. Only `ok` images match. */
export interface CatalogFilter {
  /** picomatch glob over the path relative to its root, e.g. `airport_*.jpg` or `**\/2020/**`. */
  pathGlob?: string;
  /** Relative folder prefix: `a/b` matches `a/b/x.jpg` and `a/b/c/y.jpg`. */
  folder?: string;
  /** Formats as sharp names them (`jpeg`, `png`, `tiff`, ...). */
  formats?: string[];
  minBytes?: number;
  maxBytes?: number;
  modifiedAfter?: Date;
  modifiedBefore?: Date;
  minWidth?: number;
  minHeight?: number;
  /** User fields: a value, any of several values, or a numeric range (inclusive). */
  fields?: Record<string, FieldValue | FieldValue[] | { min?: number; max?: number }>;
}

export interface SearchOptions {
  /** HNSW search breadth (>= k is used); higher = better recall, slower. Default 64. */
  ef?: number;
  /** Scan every vector instead of the HNSW graph (the recall oracle). */
  exact?: boolean;
  /** Only these ids may be returned. A very selective set is searched exactly. */
  allowedIds?: Set<number> | ((id: number) => boolean);
}

export interface ScoredId {
  id: number;
  /** Cosine similarity in [-1, 1]. */
  score: number;
}

export interface FieldImportSummary {
  file: string;
  /** Records (lines) read from the sidecar. */
  records: number;
  /** Distinct field names seen. */
  fields: string[];
  /** Records whose file name matches no image currently in the catalog (they are kept anyway). */
  unmatched: number;
}

export interface IndexStats {
  dir: string;
  images: { ok: number; error: number; removed: number };
  vectors: number;
  hnsw: { size: number; deleted: number; capacity: number };
  bytesOnDisk: { catalog: number; hnsw: number };
}

/** What `verify` found and what it did about it. */
export interface VerifyReport {
  ok: boolean;
  checked: { images: number; vectors: number; hnswLabels: number };
  /** Problems found and fixed. */
  repaired: string[];
  /** Problems found that need the user (e.g. vectors of the wrong length). */
  unrepaired: string[];
}

export interface OpenIndexOptions {
  /** Required to create or update; for an existing index its fingerprint must match. */
  model?: ModelInfo;
  /** Create the index when `dir` holds none (needs `model`). */
  create?: boolean;
  /** Open for reading only: no write lock, no writes; others may index meanwhile. */
  readonly?: boolean;
  /** Build parameters used only when the index is created. */
  hnsw?: Partial<HnswParams>;
}

export interface IndexStore {
  readonly dir: string;
  readonly meta: IndexMeta;
  readonly readonly: boolean;

  countImages(status?: ImageStatus): number;
  getImage(id: number): ImageRecord | undefined;
  /** Records in the order of `ids`; unknown ids are left out. */
  getImages(ids: number[]): ImageRecord[];
  findImageByPath(absolutePath: string): ImageRecord | undefined;
  getVector(id: number): Float32Array | undefined;
  /** Every stored vector of an `ok` image, in id order. */
  forEachVector(callback: (id: number, vector: Float32Array) => void): void;
  /** The k most similar `ok` images, best first. */
  searchBestFirst(query: Float32Array, k: number, options?: SearchOptions): ScoredId[];
  /** Ids of `ok` images matching the filter, ascending. */
  filterIds(filter: CatalogFilter): number[];
  getFields(ids: number[]): Map<number, Record<string, FieldValue | FieldValue[]>>;
  /** Imports a CSV/TSV/JSONL sidecar keyed by file name (column/key `filename`, `file_name`, `file` or `name`). */
  importFields(file: string): Promise<FieldImportSummary>;
  stats(): IndexStats;
  /** Picks up what another process committed since open (readers call it to see new images). */
  refresh(): void;

  // writing (the indexer); each throws if opened readonly
  knownFiles(root: string): Map<string, KnownFile>;
  /** An `ok` image with this content hash and its vector (for renamed/duplicate files). */
  findVectorByContentHash(contentHash: string): { id: number; vector: Float32Array } | undefined;
  /** Applies the changes in one SQLite transaction and to the in-memory HNSW; returns the ids written, in order. */
  commit(changes: CatalogChange[]): number[];
  /** Writes the HNSW file (temp file + rename) so that the next open has nothing to replay. */
  checkpoint(): Promise<void>;
  /** Checks catalog, vectors and HNSW agree; repairs what it can. */
  verify(): Promise<VerifyReport>;

  close(): Promise<void>;
}

/** The nearest-neighbour structure behind an index: brute force (exact) or HNSW (approximate). */
export interface VectorIndex {
  readonly dim: number;
  /** Number of live (not deleted) vectors. */
  readonly size: number;
  /** Adds or replaces the vector of `id` (un-deleting it). */
  add(id: number, vector: Float32Array): void;
  /** Soft delete; unknown or already deleted ids are ignored. */
  markDeleted(id: number): void;
  has(id: number): boolean;
  /** Live ids. */
  ids(): number[];
  searchBestFirst(query: Float32Array, k: number, options?: { ef?: number; filter?: (id: number) => boolean }): ScoredId[];
  /** Writes the whole index to `file` (callers rename into place). */
  save(file: string): Promise<void>;
}
