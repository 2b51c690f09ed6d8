/** Search: queries (text, image, id, weighted mixes), filters, exact and ANN search, result pages. */
export { Searcher, DEFAULT_TEXT_CACHE_BYTES, DEFAULT_TEXT_CACHE_ENTRIES, type SearcherOptions } from './searcher.js';
export { TextEmbeddingBatcher, type TextBatcherOptions, type EmbedTexts } from './text-batcher.js';
export { parseQueryTerms, pathKindOf, type PathKind } from './cli-terms.js';
export { parseSearchRequestJson, searchRequestSchema, queryTermsSchema, toQueryTerms, pagingShape, describeZodIssues, type SearchRequestJson } from './request-schema.js';
export { combineWeighted } from './query-vector.js';
export { collapseNearDuplicates, type CollapsedGroup } from './collapse.js';
export { buildHit, buildItemMetadata, hitToRow, itemToRow, pageToFeatureCollection, type HitParts } from './hit.js';
export { exportItems, exportHits, type ExportItemsOptions } from './export-items.js';
export { suppressOverlaps, overlapOfSmaller, DEFAULT_NMS_THRESHOLD } from './nms.js';
export { chooseEf, fetchBand, type QueryKind, DEFAULT_K, MAX_K, MAX_WINDOW, MAX_COLLAPSE_WINDOW, MAX_FETCHED_HITS, MAX_EF, MAX_TERMS, MAX_TEXT_LENGTH, DEFAULT_COLLAPSE_THRESHOLD } from './limits.js';
export type { QueryTerm, SearchRequest, SearchPage, SearchHit, ItemFacts, ItemMetadata, CollapseOptions } from './types.js';
export { closeOpenedForSearch, openEncoderForIndex, openIndexForSearch, recordedModelOf, warmUpWithFirstText, type OpenedForSearch, type OpenEncoderOptions, type OpenForSearchOptions } from './open-encoder.js';
