/**
 * The library entry: what a program embedding rsclip uses, listed on purpose (folder entries
 * export more for rsclip's own modules; engines, files and test hooks stay inside).
 */
export { RsclipError, isRsclipError, type RsclipErrorCode } from './errors.js';
export { version } from './version.js';

// models: open, fetch, export
export {
  openClip,
  describeModel,
  fetchModel,
  resolveModel,
  exportCheckpointDirectory,
  defaultCacheDir,
  DEFAULT_REPO_ID,
  MODEL_VARIANTS,
  type OpenClipOptions,
  type ClipEncoder,
  type ImageSource,
  type ModelInfo,
  type ModelVariant,
  type PreprocessedImage,
  type ModelDescription,
  type FetchModelOptions,
  type FetchModelResult,
  type FetchProgressEvent,
  type ResolvedModel,
  type ExportCheckpointOptions,
  type ExportResult,
} from './model/index.js';

// the index store
export {
  openIndex,
  readIndexMeta,
  parseFilterSpecs,
  parseEngineLabel,
  catalogFilterSchema,
  type OpenIndexOptions,
  type IndexStore,
  type IndexMeta,
  type IndexStats,
  type VerifyReport,
  type StoreDescription,
  type FileRecord,
  type FileStatus,
  type ItemRecord,
  type ItemWindow,
  type NewFile,
  type NewItem,
  type CatalogChange,
  type CommittedChange,
  type CatalogFilter,
  type CatalogFilterJson,
  type FilterSpec,
  type FieldValue,
  type FieldRecord,
  type ItemSelection,
  type SearchOptions,
  type ScoredId,
  type EngineChoice,
  type EngineSpec,
} from './store/index.js';

// indexing
export {
  indexArchive,
  localEmbedder,
  stacFiles,
  isImagePath,
  IMAGE_EXTENSIONS,
  chooseIndexingThreads,
  type Embedder,
  type EmbedResult,
  type EmbedUnit,
  type IndexArchiveOptions,
  type IndexingThreads,
  type IndexProgress,
  type IndexSummary,
  type IndexTiming,
  type QueueProgress,
  type StacFiles,
  type WorkerRate,
} from './indexer/index.js';
export { QueueEmbedder, startEmbedWorker, type EmbedWorker, type EmbedWorkerEvent, type EmbedWorkerOptions, type QueueEmbedderOptions } from './queue/index.js';

// places: the filters' places, and the writers exports use
export {
  parseBboxPlace,
  parseNearPlace,
  readWithinPlace,
  parseCrs,
  writeRows,
  featureCollection,
  EXPORT_FORMATS,
  type Place,
  type ExportFormat,
  type ExportRow,
  type AreaGeometry,
  type WindowPlace,
  type TileMode,
} from './geo/index.js';

// searching
export {
  Searcher,
  openEncoderForIndex,
  parseQueryTerms,
  parseSearchRequestJson,
  exportItems,
  exportHits,
  pageToFeatureCollection,
  DEFAULT_K,
  MAX_K,
  type SearcherOptions,
  type OpenEncoderOptions,
  type SearchRequest,
  type SearchPage,
  type SearchHit,
  type ItemMetadata,
  type QueryTerm,
  type CollapseOptions,
  type ExportItemsOptions,
} from './search/index.js';

// locating: where in one scene a query is
export {
  locateInIndexedFile,
  locateInImage,
  indexTiling,
  locateToFeatureCollection,
  DEFAULT_LOCATE_TOP,
  type LocateOptions,
  type LocateImageOptions,
  type LocateResult,
  type LocatedTile,
  type LocatedScene,
  type HeatMap,
} from './locate/index.js';

// serving
export { createApp, startServer, buildOpenApiDocument, type AppDeps, type ServerLimits, type StartServerOptions, type RunningServer } from './server/index.js';

// evaluating
export {
  evaluateRsicd,
  evaluateRetrieval,
  evaluateZeroShot,
  compareReports,
  evaluateAnn,
  evaluateLabels,
  scorePredictions,
  writeRsicdReport,
  type EvaluateRsicdOptions,
  type RsicdEvaluation,
  type RsicdReport,
  type EvaluateRetrievalOptions,
  type RetrievalEvaluation,
  type RetrievalReport,
  type EvaluateZeroShotOptions,
  type ZeroShotEvaluation,
  type ZeroShotReport,
  type ComparableReport,
  type Comparison,
  type EvaluateAnnOptions,
  type AnnReport,
  type EvaluateLabelsOptions,
  type LabelsReport,
} from './eval/index.js';
