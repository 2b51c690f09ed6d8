import type { ClipEncoder } from '../model/index.js';
import type { IndexStore } from '../store/index.js';
import type { IndexPlanOptions } from './plan.js';
import type { WorkItem } from './prepare-file.js';
import type { SkippedFiles } from './scan.js';

/** What to index and how; the tiling and radiometry options (tile, overlap, scales, bands, percentiles, crs) are the plan's. */
export interface IndexArchiveOptions extends Omit<IndexPlanOptions, 'inputSize'> {
  /** Archive folders to index (recursively). */
  roots: string[];
  /** The index to update, open for writing (created for `encoder`'s model, or built with it). */
  store: IndexStore;
  /** An open encoder of the index's model; the caller closes it. */
  encoder: ClipEncoder;
  /** picomatch globs over paths relative to a root; without `/` they match the base name. */
  include?: string[];
  exclude?: string[];
  /** Follow symbolic links that lead outside a root (default: skipped and counted; serve such an index with followLinks too). */
  followLinks?: boolean;
  /** Images per model run. Default 32. */
  batchSize?: number;
  /** Images decoded concurrently ahead of inference. Default 4. */
  decoders?: number;
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

export interface IndexProgress {
  phase: 'scan' | 'index' | 'finish';
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
  /** Folders that could not be read (files known under them were kept). */
  unreadableFolders: string[];
  /** Symlinked folders not entered because their target was already scanned. */
  symlinkLoops: string[];
  /** Files seen but not indexed (not an image, a format sharp cannot read, excluded, a name that is not UTF-8...), by reason. */
  skipped: SkippedFiles[];
  interrupted: boolean;
  seconds: number;
  /** Seconds the model was running (seconds - modelSeconds is time it waited on decoding or I/O). */
  modelSeconds: number;
  /** embedded / seconds (items per second). */
  imagesPerSecond: number;
  fields?: { records: number; fields: string[]; unmatched: number };
}
