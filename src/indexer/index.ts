/** The indexer: embeds an archive into an index, incrementally, resumably. */
export { indexArchive } from './index-archive.js';
export { stacFiles, type StacFiles } from './stac-files.js';
export { IMAGE_EXTENSIONS, isImagePath, checkArchiveRoots, type SkippedFiles } from './scan.js';
export type { IndexArchiveOptions, IndexProgress, IndexSummary } from './types.js';
