/** The indexer: embeds an archive into an index, incrementally, resumably. */
export { indexArchive } from './index-archive.js';
export { IMAGE_EXTENSIONS, isImagePath, scanRoot } from './scan.js';
export type { IndexArchiveOptions, IndexProgress, IndexSummary } from './types.js';
