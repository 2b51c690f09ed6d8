/** Embedding on a queue (BullMQ on Redis): the coordinator's Embedder and the worker that serves it. */
export { QueueEmbedder, type QueueEmbedderOptions } from './queue-embedder.js';
export { startEmbedWorker, parsePathMapping, mapPath, type EmbedWorker, type EmbedWorkerEvent, type EmbedWorkerOptions, type PathMapping } from './embed-worker.js';
export { parseQueueUrl } from './connection.js';
export { DEFAULT_QUEUE_NAME } from './protocol.js';
