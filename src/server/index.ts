/** The HTTP server: express app (routes, validation, errors, web page) and its listener. */
export { createApp, DEFAULT_LIMITS, PUBLIC_DIR, type AppDeps, type ServerLimits, type Thumbnailer } from './app.js';
export { startServer, DEFAULT_SERVER_MAX_EXACT_SCAN, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits, type StartServerOptions, type RunningServer } from './start-server.js';
export { LOG_FORMATS, type LogFormat } from './log-format.js';
export { assertPortAvailable } from './port-check.js';
export { buildOpenApiDocument } from './openapi.js';
export { HttpError, type HttpErrorCode, type ErrorBody } from './http-error.js';
