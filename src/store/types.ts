/**
 * The storage contract (DESIGN.md "Storage back ends and engines"): one async `IndexStore`
 * that every back end implements; the embedded one (catalog.sqlite + a graph file) is the
 * only one so far.
 *
 * Words: a *file* is a catalog row, what the scan finds (path, size, hash, status); an *item*
 * is what is embedded and searched, and a search hit is an item of a file. Today every file
 * has exactly one item, the whole image, with the same id; scenes will give a file many.
 * Item ids are the labels of the vector index and are never reused.
 */
import type { ModelInfo } from '../model/index.js';
import type { ScoredId } from '../vector-math.js';
import type { EngineChoice, EngineSpec } from './engines.js';
import type { CatalogFilter } from './filter.js';

export type { ScoredId } from '../vector-math.js';

export type FileStatus = 'ok' | 'error' | 'removed';

export interface IndexMeta {
  /** Schema version of the catalog as it is (an older catalog may be read as is). */
  schemaVersion: number;
  modelId: string;
  modelFingerprint: string;
  embeddingDim: number;
  metric: 'cosine';
  /** The vector engine and its build parameters, fixed when the index is created. */
  engine: EngineSpec;
  createdAt: string;
  /** Model directory and variant of the last update: the default model for queries. */
  modelDir: string | undefined;
  modelVariant: string | undefined;
}

/** One archive file as the catalog knows it. */
export interface FileRecord {
  /** The file's id; today also the id of its one item. */
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
  status: FileStatus;
  error: string | null;
  /** Epoch milliseconds of the last change of this row. */
  indexedAt: number;
}

/** A searchable unit: today the whole image of its file. */
export interface ItemRecord {
  /** The label in the vector index, never reused. */
  id: number;
  file: FileRecord;
}

/** What the indexer writes for one file; the store assigns the ids. */
export interface NewFile {
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
 * One change inside an atomic commit. Each is keyed, so applying a commit twice leaves the
 * index as applying it once: `put` and `fail` on the file's (root, path), which also keys its
 * one item; `touch` and `remove` on the file id.
 * - `put`: the file is a good image with this unit vector (new, changed, or reused by content hash);
 * - `touch`: size/mtime changed but the content hash did not, so the vector stays;
 * - `fail`: the file could not be read as an image; its vector (if any) is dropped;
 * - `remove`: the file is gone; its row stays with status `removed`, its vector is dropped.
 */
export type CatalogChange =
  | { kind: 'put'; file: NewFile; vector: Float32Array }
  | { kind: 'touch'; fileId: number; bytes: number; mtimeMs: number }
  | { kind: 'fail'; file: NewFile; error: string }
  | { kind: 'remove'; fileId: number };

/** What change detection needs per known file, fetched in bulk per root. */
export interface KnownFile {
  id: number;
  bytes: number;
  mtimeMs: number;
  contentHash: string;
  status: FileStatus;
  /** Queued for embedding again (by `verify`) whatever its size and mtime say. */
  needsEmbedding: boolean;
}

/** A stored vector of identical content, and the image facts that go with it (renamed/duplicate files). */
export interface ReusableVector {
  itemId: number;
  vector: Float32Array;
  width: number | null;
  height: number | null;
  format: string | null;
}

export type FieldValue = string | number;

/** User fields of one file name (parsed from a sidecar by the indexer). */
export interface FieldRecord {
  fileName: string;
  /** Field name -> its values; an empty list clears the field. */
  fields: Map<string, FieldValue[]>;
}

export interface FieldImportSummary {
  records: number;
  /** Distinct field names seen. */
  fields: string[];
  /** Records whose file name matches no file currently in the catalog (they are kept anyway). */
  unmatched: number;
}

/** Which searchable items a search or count may consider (all conditions hold). */
export interface ItemSelection {
  filter?: CatalogFilter;
  /** Items never returned (e.g. the item a "more like this" query starts from). */
  excludeIds?: readonly number[];
  /** Only these items (e.g. the evaluated images of a larger index). */
  onlyIds?: readonly number[];
}

export interface SearchOptions extends ItemSelection {
  /** Graph search breadth (>= k is used); higher = better recall, slower. */
  ef?: number;
  /** Compare with every selected vector instead of walking the graph (the recall oracle). */
  exact?: boolean;
}

export interface StoreDescription {
  /** The back end, e.g. `embedded` (catalog.sqlite + a graph file). */
  backend: 'embedded';
  /** Where the index lives, for messages: a directory, or a URL without credentials. */
  location: string;
  /** The local folder the index occupies (a scan skips it); absent for a server back end. */
  directory?: string;
}

export interface IndexStats {
  location: string;
  /** Files by status ("images" in the JSON users see). */
  images: { ok: number; error: number; removed: number };
  vectors: number;
  /** Numbers only this back end has (graph size, bytes on disk, ...). */
  details: Record<string, unknown>;
}

/** What `verify` found and what it did about it. */
export interface VerifyReport {
  ok: boolean;
  checked: { images: number; vectors: number; hnswLabels: number };
  /** Problems found and fixed. */
  repaired: string[];
  /** Problems found that need the user (e.g. a failed integrity check). */
  unrepaired: string[];
}

export interface OpenIndexOptions {
  /** Required to create an index; when given, the index's model must be this one (and it is recorded as the last used). */
  model?: ModelInfo;
  /** Create the index when none exists (needs `model`). */
  create?: boolean;
  /** Open for reading only: no write lock, no writes; others may index meanwhile. */
  readonly?: boolean;
  /** Engine and build parameters, used only when the index is created (defaults: DEFAULT_ENGINE's). */
  engine?: EngineChoice;
  /** Embedded back end: how often a reader looks for commits of another process (default 1000 ms). */
  refreshIntervalMs?: number;
  /** Embedded back end: how often commits also write the graph file (default 30 s, stretched for large graphs). */
  checkpointIntervalMs?: number;
}

export interface IndexStore {
  readonly meta: IndexMeta;
  readonly readonly: boolean;
  describe(): StoreDescription;

  // reading
  countFiles(status?: FileStatus): Promise<number>;
  /** The file at this absolute path (roots may nest: the best match), whatever its status. */
  findFileByPath(absolutePath: string): Promise<FileRecord | undefined>;
  /** Searchable items (of `ok` files) in the selection. */
  countItems(selection?: ItemSelection): Promise<number>;
  /** Ids of searchable items in the selection, ascending. */
  listItemIds(selection?: ItemSelection): Promise<number[]>;
  /** Items in the order of `ids` with their file (any status); unknown ids are left out. */
  getItems(ids: readonly number[]): Promise<ItemRecord[]>;
  /** Stored vectors of these items (those that have one). */
  getVectors(ids: readonly number[]): Promise<Map<number, Float32Array>>;
  /** Every searchable item's vector, in id order. */
  vectors(): AsyncIterable<[number, Float32Array]>;
  /** User fields of each item's file. */
  getFields(ids: readonly number[]): Promise<Map<number, Record<string, FieldValue | FieldValue[]>>>;
  /**
   * The k searchable items most similar to `query`, best first. The back end chooses exact or
   * graph search (`exact` forces exact) and never returns fewer than min(k, selected items).
   */
  search(query: Float32Array, k: number, options?: SearchOptions): Promise<ScoredId[]>;
  stats(): Promise<IndexStats>;

  // writing (the indexer); each throws INDEX_READ_ONLY when opened read-only
  knownFiles(root: string): Promise<Map<string, KnownFile>>;
  /** A stored vector of an `ok` file with this content hash. */
  findVectorByContentHash(contentHash: string): Promise<ReusableVector | undefined>;
  /** Applies all changes or none, idempotently (see CatalogChange); returns the item ids written, in order. */
  commit(changes: readonly CatalogChange[]): Promise<number[]>;
  /** Replaces the named fields of each record's file name. */
  importFields(records: readonly FieldRecord[]): Promise<FieldImportSummary>;
  /** Makes everything committed quick to open again (the embedded back end writes its graph file). */
  flush(): Promise<void>;
  /** Checks that the catalog, the vectors and the vector index agree; repairs what it can. */
  verify(): Promise<VerifyReport>;

  /** Flushes (when writable) and releases the index. */
  close(): Promise<void>;
}

/** An in-memory nearest-neighbour structure: brute force (exact) or an ANN engine. */
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
}
