/** The indexer: embeds an archive into an index, incrementally, resumably. */
export { indexArchive } from './index-archive.js';
export { stacFiles, type StacFiles } from './stac-files.js';
export { IMAGE_EXTENSIONS, isImagePath, checkArchiveRoots, type SkippedFiles } from './scan.js';
export { localEmbedder } from './local-embedder.js';
export { SCENE_BLOCK_CACHE_BYTES, fileFailure, type WindowRead } from './prepare-file.js';
export { sceneWindows } from './scene-windows.js';
export { openPixelPreparer, type PixelPreparer } from './decode-pool.js';
export type { EmbedResult, EmbedUnit, Embedder, IndexArchiveOptions, IndexProgress, IndexSummary, IndexTiming, QueueProgress, RunPlaces, WorkerRate } from './types.js';
export { chooseIndexingThreads, indexingEncoderOptions, type IndexingThreads } from './indexing-threads.js';
