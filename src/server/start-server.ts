/**
 * startServer: opens the index (read-only, so an indexer may keep writing; a usearch graph is
 * served memory-mapped) and the model, warms the text tower up while it starts listening
 * (readiness follows) and then the image tower, listens with bounded connections and timeouts,
 * logs the URL, and shuts down gracefully: stop accepting, let requests in flight finish (for
 * shutdownGraceMs: then those not yet answered get 503, and every connection is closed), then
 * close encoder and store. Uploaded query images are decoded in worker threads.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { default as SharpFactory } from 'sharp';
import { lazyPackage, preloadPackages } from '../lazy-package.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { openModelDirectory, type ModelVariant } from '../model/model-dir.js';
import { modelVector } from '../search/model-vector.js';
import { closeOpenedForSearch, openIndexForSearch } from '../search/open-encoder.js';
import { Searcher } from '../search/searcher.js';
import type { TextBatcherOptions } from '../search/text-batcher.js';
import { createApp, DEFAULT_LIMITS, type ServerLimits } from './app.js';
import { ConnectionSlots } from './connection-slots.js';
import { answerClientError } from './http-error.js';
import type { LogFormat } from './log-format.js';
import { createServerLogger } from './log-output.js';
import { assertPortAvailable } from './port-check.js';
import { QueryImageDecoder, withQueryImageDecoder } from './query-images.js';
import { ResponsesInFlight } from './responses-in-flight.js';

export interface StartServerOptions {
  index: string;
  /** Model directory; default: the one the index recorded at its last update. */
  model?: string;
  /** An already open encoder (e.g. the one that just indexed); it must match the index, and the server closes it. */
  encoder?: ClipEncoder;
  variant?: ModelVariant;
  threads?: number;
  /** Where model file hashes and int8 checks are remembered (default: RSCLIP_CACHE_DIR, else ~/.cache/rsclip). */
  cacheDir?: string;
  /** Default 127.0.0.1: only this machine can connect unless told otherwise. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  token?: string;
  /** Without a token, host names the server answers for besides IP addresses, localhost and this machine's name (`*`: any). */
  allowedHosts?: string[];
  limits?: Partial<ServerLimits>;
  batching?: TextBatcherOptions;
  /** Most vectors an `exact` request may scan (default DEFAULT_SERVER_MAX_EXACT_SCAN). */
  maxExactScan?: number;
  /** Default: pino to stderr at `info`, in `logFormat`. */
  logger?: Logger;
  /** Readable lines or JSON lines on stderr, when no `logger` is given (default json). */
  logFormat?: LogFormat;
  /** Log thumbnail requests too. */
  verbose?: boolean;
  /** Serve files whose real path lies outside their root (an index made with followLinks). */
  followLinks?: boolean;
  connections?: Partial<ConnectionLimits>;
  /** An XYZ tile URL template for the page's map. */
  basemap?: string;
  /** Once ready, run a blank upload through a decoding thread (then kept) and the image tower, so that image queries wait for neither to start (default true). */
  warmUpImages?: boolean;
  /**
   * Close on SIGINT/SIGTERM, then end the process with status 0 unless the program listens for
   * that signal itself (its handler then decides); default true.
   */
  handleSignals?: boolean;
}

export interface RunningServer {
  url: string;
  server: Server;
  /** Resolves when the text tower has been warmed up (readyz turns 200). */
  ready: Promise<void>;
  /** Milliseconds from the call to listening. */
  startupMs: number;
  close(): Promise<void>;
}

/** How many clients may connect, and how long a connection may take over each stage. */
export interface ConnectionLimits {
  /** Open connections (a browser opens about six); one past them takes the slot of a connection still waiting for its request, or is closed at once when every one has a request in it (see connection-slots.ts). */
  maxConnections: number;
  /** Time for a client to send the request's headers (slow-loris clients are cut). */
  headersTimeoutMs: number;
  /** Time for a client to send the whole request, a 20 MiB upload included. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept for the next request. */
  keepAliveTimeoutMs: number;
  /** How long an answer may wait for its client to read any of it before its connection is cut, while half the connections or more are open (a client that never reads held its slot for good). */
  writeStallTimeoutMs: number;
  /** At shutdown, how long requests in flight may take to finish; then those not yet answered get 503 and every connection is closed. */
  shutdownGraceMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  writeStallTimeoutMs: 30_000,
  // under `docker stop`'s 10 s before SIGKILL, so that the 503s go out
  shutdownGraceMs: 5_000,
};

/** Timeouts are enforced when connections are checked, every this often at most (node's default is 30 s). */
const MAX_CONNECTION_CHECK_MS = 1000;

/** An HTTP server for `app` with the limits applied. */
function boundedServer(app: ReturnType<typeof createApp>, limits: ConnectionLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(MAX_CONNECTION_CHECK_MS, Math.floor(limits.headersTimeoutMs / 2))),
    },
    app,
  );
  // not node's maxConnections, which refuses the newcomer: one client could then hold every slot
  new ConnectionSlots(server, limits.maxConnections);
  server.on('clientError', answerClientError);
  return server;
}

/** Exact scans above this many vectors would stall the event loop for tens of milliseconds. */
export const DEFAULT_SERVER_MAX_EXACT_SCAN = 20_000;
/** At most about this long of one request goes to applying what an indexer committed meanwhile (see replaySliceMs). */
const CATCH_UP_SLICE_MS = 20;
/**
 * Packages this thread's routes load when first used (thumbnails and checks of query images:
 * sharp; scene routes: proj4 and geotiff-geokeys-to-proj4), loaded before listening: each load
 * holds the thread for 0.02-0.1 s, which in the middle of requests would hold every one of them.
 */
const ROUTE_PACKAGES = ['sharp', 'proj4', 'geotiff-geokeys-to-proj4'];

/** How long the 503s of shutdown may take to leave before every connection is closed regardless. */
const SHUTDOWN_FLUSH_MS = 1000;

const loadSharp = lazyPackage<typeof SharpFactory>('sharp');

/**
 * Blank uploads through the decoding thread (its sharp, and the WebAssembly decoder of small
 * JPEGs) and the image tower, so that the first image query waits for none of them to start (at
 * 1M items here 0.13-0.15 s against 0.80-1.01 s without); the decoder keeps that thread for the
 * uploads after a pause.
 */
async function warmUpImageQueries(encoder: ClipEncoder, logger: Logger): Promise<void> {
  try {
    const blank = () => loadSharp()({ create: { width: 32, height: 32, channels: 3, background: { r: 128, g: 128, b: 128 } } });
    // a small JPEG takes the WebAssembly decoder, a PNG sharp
    const vectors = await encoder.embedImages(await Promise.all([blank().jpeg().toBuffer(), blank().png().toBuffer()]));
    for (const vector of vectors) modelVector(vector, 'a blank warm-up image');
    logger.info('image tower warmed up');
  } catch (error) {
    logger.warn({ err: error }, 'image tower warm-up failed; image queries will report why');
  }
}

const WARM_UP_TEXT = 'an aerial photo';

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const started = performance.now();
  const logger = options.logger ?? createServerLogger(options.logFormat ?? 'json');
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const host = options.host ?? '127.0.0.1';
  // the text tower's warm-up: /readyz answers 200 once it has passed
  let modelState: 'warming up' | 'ready' | 'failed' = 'warming up';
  const warmUpImages = options.warmUpImages ?? true;
  // the text tower warms up in its own thread: from here on, /readyz says when it has; the image tower follows
  const warmUp = async (encoder: ClipEncoder): Promise<void> => {
    try {
      const [vector] = await encoder.embedTexts([WARM_UP_TEXT]);
      // a model that runs but gives vectors no search can use is not ready: every text search would fail
      modelVector(vector!, `the warm-up text "${WARM_UP_TEXT}"`);
      modelState = 'ready';
      logger.info('model warmed up: ready');
    } catch (error) {
      modelState = 'failed';
      logger.error({ err: error }, 'model warm-up failed; /readyz stays 503');
    }
  };
  const port = options.port ?? 8080;
  // a busy port is reported before the model and the index are opened (seconds at 10^6 items), not after the log said ready
  if (port !== 0) await assertPortAvailable(host, port);
  const opened = await openIndexForSearch(options.index, {
    ...(options.model ? { model: options.model } : {}),
    ...(options.encoder ? { encoder: options.encoder } : {}),
    encoderOptions: { ...(options.variant ? { variant: options.variant } : {}), ...(options.threads ? { threads: options.threads } : {}), ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) },
    indexOptions: { scanFiltersOffThread: true, replaySliceMs: CATCH_UP_SLICE_MS },
    warmUp,
    notify: (notice) => logger.warn(notice),
  });
  const { store, warmedUp: ready } = opened;
  // wrapped below so that uploaded query images are decoded in the server's own threads
  let encoder = opened.encoder;
  let searcher: Searcher;
  try {
    const decoder = new QueryImageDecoder(openModelDirectory(encoder.info.dir, { variant: encoder.info.variant }).preprocess, {
      maxPixels: limits.maxQueryPixels,
      threads: limits.queryDecodeThreads,
      maxQueued: limits.queryDecodeQueue,
      keptThreads: warmUpImages ? 1 : 0,
    });
    encoder = withQueryImageDecoder(encoder, decoder);
    // the Searcher checks that the encoder is the index's model
    searcher = new Searcher(encoder, store, { maxExactScan: options.maxExactScan ?? DEFAULT_SERVER_MAX_EXACT_SCAN, ...(options.batching ? { batching: options.batching } : {}) });
  } catch (error) {
    await closeOpenedForSearch({ store, encoder, warmedUp: ready });
    throw error;
  }
  const imagesWarmedUp = warmUpImages ? ready.then(() => (modelState === 'ready' ? warmUpImageQueries(encoder, logger) : undefined)) : ready;
  preloadPackages(ROUTE_PACKAGES);
  const app = createApp({ searcher, store, logger, limits, verboseLogs: options.verbose === true, followLinks: options.followLinks === true, ...(options.token ? { token: options.token } : {}), ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}), ...(options.basemap ? { basemap: options.basemap } : {}), isReady: () => modelState === 'ready', whyNotReady: () => (modelState === 'failed' ? 'the model failed its warm-up (the server log says why): mend or replace the model, then restart the server' : undefined) });
  const connectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  const server = boundedServer(app, connectionLimits);
  const inFlight = new ResponsesInFlight(server, logger, connectionLimits.writeStallTimeoutMs, connectionLimits.maxConnections);
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    inFlight.stop();
    await closeOpenedForSearch({ store, encoder, warmedUp: imagesWarmedUp });
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  const startupMs = performance.now() - started;
  logger.info({ url, index: store.describe().location, model: encoder.info.id, images: await store.countFiles('ok'), startupMs: Math.round(startupMs) }, `rsclip serving on ${url}`);

  let closing: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shutting down');
    // a program with a handler of its own for the signal ends itself, once its own cleanup is done;
    // counted before any of them runs (this one goes first), as a `once` handler removes itself
    const programHandles = process.listenerCount(signal) > 1;
    void close().then(() => {
      if (!programHandles) process.exit(0);
    });
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let flush: NodeJS.Timeout | undefined;
      const grace = setTimeout(() => {
        inFlight.endAll();
        flush = setTimeout(() => server.closeAllConnections(), SHUTDOWN_FLUSH_MS);
      }, connectionLimits.shutdownGraceMs);
      await closed;
      clearTimeout(grace);
      clearTimeout(flush);
      inFlight.stop();
      // the encoder closes once no warm-up is running on it
      await closeOpenedForSearch({ store, encoder, warmedUp: imagesWarmedUp });
    })();
    return closing;
  };
  if (options.handleSignals ?? true) {
    process.prependListener('SIGINT', onSignal);
    process.prependListener('SIGTERM', onSignal);
  }
  return { url, server, ready, startupMs, close };
}
