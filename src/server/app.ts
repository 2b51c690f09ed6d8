/**
 * createApp: the express application (no listen; `startServer` listens, supertest drives it
 * in tests). Routes read images only by id through the catalog; no path from a request ever
 * reaches the file system. Every error goes to the one JSON error middleware.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import multer from 'multer';
import type { Logger } from 'pino';
import { RsclipError } from '../errors.js';
import { checkQueryImage, createThumbnail, DEFAULT_MAX_QUERY_PIXELS } from '../model/image.js';
import { buildItemMetadata, pageToFeatureCollection } from '../search/hit.js';
import { parseSearchRequestJson } from '../search/request-schema.js';
import type { Searcher } from '../search/searcher.js';
import type { SearchPage, SearchRequest } from '../search/types.js';
import type { IndexStore, ItemRecord } from '../store/types.js';
import { requireToken } from './auth.js';
import { refuseCrossOriginWrites, refuseRebinding } from './foreign-requests.js';
import { basemapOrigin } from './basemap.js';
import { itemOr404 } from './catalog-item.js';
import { declaresType } from './content-type.js';
import { sendCatalogFile, verifiedCatalogPath, withArchivePath } from './catalog-file.js';
import { MAX_RENDERED_SIDE, renderItem, rendersWindow } from './item-render.js';
import { errorMiddleware, HttpError } from './http-error.js';
import { jsonBodyParser } from './json-body.js';
import { buildOpenApiDocument } from './openapi.js';
import { formatQuerySchema, pagingFromQuery, pagingQuerySchema, parseWith, textSearchQuerySchema, thumbnailQuerySchema } from './query-params.js';
import { DEFAULT_QUERY_DECODE_QUEUE, DEFAULT_QUERY_DECODE_THREADS } from './query-images.js';
import { DEFAULT_MAX_SCENE_PIXELS, locateRoutes } from './locate-routes.js';
import { requestLogger } from './request-log.js';
import { sceneRoutes } from './scene-routes.js';
import { ThumbnailCache, type CachedThumbnail } from './thumbnail-cache.js';

export interface ServerLimits {
  /** Largest image upload (multipart file or raw body), bytes. */
  maxUploadBytes: number;
  /** Largest JSON body (base64 images included), bytes. */
  maxJsonBytes: number;
  /** Memory for cached thumbnails, bytes. */
  thumbnailCacheBytes: number;
  /** Most thumbnails cached, whatever their size. */
  thumbnailCacheEntries: number;
  /** Largest query image, width x height (far below the archive's limit: the model sees 224x224). */
  maxQueryPixels: number;
  /** Query images decoded at once, in worker threads (startServer). */
  queryDecodeThreads: number;
  /** Query images waiting to be decoded; past this the server answers 503. */
  queryDecodeQueue: number;
  /** Largest scene uploaded to locate in, width x height (each of its windows is embedded). */
  maxScenePixels: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxUploadBytes: 20 * 1024 * 1024,
  maxJsonBytes: 28 * 1024 * 1024,
  thumbnailCacheBytes: 64 * 1024 * 1024,
  thumbnailCacheEntries: 4096,
  maxQueryPixels: DEFAULT_MAX_QUERY_PIXELS,
  queryDecodeThreads: DEFAULT_QUERY_DECODE_THREADS,
  queryDecodeQueue: DEFAULT_QUERY_DECODE_QUEUE,
  maxScenePixels: DEFAULT_MAX_SCENE_PIXELS,
};

/** Renders the thumbnail of an item of the file at `absolutePath` (its window, for a tile). */
export type Thumbnailer = (absolutePath: string, maxSide: number, item: ItemRecord) => Promise<CachedThumbnail>;

export interface AppDeps {
  searcher: Searcher;
  store: IndexStore;
  /** Request logs go here (pino-http); none when absent. */
  logger?: Logger;
  /** Log thumbnail requests too (left out by default: a page of results loads dozens). */
  verboseLogs?: boolean;
  /** When set, everything but /healthz and the web page's static files needs this token. */
  token?: string;
  /** Without a token, host names the server answers for besides IP addresses, localhost and this machine's name (`*`: any); see foreign-requests.ts. */
  allowedHosts?: string[];
  limits?: Partial<ServerLimits>;
  /** /readyz answers 503 until this returns true (default: ready at once). */
  isReady?: () => boolean;
  /** Why /readyz answers 503 while isReady is false (default: the model is still loading). */
  whyNotReady?: () => string | undefined;
  /** An XYZ tile URL template the page's map shows under the footprints (see basemap.ts). */
  basemap?: string;
  /** Serve archive files whose real path lies outside their root (an archive indexed with --follow-links). */
  followLinks?: boolean;
  /** Renders thumbnails (default: WebP, the item's window with its file's stretch, or sharp's createThumbnail for a whole image as decoded). */
  thumbnailer?: Thumbnailer;
}

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
/** Leaflet's own files (the map), served by rsclip itself: the page loads nothing from elsewhere. */
const LEAFLET_DIR = path.dirname(createRequire(import.meta.url).resolve('leaflet/dist/leaflet.js'));
/** RFC 2046: a boundary is 1 to 70 characters, quoted or not. */
const MULTIPART_BOUNDARY = /;\s*boundary=(?:"[^"\r\n]{1,70}"|[^\s;"]{1,70})\s*(?:;|$)/i;
const DEFAULT_THUMBNAIL_SIDE = 256;

const defaultThumbnailer: Thumbnailer = async (absolutePath, maxSide, item) => {
  if (rendersWindow(item)) return { data: await renderItem(absolutePath, item, maxSide, 'webp'), contentType: 'image/webp' };
  const thumbnail = await createThumbnail(absolutePath, { maxSide, format: 'webp' });
  return { data: thumbnail.data, contentType: thumbnail.contentType };
};

const GEOJSON_TYPE = 'application/geo+json';

/** A page as JSON, or as a GeoJSON FeatureCollection when `format=geojson` or the client accepts application/geo+json first. */
function sendPage(req: Request, res: Response, page: SearchPage): void {
  const { format } = parseWith(formatQuerySchema, { format: req.query.format }, 'query string');
  const geojson = format === 'geojson' || (format === undefined && req.accepts(['application/json', GEOJSON_TYPE]) === GEOJSON_TYPE);
  res.vary('Accept');
  if (geojson) res.type(GEOJSON_TYPE).send(JSON.stringify(pageToFeatureCollection(page)));
  else res.json(page);
}

type Method = 'get' | 'post';
export interface RouteSpec {
  method: Method;
  /** Express path; the OpenAPI form replaces `:id` with `{id}`. */
  path: string;
  handlers: RequestHandler[];
}

/** Matches an express path with `:params` (no wildcards) against a request path. */
function pathPattern(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}/?$`);
}

/** Express 5 forwards rejected promises to next(); this only keeps handlers short. */
function sendJson(handler: (req: Request) => Promise<unknown> | unknown): RequestHandler {
  return async function jsonRoute(req, res) {
    res.json(await handler(req));
  };
}

function omitKey<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const { [key]: _omitted, ...rest } = value;
  return rest;
}

export function createApp(deps: AppDeps): express.Application {
  const { searcher, store } = deps;
  const followLinks = deps.followLinks === true;
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const isReady = deps.isReady ?? (() => true);
  const thumbnails = new ThumbnailCache({ maxBytes: limits.thumbnailCacheBytes, maxEntries: limits.thumbnailCacheEntries });
  const thumbnailer = deps.thumbnailer ?? defaultThumbnailer;
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: limits.maxUploadBytes, files: 1, fields: 20 } });
  const rawImage = express.raw({ type: 'image/*', limit: limits.maxUploadBytes });
  // refuses, before JSON.parse holds the thread over it, a body with more structure than any valid request
  const jsonBody = jsonBodyParser(limits.maxJsonBytes);
  const openApi = buildOpenApiDocument();
  const startedAt = Date.now();
  const basemapOrigins = deps.basemap ? [basemapOrigin(deps.basemap)] : [];

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.logger) app.use(requestLogger(deps.logger, { verbose: deps.verboseLogs === true }));
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ["'self'", 'data:', 'blob:', ...basemapOrigins],
          'connect-src': ["'self'"],
          // the page uses no web fonts: helmet's default would allow any https: source
          'font-src': ["'self'"],
          // served over plain HTTP on a LAN: upgrading would break every request
          'upgrade-insecure-requests': null,
        },
      },
      strictTransportSecurity: false,
    }),
  );
  app.use(refuseCrossOriginWrites());
  if (!deps.token) app.use(refuseRebinding(deps.allowedHosts));
  if (deps.token) {
    // /healthz stays open for liveness probes; the page's static files hold no data and must
    // load before the user can type the token into it
    const check = requireToken(deps.token);
    app.use('/api', check);
    app.use('/readyz', check);
  }

  const searchPage = (request: SearchRequest) => searcher.search(request);

  const searchByImage: RequestHandler = async (req, res) => {
    const query = parseWith(pagingQuerySchema, req.query, 'query string');
    const bytes = req.file?.buffer ?? (Buffer.isBuffer(req.body) ? req.body : undefined);
    if (!bytes || bytes.length === 0) {
      throw new RsclipError('BAD_QUERY', 'no image in the request: expected a multipart field "image" or an image/* body');
    }
    await checkQueryImage(bytes, limits.maxQueryPixels);
    sendPage(req, res, await searchPage({ terms: [{ kind: 'image', image: bytes, weight: 1 }], ...pagingFromQuery(query) }));
  };

  const imageUpload: RequestHandler = (req, res, next) => {
    if (declaresType(req, 'multipart/form-data')) {
      if (!MULTIPART_BOUNDARY.test(req.headers['content-type'] ?? '')) {
        next(new HttpError(400, 'BAD_REQUEST', 'malformed multipart body: the Content-Type has no valid boundary (multipart/form-data; boundary=...)'));
        return;
      }
      // busboy's own errors (a body that does not follow its boundary, a malformed part) are the client's
      upload.single('image')(req, res, (error?: unknown) =>
        next(error === undefined || error instanceof multer.MulterError ? error : new HttpError(400, 'BAD_REQUEST', `malformed multipart body: ${(error as Error).message}`)),
      );
    } else if (declaresType(req, 'image/*')) rawImage(req, res, next);
    else {
      next(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `expected multipart/form-data with an "image" file or an image/* body, got ${req.headers['content-type'] ?? 'no content type'}`));
    }
  };

  const sendThumbnail: RequestHandler = async (req, res) => {
    const item = await itemOr404(store, req.params.id);
    const record = item.file;
    const { size = DEFAULT_THUMBNAIL_SIDE } = parseWith(thumbnailQuerySchema, req.query, 'query string');
    const side = size as number;
    // the file is checked on every request, a revalidation included (a file deleted, replaced or
    // turned into a link that leads elsewhere is refused, cached or not: a 304 would keep the
    // browser's copy of what the catalog no longer matches); the cache spares only the decode
    const file = await verifiedCatalogPath(record, followLinks);
    const etag = `"t${side}-${item.id}-${record.contentHash.slice(0, 24)}"`;
    res.set({ ETag: etag, 'Cache-Control': 'private, max-age=3600' });
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim() === etag)) {
      res.status(304).end();
      return;
    }
    const thumbnail = await thumbnails.get(`${item.id}:${side}:${record.contentHash}`, () =>
      thumbnailer(file, side, item).catch((error: unknown) => {
        throw withArchivePath(error, record, file);
      }),
    );
    res.type(thumbnail.contentType).send(thumbnail.data);
  };

  // the path comes from the catalog, never from the request; a tile is its window as PNG
  const sendOriginal: RequestHandler = async (req, res) => {
    const item = await itemOr404(store, req.params.id);
    if (!rendersWindow(item)) return sendCatalogFile(item.file, req, res, followLinks);
    // checked before a revalidation is answered, as a thumbnail is
    const file = await verifiedCatalogPath(item.file, followLinks);
    const etag = `"w${item.id}-${item.file.contentHash.slice(0, 24)}"`;
    res.set({ ETag: etag, 'Cache-Control': 'private, max-age=3600' });
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim() === etag)) {
      res.status(304).end();
      return;
    }
    const png = await renderItem(file, item, MAX_RENDERED_SIDE, 'png').catch((error: unknown) => {
      throw withArchivePath(error, item.file, file);
    });
    res.type('image/png').send(png);
  };

  const routes: RouteSpec[] = [
    { method: 'get', path: '/healthz', handlers: [sendJson(() => ({ status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }))] },
    {
      method: 'get',
      path: '/readyz',
      handlers: [
        async (_req, res) => {
          if (!isReady()) throw new HttpError(503, 'NOT_READY', deps.whyNotReady?.() ?? 'the model is still loading');
          res.json({ status: 'ready', model: searcher.encoder.info.id, images: await store.countFiles('ok') });
        },
      ],
    },
    { method: 'get', path: '/api/openapi.json', handlers: [(_req, res) => void res.json(openApi)] },
    {
      method: 'get',
      path: '/api/stats',
      handlers: [
        sendJson(async () => ({
          // no absolute directories: where the index and the model live is the operator's business
          index: omitKey(await store.stats(), 'location'),
          meta: omitKey(store.meta, 'modelDir'),
          model: { id: searcher.encoder.info.id, fingerprint: searcher.encoder.info.fingerprint, embeddingDim: searcher.encoder.info.embeddingDim, variant: searcher.encoder.info.variant },
          textBatching: searcher.textBatcher.counts,
          thumbnailCache: { entries: thumbnails.size, bytes: thumbnails.bytes },
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
          page: { basemap: deps.basemap ?? null },
        })),
      ],
    },
    {
      method: 'get',
      path: '/api/search',
      handlers: [
        async (req, res) => {
          const query = parseWith(textSearchQuerySchema, req.query, 'query string');
          sendPage(req, res, await searchPage({ terms: [{ kind: 'text', text: query.q as string, weight: 1 }], ...pagingFromQuery(query) }));
        },
      ],
    },
    {
      method: 'post',
      path: '/api/search',
      handlers: [
        (req, _res, next) => next(declaresType(req, 'application/json') ? undefined : new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `expected an application/json body, got ${req.headers['content-type'] ?? 'no content type'}`)),
        jsonBody,
        async (req, res) => {
          const request = parseSearchRequestJson(req.body);
          // the page sends its filters as the GET routes take them (key=value), its terms in the body
          const { filter } = pagingFromQuery(parseWith(pagingQuerySchema, req.query, 'query string'));
          if (filter) request.filter = { ...filter, ...request.filter };
          for (const term of request.terms) if (term.kind === 'image' && typeof term.image !== 'string') await checkQueryImage(term.image, limits.maxQueryPixels);
          sendPage(req, res, await searchPage(request));
        },
      ],
    },
    { method: 'post', path: '/api/search/image', handlers: [imageUpload, searchByImage] },
    {
      method: 'get',
      path: '/api/images/:id',
      handlers: [
        sendJson(async (req) => {
          const item = await itemOr404(store, req.params.id);
          return buildItemMetadata(item, (await store.getFields([item.id])).get(item.id) ?? {});
        }),
      ],
    },
    {
      method: 'get',
      path: '/api/images/:id/similar',
      handlers: [
        async (req, res) => {
          const item = await itemOr404(store, req.params.id);
          const query = parseWith(pagingQuerySchema, req.query, 'query string');
          sendPage(req, res, await searchPage({ terms: [{ kind: 'id', id: item.id, weight: 1 }], excludeIds: [item.id], ...pagingFromQuery(query) }));
        },
      ],
    },
    { method: 'get', path: '/api/images/:id/thumbnail', handlers: [sendThumbnail] },
    { method: 'get', path: '/api/images/:id/file', handlers: [sendOriginal] },
    ...sceneRoutes(store, followLinks, thumbnails),
    ...locateRoutes({ searcher, store, imageUpload, jsonBody, maxQueryPixels: limits.maxQueryPixels, maxScenePixels: limits.maxScenePixels }),
  ];
  for (const route of routes) app[route.method](route.path, ...route.handlers);

  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: '1h' }));
  app.use('/vendor/leaflet', express.static(LEAFLET_DIR, { index: false, maxAge: '1d' }));

  const patterns = routes.map((r) => ({ ...r, pattern: pathPattern(r.path) }));
  app.use(function unknownRoute(req, _res, next) {
    const allowed = [...new Set(patterns.filter((r) => r.pattern.test(req.path)).map((r) => r.method.toUpperCase()))];
    if (allowed.length > 0) {
      const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
      next(new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use ${allow.join(', ')}`, { Allow: allow.join(', ') }));
    } else next(new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path}`));
  });
  const index = store.describe();
  app.use(errorMiddleware(deps.logger, { [index.location]: index.backend === 'postgres' ? '<index database>' : '<index folder>', [searcher.encoder.info.dir]: '<model folder>' }));
  return app;
}
