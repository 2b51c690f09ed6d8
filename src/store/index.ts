/**
 * The on-disk index: catalog.sqlite (the truth: images, vectors, user fields) and
 * vectors.hnsw (derived, repaired on open). better-sqlite3 and hnswlib-node are used only here.
 */
export { openIndex, HNSW_FILE } from './index-store.js';
export { CATALOG_FILE } from './catalog.js';
export { BruteForceIndex } from './brute-force-index.js';
export { HnswIndex, DEFAULT_HNSW_PARAMS, DEFAULT_EF } from './hnsw-index.js';
export { SCHEMA_VERSION } from './schema.js';
export { LOCK_FILE } from './write-lock.js';
export { debugPause, type PausePoint } from './debug-pause.js';
export type {
  CatalogChange,
  CatalogFilter,
  FieldImportSummary,
  FieldValue,
  HnswParams,
  ImageRecord,
  ImageStatus,
  IndexMeta,
  IndexStats,
  IndexStore,
  KnownFile,
  NewImage,
  OpenIndexOptions,
  ScoredId,
  SearchOptions,
  VectorIndex,
  VerifyReport,
} from './types.js';
