/**
 * The storage contract (DESIGN.md "Storage back ends and engines"): one async `IndexStore`
 * that every back end implements: the embedded one (catalog.sqlite + a graph file) and
 * PostgreSQL (pgvector; postgres/postgres-store.ts).
 *
 * Words: a *file* is a catalog row, what the scan finds (path, size, hash, status); an *item*
 * is what is embedded and searched: the whole image, or one window of a scene cut into tiles,
 * with its place on the Earth when the file is georeferenced. A file has items; a search hit
 * is an item of a file. Item ids are the labels of the vector index and are never reused: an
 * item keeps its id while its key (its window in the file's tiling plan) stays in the plan, and
 * a retired id is never given out again. File ids and item ids are separate numberings (files
 * of indexes made before scenes share their id with their one item).
 */
import type { WindowPlace } from '../geo/footprint.js';
import type { GeoTransform } from '../geo/geotransform.js';
import type { ModelInfo } from '../model/encoder-types.js';
import type { SceneStretch } from '../raster/radiometry.js';
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
  /** The tiling and radiometry plan of the last update (`indexPlanSignature`); changing it re-tiles. */
  plan: string | undefined;
  /** The decoding settings (e.g. the pixel limit) of the last complete index run, as the indexer wrote them. */
  decodeSettings: string | undefined;
}

/** Where a file's pixels are on the Earth, as the catalog keeps it. */
export interface FileGeo {
  /** The CRS's name (EPSG name, WKT name or proj4 string), or null without a CRS. */
  crs: string | null;
  epsg: number | null;
  /** A CRS without an EPSG code: its definition (proj4 or WKT), which its name may not give back. Absent in catalogs from before it was recorded. */
  definition?: string;
  /** GDAL's geoTransform: pixel corner (col, row) -> CRS coordinates. */
  geoTransform: GeoTransform;
  source: 'geotiff' | 'world-file' | 'stac';
}

/** A file from a STAC catalog: its item, and the acquisition time (an instant or a range). */
export interface FileStac {
  item: string;
  collection: string | null;
  /** ISO 8601; equal for a single datetime. */
  start: string;
  end: string;
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
  /** The plan its items were cut and rendered with (see NewFile.plan); null for files indexed before plans. */
  plan: string | null;
  /** The one stretch of every item of the file (renderings use it too); null: as decoded (8-bit). */
  stretch: SceneStretch | null;
  geo: FileGeo | null;
  stac: FileStac | null;
  /** False while some of its items are still to be embedded (a scene interrupted half-way). */
  complete: boolean;
}

/** A window of a file in full-resolution pixels; `scale` 1 for the whole image or a window of the model's input size. */
export interface ItemWindow {
  x: number;
  y: number;
  width: number;
  height: number;
  scale: number;
}

/** A searchable unit: the whole image or one window of its file. */
export interface ItemRecord {
  /** The label in the vector index, never reused. */
  id: number;
  file: FileRecord;
  /** The window's key in the file's plan (`whole`, `s1:224,448`). */
  key: string;
  window: ItemWindow;
  /** Footprint (EPSG:4326), centre, native bounds and GSD; null without a georeference. */
  place: WindowPlace | null;
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
  /**
   * The file's plan: how it was cut into windows and rendered (tiling, bands, stretch). Items of
   * another plan are stale: a put with a new plan (or new content) replaces them.
   */
  plan?: string | null;
  stretch?: SceneStretch | null;
  geo?: FileGeo | null;
  stac?: FileStac | null;
  /** Fields of this very file (e.g. STAC properties), besides the user fields keyed by file name; replaced on every put. */
  fields?: Readonly<Record<string, FieldValue | readonly FieldValue[]>>;
}

/** One item of a `put`: its window (keyed within the file), its place and its unit vector. */
export interface NewItem {
  key: string;
  window: ItemWindow;
  place: WindowPlace | null;
  vector: Float32Array;
}

/** The key of the one item of a file that is not cut into tiles. */
export const WHOLE_IMAGE_KEY = 'whole';
/** The plan of a file embedded as one whole image, as decoded (every file of an index made before scenes). */
export const WHOLE_IMAGE_PLAN = 'whole';

/**
 * One change inside an atomic commit. Each is keyed, so applying a commit twice leaves the
 * index as applying it once: `put` and `fail` on the file's (root, path), a put's items on
 * (file, key); `touch` and `remove` on the file id.
 * - `put` with `vector`: the file is a good image, one whole-image item with this unit vector;
 * - `put` with `items`: some items of the file (a scene is committed in batches of items);
 *   `complete` says that every item of its plan is now committed. A put whose content hash or
 *   plan differs from the file's previous ones starts a new version, which may span several
 *   puts: every item whose key the version carries keeps its id, whichever of its puts carries
 *   it. Its first put drops the vectors of the file's other items (they are not the version's:
 *   never searchable as its content) but keeps the items; its complete put retires those the
 *   version never carried (their ids are never used again). Until then the file is incomplete,
 *   and `fileItemKeys` gives the keys the version has committed (what a resumed run skips);
 * - `touch`: size/mtime changed but the content hash did not, so the items stay;
 * - `fail`: the file could not be read as an image; its vectors (if any) are dropped;
 * - `remove`: the file is gone; its row stays with status `removed`, its vectors are dropped.
 */
export type CatalogChange =
  | { kind: 'put'; file: NewFile; vector: Float32Array }
  | { kind: 'put'; file: NewFile; items: readonly NewItem[]; complete: boolean }
  | { kind: 'touch'; fileId: number; bytes: number; mtimeMs: number }
  | { kind: 'fail'; file: NewFile; error: string }
  | { kind: 'remove'; fileId: number };

/** What a commit wrote, per change in order: the file and the ids of the change's items (in order; none for touch, fail, remove). */
export interface CommittedChange {
  fileId: number;
  itemIds: number[];
}

/** What change detection needs per known file, fetched in bulk per root. */
export interface KnownFile {
  id: number;
  bytes: number;
  mtimeMs: number;
  /** Epoch milliseconds of the row's last change (a file whose status changed since, its ctime later, is hashed again). */
  indexedAt: number;
  contentHash: string;
  status: FileStatus;
  /** To be embedded (further) whatever its size and mtime say: queued by `verify`, or a scene interrupted half-way. */
  needsEmbedding: boolean;
  width: number | null;
  height: number | null;
  plan: string | null;
  stretch: SceneStretch | null;
}

/** The items of a complete file of identical content and plan (renamed or duplicate files reuse them). */
export interface ReusableFile {
  fileId: number;
  width: number | null;
  height: number | null;
  format: string | null;
  stretch: SceneStretch | null;
  items: { key: string; window: ItemWindow; vector: Float32Array }[];
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
  /** The back end: `embedded` (catalog.sqlite + a graph file) or `postgres` (a PostgreSQL database with pgvector). */
  backend: 'embedded' | 'postgres';
  /** Where the index lives, for messages: a directory, or a URL without credentials. */
  location: string;
  /** The local folder the index occupies (a scan skips it); absent for a server back end. */
  directory?: string;
  /** What opening had to do that costs every start until someone acts (one line each, for the operator). */
  notices?: string[];
}

export interface IndexStats {
  location: string;
  /** Files by status ("images" in the JSON users see). */
  images: { ok: number; error: number; removed: number };
  /** Searchable items (whole images and tiles). */
  items: number;
  vectors: number;
  /** When a commit last changed a file (added, updated, touched, failed or removed), ISO 8601; null before the first. */
  lastChange: string | null;
  /** Numbers only this back end has (graph size, bytes on disk, ...). */
  details: Record<string, unknown>;
}

/** What `verify` found and what it did about it. */
export interface VerifyReport {
  ok: boolean;
  /**
   * `images`: the files of the archive at its last indexing, indexed or failed (removed files' records are checked, not counted);
   * `hnswLabels`: the vectors in the vector index, whatever its engine (named before there were other engines than HNSW graphs).
   */
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
  /**
   * Embedded back end, readers only: read the items a filter allows in a worker thread of the
   * store's own, so that a long catalog scan never holds up the process's event loop (a server).
   * Off by default: starting the thread took 0.36-0.39 s (a busy 2-core machine) where the scan
   * of a small index takes a millisecond, so a one-shot command does without it.
   */
  scanFiltersOffThread?: boolean;
  /**
   * Embedded back end, readers only: open the graph file when a search or a count first needs it,
   * not at open, so that a command that only reads the catalog (`rsclip errors`) never pays for
   * it (mapping a 3M-item graph took 1.7-2.3 s). A server keeps the default: its first query
   * would otherwise wait for the graph.
   */
  deferGraph?: boolean;
  /**
   * Embedded back end, readers only: apply what other processes committed for about this many
   * milliseconds per request, the rest at the following ones, so that catching up with a busy
   * indexer (0.2-0.6 ms per vector) never holds one request for long; the new items become
   * searchable a few requests later. Default: all at once (a one-shot command sees everything).
   */
  replaySliceMs?: number;
  /** Embedded back end: how often commits also write the graph file (default 30 s, stretched for large graphs). */
  checkpointIntervalMs?: number;
  /**
   * Writers only: how the catalog is checked before anything is written: `quick` (default; SQLite's
   * quick_check), `full` (integrity_check, as `doctor` does), or `repair` (a damaged catalog is
   * repaired: REINDEX, else rebuilt from the rows that can still be read; `doctor --repair`).
   * A damaged catalog is refused (INDEX_CORRUPT) unless repaired.
   */
  catalogCheck?: 'quick' | 'full' | 'repair';
  /**
   * Embedded back end, writers only: an index that holds vectors but whose catalog lost the record
   * of their model (damage) records `model` as theirs (`doctor --repair --model`): the caller
   * vouches that it made them; only their length is checked. Without it such an index is refused.
   */
  recordLostModel?: boolean;
  /**
   * Embedded back end, writers only: the store is opened to write (an indexing run, a copy), and
   * its graph is kept in step in a thread of its own, off the event loop: commits no longer wait
   * for graph inserts (0.1-0.15 ms per vector on one core), which a coordinator absorbing a
   * fleet's results needs. Searches, item counts, stats and verify are refused
   * (INDEX_WRITE_ONLY). Ignored by the PostgreSQL back end, whose graph PostgreSQL builds.
   */
  writeOnly?: boolean;
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
  /** The searchable items of one file (none unless it is `ok`) with the file, in id order: a scene's tiles, for locate. */
  fileItems(fileId: number): Promise<ItemRecord[]>;
  /** Keys of the items of a file that are committed (with a vector), for resuming a scene. */
  fileItemKeys(fileId: number): Promise<Set<string>>;
  /** Stored vectors of these items (those that have one). */
  getVectors(ids: readonly number[]): Promise<Map<number, Float32Array>>;
  /** Every searchable item's vector, in id order. */
  vectors(): AsyncIterable<[number, Float32Array]>;
  /** User fields of each item's file. */
  getFields(ids: readonly number[]): Promise<Map<number, Record<string, FieldValue | FieldValue[]>>>;
  /** Names of the user fields any file has, sorted. */
  fieldNames(): Promise<string[]>;
  /** Files with this status (e.g. the failed ones, with their error), by root and path: the first `limit`, or all. */
  listFiles(status: FileStatus, limit?: number): Promise<FileRecord[]>;
  /** Up to k searchable items spread over the index, ascending, found without listing every id (a start page's sample). */
  sampleItemIds(k: number): Promise<number[]>;
  /**
   * The k searchable items most similar to `query`, best first. The back end chooses exact or
   * graph search (`exact` forces exact) and never returns fewer than min(k, selected items).
   */
  search(query: Float32Array, k: number, options?: SearchOptions): Promise<ScoredId[]>;
  stats(): Promise<IndexStats>;

  // writing (the indexer); each throws INDEX_READ_ONLY when opened read-only
  knownFiles(root: string): Promise<Map<string, KnownFile>>;
  /** The archive roots (absolute paths, as recorded) under which the index holds files that are not removed. */
  roots(): Promise<string[]>;
  /** The items of a complete `ok` file with this content hash and plan. */
  findReusableFile(contentHash: string, plan: string | null): Promise<ReusableFile | undefined>;
  /** Applies all changes or none, idempotently (see CatalogChange). */
  commit(changes: readonly CatalogChange[]): Promise<CommittedChange[]>;
  /** Records the plan of this update in the index's meta. */
  recordPlan(plan: string): Promise<void>;
  /** Replaces the named fields of each record's file name. */
  importFields(records: readonly FieldRecord[]): Promise<FieldImportSummary>;
  /** Makes everything committed quick to open again (the embedded back end writes its graph file). */
  flush(): Promise<void>;
  /** Checks that the catalog, the vectors and the vector index agree; repairs what it can. */
  verify(): Promise<VerifyReport>;
  /** Records the decoding settings of a complete index run (see IndexMeta.decodeSettings). */
  recordDecodeSettings(settings: string): Promise<void>;

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
