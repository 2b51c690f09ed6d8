/**
 * The index store: one async contract (IndexStore) over back ends; the embedded back end keeps
 * catalog.sqlite (the truth: files, vectors, user fields) and a derived HNSW graph file.
 * better-sqlite3, hnswlib-node and usearch are used only under this folder.
 */
export { openIndex, readIndexMeta } from './open-index.js';
export { copyIndex, type CopyIndexOptions, type CopySummary } from './postgres/index-copy.js';
export { BruteForceIndex } from './brute-force-index.js';
export { DEFAULT_EF } from './graph-index.js';
export { DEFAULT_ENGINE, ENGINE_DEFAULTS, ENGINE_NAMES, VECTOR_QUANTIZATIONS, engineLabel, parseEngineLabel, resolveEngine, type EngineChoice, type EngineName, type EngineSpec, type HnswParams, type UsearchParams, type VectorQuantization } from './engines.js';
export { assertModelMatches, modelMatches } from './model-binding.js';
export { catalogFilterSchema, parseFilterSpecs, filterSyntax, filterJsonSchema, placeOptionSpecs, FILTER_KEYS, FILTER_LIMITS, MAX_AREA_POSITIONS, type CatalogFilter, type CatalogFilterJson, type FieldCondition, type FilterSpec, type PlaceOptions } from './filter.js';
export { WHOLE_IMAGE_KEY, WHOLE_IMAGE_PLAN } from './types.js';
export type {
  CatalogChange,
  CommittedChange,
  FieldImportSummary,
  FieldRecord,
  FieldValue,
  FileGeo,
  FileRecord,
  FileStac,
  FileStatus,
  IndexMeta,
  IndexStats,
  IndexStore,
  ItemRecord,
  ItemSelection,
  ItemWindow,
  KnownFile,
  NewFile,
  NewItem,
  OpenIndexOptions,
  ReusableFile,
  ScoredId,
  SearchOptions,
  StoreDescription,
  VectorIndex,
  VerifyReport,
} from './types.js';
