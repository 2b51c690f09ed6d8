import type { ClipEncoder, ModelInfo } from '../model/encoder-types.js';
import type { IndexStore } from '../store/types.js';
import type { IndexPlanOptions } from './plan.js';
import type { Unit, WorkItem } from './prepare-file.js';
import type { SkippedFiles } from './scan.js';

/**
 * What to index and how; the tiling and radiometry options (tile, overlap, scales, bands,
 * percentiles, crs) are the plan's. Those left out are the index's recorded plan's (its last
 * run's), else the defaults; `bands: null` asks for each file's colour interpretation again.
 */
export interface IndexArchiveOptions extends Omit<IndexPlanOptions, 'inputSize' | 'bands'> {
  bands?: number[] | null;
  /** Archive folders to index (recursively). */
  roots: string[];
  /**
   * Folders whose files are removed from the index (moved or deleted for good): an archive folder,
   * a folder inside one or one that holds some; they need not exist. One under which the index
   * holds no file, or holds files of a root this run indexes, is refused (BAD_INPUT).
   */
  forget?: string[];
  /** The index to update, open for writing (created for `encoder`'s model, or built with it). */
  store: IndexStore;
  /** An open encoder of the index's model; the caller closes it. */
  encoder: ClipEncoder;
  /**
   * Where the windows go to be embedded: by default `encoder` in this process (localEmbedder);
   * a queue's coordinator (src/queue) sends descriptions of them to worker processes.
   */
  embedder?: Embedder;
  /** picomatch globs over paths relative to a root; without `/` they match the base name. */
  include?: string[];
  exclude?: string[];
  /** Follow symbolic links that lead outside a root (default: skipped and counted; serve such an index with followLinks too). */
  followLinks?: boolean;
  /** Index hidden files (a name starting with a dot) and what hidden and system folders (`.x`, `@eaDir`, `$RECYCLE.BIN`) hold; default: skipped and counted. */
  includeHidden?: boolean;
  /** Images per model run. Default: from the machine (chooseIndexingThreads), 32 on up to 10 cores. */
  batchSize?: number;
  /** Images decoded concurrently ahead of inference. Default: 4, or twice the decode threads if more; 16 for a queue's coordinator into PostgreSQL (it only describes the files, and waits on lookups over the network). */
  decoders?: number;
  /**
   * Worker threads that decode and preprocess images and scene windows (0: the main thread).
   * Default: from the machine (chooseIndexingThreads). Encoders without a `pixelRecipe` always
   * preprocess on the main thread.
   */
  decodeThreads?: number;
  /** CSV/TSV/JSONL sidecar of user fields keyed by file name, imported after indexing. */
  fields?: string;
  /**
   * Index these files instead of walking `roots`: paths relative to `root`, each with facts from
   * elsewhere (a STAC item's id, time, properties and footprint). Files of `root` the list lacks are removed.
   */
  files?: { root: string; files: { path: string; extra?: WorkItem['extra'] }[] };
  /** Try every file that failed before again, whatever its size and mtime say. */
  retryErrors?: boolean;
  /**
   * The settings that decide whether a file decodes (e.g. the pixel limit), as text; when they
   * differ from those of the last complete run, files that failed are tried again.
   */
  decodeSettings?: string;
  /** Aborting stops after the batch in flight; everything committed is kept. */
  signal?: AbortSignal;
  onProgress?: (progress: IndexProgress) => void;
}

/** A window on its way to the model: its pixels (decoded here) or how to read them (elsewhere). */
export type EmbedUnit = Extract<Unit, { kind: 'embed' }>;

/**
 * What became of one window: its vector, nodata (found by a reader elsewhere), or its file failed
 * there. `decoded`: the size and format the model's decoder found, for a whole image read elsewhere;
 * `fallback`: the whole TIFF was read through its scene fallback (WindowRead) instead.
 */
export type EmbedResult =
  | { vector: Float32Array; decoded?: { width: number; height: number; format: string }; fallback?: true }
  | { nodata: true; fallback?: true }
  | { error: string };

/**
 * The seam between the indexer's decisions (what to embed) and the model: batches of windows in,
 * one result per window out, in the batch's order. The indexer keeps up to `inFlight` batches
 * embedding and commits them in the order it sent them, so a file's items are committed before
 * the unit that completes it, whichever batch finishes first; batches whose results are in when
 * the oldest is committed go into the same store commit.
 */
export interface Embedder {
  /** The model the vectors come from (the index must be bound to it). */
  readonly info: ModelInfo;
  /** true: windows come with their pixels; false: the preparer only describes them (`read`), and they are decoded where they are embedded. */
  readonly decodesHere: boolean;
  /** Batches embedding at once: what bounds the work (and memory) between deciding and committing. */
  readonly inFlight: number;
  /** Model runs this process executes at once (its encoder's sessions); undefined where the model runs elsewhere (a queue's workers). */
  readonly localModelRuns: number | undefined;
  /** `modelSeconds`: time the model ran for this batch (on whichever machine). */
  embed(batch: EmbedUnit[]): Promise<{ results: EmbedResult[]; modelSeconds: number }>;
  /** A queue's workers, lost jobs and connection, for progress (a local embedder has none). */
  queueProgress?(): QueueProgress;
}

export interface WorkerRate {
  worker: string;
  /** Windows it embedded for this run. */
  items: number;
  /** Its windows per second over the last 30 seconds (its current rate). */
  itemsPerSecond: number;
  /** Seconds since its last result. */
  idleSeconds: number;
}

export interface QueueProgress {
  /** The workers that returned vectors in this run, with their rates. */
  workers: WorkerRate[];
  /** Jobs sent again because Redis had lost them (a restart without persistence). */
  resent: number;
  /** Seconds Redis has not been reachable, while it is not. */
  unreachableSeconds?: number;
  /** Seconds without Redis after which the run stops. */
  redisTimeoutSeconds: number;
}

export interface IndexProgress {
  /**
   * `save`: every change is committed, and the store makes them quick to open (writes its
   * graph file; a PostgreSQL index builds pgvector's graph if the run dropped it: minutes for
   * millions of vectors). `finish` follows it with the summary.
   */
  phase: 'scan' | 'index' | 'save' | 'finish';
  /** Image files found so far. */
  scanned: number;
  /** Files that need work (new, changed); known once the scan is over. */
  total: number;
  /** Of `total`, how many are committed. */
  done: number;
  errors: number;
  /** Items (whole images and tiles) embedded so far. */
  embedded: number;
  /** Items embedded by the model per second of indexing so far. */
  imagesPerSecond: number;
  /** Seconds left at the current rate; undefined while unknown. */
  etaSeconds: number | undefined;
  /** With a queue: its workers and their rates, lost jobs, Redis unreachable. */
  queue?: QueueProgress;
}

/** Files an indexing run indexed (added or updated) with a place and without one. */
export interface RunPlaces {
  /** Files with a place (a footprint on the Earth for their items). */
  placed: number;
  /** Of those, files placed by the affine fit of ground control points that misses them by more than a pixel (approximate; each warned about). */
  approximate: number;
  /** Files without a place: a place filter (--bbox, --near, --within) never finds them. */
  unplaced: number;
  /** Of those, files that carry georeferencing rsclip could not use (GCPs that cannot be fitted, a world file or GeoTIFF transform without a CRS). */
  unusable: number;
  /** The first few files without a place (relative to their root), those with georeferencing first, and why. */
  examples: { path: string; why: string }[];
}

export interface IndexSummary {
  /** Where the index lives (a directory for the embedded back end). */
  index: string;
  /** Image files found. */
  scanned: number;
  /** New paths now searchable (embedded or reused). */
  added: number;
  /** Known paths whose content changed, re-embedded or reused. */
  updated: number;
  /** Known paths that are gone. */
  removed: number;
  /** Of added + updated, how many took a stored vector of identical content (no model run). */
  reused: number;
  /** Items (whole images and tiles) run through the model. */
  embedded: number;
  /** Files that failed this run (recorded with status error). */
  errors: number;
  /** Files with the same size and mtime, or the same content, as last time. */
  unchanged: number;
  /** Files cut into tiles in this run. */
  scenes: number;
  /** Of those, files that continued where an interrupted run stopped. */
  resumed: number;
  /** Windows skipped because they were mostly nodata (nodata value, mask, alpha 0, constant fill). */
  nodataWindows: number;
  /** Files this run indexed (added or updated) with a place and without one (always set by indexArchive). */
  places?: RunPlaces;
  /** Folders that could not be read (files known under them were kept). */
  unreadableFolders: string[];
  /** Files removed by `forget`, per folder given (`root`: the folder, resolved). Absent without `forget`. */
  forgotten?: { root: string; files: number }[];
  /** Symlinked folders not entered because their target was already scanned. */
  symlinkLoops: string[];
  /**
   * Folders (a root, or a folder inside one: `folder`, absolute) that exist and where the scan found
   * no image file at any depth while the index holds files under them (an unmounted disk, a folder
   * emptied by a move): their files were kept, not removed; `--forget` removes them. The top-most
   * such folder is named, once. Absent when there are none.
   */
  emptyRoots?: { root: string; folder: string; files: number }[];
  /** Files seen but not indexed (not an image, a format sharp cannot read, excluded, a name that is not UTF-8...), by reason. */
  skipped: SkippedFiles[];
  interrupted: boolean;
  seconds: number;
  /** Seconds the model was running (seconds - modelSeconds is time it waited on decoding or I/O). */
  modelSeconds: number;
  /** embedded / seconds (items per second). */
  imagesPerSecond: number;
  /** Where the time went (the --json split between decode, model and store). */
  timing: IndexTiming;
  fields?: { records: number; fields: string[]; unmatched: number };
  /** With a queue: the windows each worker embedded, and the jobs sent again because Redis lost them. */
  queue?: { workers: { worker: string; items: number }[]; resent: number };
}

/**
 * Where an indexing run spent its time. Stages overlap (the pool decodes while the model runs
 * and the main thread commits), so their seconds add up to more than the wall time.
 */
export interface IndexTiming {
  /** Decode pool threads (0: decoded on the main thread). */
  decodeThreads: number;
  /** Images per model run. */
  batchSize: number;
  /** Sessions of this process's encoder running batches side by side; absent where the model ran on a queue's workers. */
  modelSessions?: number;
  /** Wall seconds of the embedding pipeline: from the end of the scan to the last commit. */
  pipelineSeconds: number;
  /** Seconds the model was running (modelSeconds; summed over the sessions of an encoder with several, or over a queue's workers). */
  modelSeconds: number;
  /**
   * modelSeconds / (pipelineSeconds x sessions): how much of the pipeline this process's encoder
   * was kept busy. Absent where the model ran on a queue's workers.
   */
  encoderBusyShare?: number;
  /** Thread-seconds decoding and preprocessing whole images and scene windows (CPU-bound work in the pool's threads). */
  decodeSeconds: number;
  /** Seconds in store commits, removals and the final flush (catalog and graph; on the main thread). */
  storeSeconds: number;
  /** Seconds the main thread was busy: scan, hashing, scene window reads, commits, batching. */
  mainThreadSeconds: number;
  /** CPU seconds of the whole process (user + system, every thread: onnxruntime's, the pool's, libvips'). */
  cpuSeconds: number;
  /**
   * cpuSeconds split by thread, where threads have a CPU clock (Linux): the main thread (scan,
   * hashing, commits, and decoding without a pool), the decode pool's threads (their own work:
   * preprocessing, scene window reads and stretches), and the rest: onnxruntime's threads (the
   * model), libvips' and libuv's (image decoding) and the garbage collector's.
   */
  threadCpu?: { mainThread: number; decodeThreads: number; rest: number };
}
