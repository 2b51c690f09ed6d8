/**
 * The shapes of a query and its answer, shared by the CLI, the library and the HTTP API.
 */
import type { LonLat } from '../geo/crs.js';
import type { AreaGeometry } from '../geo/geojson-types.js';
import type { ImageSource } from '../model/encoder-types.js';
import type { CatalogFilter, CatalogFilterJson } from '../store/filter.js';
import type { FieldValue, ItemWindow } from '../store/types.js';

/** One part of a query; the query vector is the re-normalised weighted sum of the terms' unit vectors. */
export type QueryTerm =
  | { kind: 'text'; text: string; weight: number }
  /** An image file path (CLI and library only; never from an HTTP request) or encoded image bytes. */
  | { kind: 'image'; image: ImageSource; weight: number }
  /** An indexed item, by id. */
  | { kind: 'id'; id: number; weight: number };

export interface CollapseOptions {
  /** Results whose cosine similarity to a better-ranked result is at least this are folded into it. */
  threshold: number;
}

export interface SearchRequest {
  terms: QueryTerm[];
  /** Results per page (default 20, at most MAX_K). */
  k?: number;
  /** Results to skip (default 0). Ignored when `cursor` is given. */
  offset?: number;
  /** Opaque cursor from a previous page of the same query (`nextCursor`). */
  cursor?: string;
  /** Compare with every vector instead of walking the HNSW graph. */
  exact?: boolean;
  /** HNSW search breadth; default chosen from the number of results needed (see chooseEf). */
  ef?: number;
  /** In its JSON form (as POST /api/search takes it) or parsed (parseFilterSpecs); either is checked. */
  filter?: CatalogFilter | CatalogFilterJson;
  /** Fold near-duplicates into the better-ranked result; `true` uses DEFAULT_COLLAPSE_THRESHOLD. */
  collapse?: boolean | CollapseOptions;
  /** Items never returned; the items of `id` terms are left out anyway (a query never returns what it names). */
  excludeIds?: number[];
  /**
   * Leave out a tile covered (for this share of the smaller window, default 0.5) by a better hit of
   * the same scene; `true` (the default) uses DEFAULT_NMS_THRESHOLD, `false` shows every tile.
   */
  nms?: boolean | number;
  /** Fold files of identical content (the same bytes) into one hit, listed in its `copies` (default true). */
  foldCopies?: boolean;
}

/** A SearchRequest whose filter has been checked and parsed. */
export interface CheckedSearchRequest extends SearchRequest {
  filter?: CatalogFilter;
}

/** What users see of an item (the whole image of an archive file, or a window of a scene) and of its file. */
export interface ItemFacts {
  /** The item's id (`#id` in queries, /api/images/:id). */
  id: number;
  /** Path of its file relative to the archive root it was indexed from, with forward slashes. */
  path: string;
  fileName: string;
  bytes: number;
  /** ISO 8601 modification time of the file when it was indexed. */
  modified: string;
  width: number | null;
  height: number | null;
  format: string | null;
  /** The item's window in the file's pixels (the whole image for a file that is not cut into tiles). */
  window: ItemWindow;
  /** Where it is, when the file is georeferenced: its outline (EPSG:4326, RFC 7946), centre [lon, lat] and metres per pixel. */
  footprint?: AreaGeometry;
  center?: LonLat;
  gsd?: number;
  /** The STAC item the file came from. */
  stac?: { item: string; collection: string | null };
  fields: Record<string, FieldValue | FieldValue[]>;
}

/** A search hit: an item of a file, ranked. */
export interface SearchHit extends ItemFacts {
  /** 1-based rank over the whole result list (not the page). */
  rank: number;
  /** Cosine similarity of the item to the query vector, in [-1, 1]. */
  score: number;
  /** Near-duplicates folded into this result (only with `collapse`), best first. */
  duplicates: { id: number; score: number; path: string; similarity: number }[];
  /** Other files with the same bytes, folded into this result (unless `foldCopies` is false). */
  copies: { id: number; path: string }[];
  /** Absolute path of the file (only for a searcher made with `absolutePaths`, i.e. the CLI). */
  absolutePath?: string;
  /** The archive folder the file was found under (with absolutePath only). */
  root?: string;
}

/** GET /api/images/:id: the item with its file's index facts. */
export interface ItemMetadata extends ItemFacts {
  /** ISO 8601 time the file's row last changed. */
  indexed: string;
  /** sha256 of the file, hex. */
  contentHash: string;
}

export interface SearchPage {
  hits: SearchHit[];
  k: number;
  offset: number;
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
  exact: boolean;
  /** HNSW breadth used (absent for exact search). */
  ef?: number;
  /** Items the filter allows (absent without a filter). */
  filtered?: number;
  /** Time spent embedding the query terms and searching, in milliseconds. */
  timings: { embedMs: number; searchMs: number };
  /** What the caller should know about the query (a text longer than the model reads); absent when nothing. */
  notices?: string[];
}
