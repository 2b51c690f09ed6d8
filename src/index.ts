/**
 * The library entry: what a program embedding rsclip uses.
 */
export { RsclipError, isRsclipError, type RsclipErrorCode } from './errors.js';
export { version } from './version.js';
export * from './model/index.js';
export * from './store/index.js';
export * from './eval/index.js';
export * from './indexer/index.js';
export * from './search/index.js';
export * from './server/index.js';
// more module exports go here, one line per module
