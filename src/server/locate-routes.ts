/**
 * The locate routes: where in one scene the query is. An indexed scene is named by the id of any
 * of its items and scored from its stored vectors (a text in `q`, and/or an uploaded query
 * image, or a whole weighted query as JSON terms, as POST /api/search takes them); an uploaded
 * scene is tiled and embedded on the fly. The answer is JSON (every tile's
 * score, the best boxes after suppression, the heat map as a data URL with its bbox), GeoJSON
 * (every tile), or the heat map alone as PNG.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { RsclipError, withPathsRenamed } from '../errors.js';
import { locateToFeatureCollection } from '../locate/locate-geojson.js';
import { indexTiling, locateInImage, locateInIndexedFile, MAX_LOCATE_TOP, type LocateOptions, type LocateResult } from '../locate/locate.js';
import { checkQueryImage } from '../model/image.js';
import { MAX_TEXT_LENGTH } from '../search/limits.js';
import { describeZodIssues, queryTermsSchema, toQueryTerms } from '../search/request-schema.js';
import type { Searcher } from '../search/searcher.js';
import type { QueryTerm } from '../search/types.js';
import type { FileRecord, IndexStore } from '../store/types.js';
import type { RouteSpec } from './app.js';
import { itemOr404 } from './catalog-item.js';
import { declaresType } from './content-type.js';
import { HttpError } from './http-error.js';
import { countParam, nmsParam, oneString, parseWith } from './query-params.js';

export interface LocateRouteDeps {
  searcher: Searcher;
  store: IndexStore;
  /** Takes an uploaded image into req.file (multipart "image") or req.body (image/*). */
  imageUpload: RequestHandler;
  /** Parses an application/json body into req.body. */
  jsonBody: RequestHandler;
  maxQueryPixels: number;
  /** Largest uploaded scene, width x height (each window of it is embedded). */
  maxScenePixels: number;
}

/** An uploaded scene of 4096 x 4096 pixels is about 600 windows of 224 px. */
export const DEFAULT_MAX_SCENE_PIXELS = 4096 * 4096;

const locateQuery = {
  q: oneString(z.string().trim().min(1, 'q must not be empty').max(MAX_TEXT_LENGTH)).optional(),
  top: countParam(MAX_LOCATE_TOP),
  nms: nmsParam,
  format: z.enum(['json', 'geojson', 'png']).optional(),
  token: z.string().optional(),
};
const locateQuerySchema = z.strictObject(locateQuery);
const locateTermsSchema = z.strictObject({ terms: queryTermsSchema });
type LocateQuery = z.output<typeof locateQuerySchema>;

function optionsOf(query: LocateQuery): LocateOptions {
  // nms=on (true) is the default share
  return { ...(query.top === undefined ? {} : { top: query.top }), ...(typeof query.nms === 'number' || query.nms === false ? { nmsThreshold: query.nms } : {}) };
}

/** The result as JSON: the heat map's PNG as a data URL, so an uploaded query needs one request. */
export function locateResultJson(result: LocateResult): unknown {
  const { png, ...heatMap } = result.heatMap;
  return { ...result, heatMap: { ...heatMap, url: `data:image/png;base64,${png.toString('base64')}` } };
}

/** Scores an indexed scene; its heat map's bbox is the scene's. */
async function locateInScene(store: IndexStore, file: FileRecord, vector: Float32Array, query: LocateQuery): Promise<LocateResult> {
  return locateInIndexedFile(store, file, vector, optionsOf(query));
}

function sendResult(req: Request, res: Response, query: LocateQuery, result: LocateResult): void {
  const format = query.format ?? (req.accepts(['application/json', 'application/geo+json']) === 'application/geo+json' ? 'geojson' : 'json');
  res.vary('Accept');
  if (format === 'png') res.type('image/png').send(result.heatMap.png);
  else if (format === 'geojson') res.type('application/geo+json').send(JSON.stringify(locateToFeatureCollection(result)));
  else res.json(locateResultJson(result));
}

/** TIFF and BigTIFF, either byte order: the GeoTIFF reader (and its georeference) is chosen by the file's extension. */
function isTiff(bytes: Buffer): boolean {
  const magic = bytes.subarray(0, 4).toString('latin1');
  return magic === 'II*\0' || magic === 'MM\0*' || magic === 'II+\0' || magic === 'MM\0+';
}

function uploadedBytes(req: Request): Buffer | undefined {
  const bytes = req.file?.buffer ?? (Buffer.isBuffer(req.body) ? req.body : undefined);
  return bytes && bytes.length > 0 ? bytes : undefined;
}

/** A signal that aborts when the response's connection closes before the response was sent. */
function abortedWhenGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new RsclipError('BAD_QUERY', 'the client went away'));
  });
  return controller.signal;
}

export function locateRoutes(deps: LocateRouteDeps): RouteSpec[] {
  const { searcher, store } = deps;

  const indexedScene = async (rawId: unknown) => (await itemOr404(store, rawId)).file;

  const locateText: RequestHandler = async (req, res) => {
    const file = await indexedScene(req.params.id);
    const query = parseWith(locateQuerySchema, req.query, 'query string');
    if (query.q === undefined) throw new RsclipError('BAD_QUERY', 'no query: expected q=TEXT, or POST a query image');
    const vector = await searcher.queryVector([{ kind: 'text', text: query.q, weight: 1 }]);
    sendResult(req, res, query, await locateInScene(store, file, vector, query));
  };

  const locateImage: RequestHandler = async (req, res) => {
    const file = await indexedScene(req.params.id);
    const query = parseWith(locateQuerySchema, req.query, 'query string');
    const bytes = uploadedBytes(req);
    if (!bytes) throw new RsclipError('BAD_QUERY', 'no query image in the request: expected a multipart field "image" or an image/* body');
    await checkQueryImage(bytes, deps.maxQueryPixels);
    const terms: QueryTerm[] = [{ kind: 'image', image: bytes, weight: 1 }];
    if (query.q !== undefined) terms.push({ kind: 'text', text: query.q, weight: 1 });
    sendResult(req, res, query, await locateInScene(store, file, await searcher.queryVector(terms), query));
  };

  /** The whole weighted query as JSON terms (texts, ids, base64 images, with their signs and weights). */
  const locateTerms: RequestHandler = async (req, res) => {
    const file = await indexedScene(req.params.id);
    const query = parseWith(locateQuerySchema, req.query, 'query string');
    if (query.q !== undefined) throw new RsclipError('BAD_QUERY', 'q and a JSON body of terms were both given', { hint: 'put the text among the terms' });
    const parsed = locateTermsSchema.safeParse(req.body);
    if (!parsed.success) throw new RsclipError('BAD_QUERY', `invalid locate request: ${describeZodIssues(parsed.error)}`);
    const terms = toQueryTerms(parsed.data.terms);
    for (const term of terms) if (term.kind === 'image' && typeof term.image !== 'string') await checkQueryImage(term.image, deps.maxQueryPixels);
    sendResult(req, res, query, await locateInScene(store, file, await searcher.queryVector(terms), query));
  };

  /** POST to an indexed scene: a JSON body of terms, or an uploaded query image. */
  const takeBody: RequestHandler = (req, res, next) => {
    if (declaresType(req, 'application/json')) deps.jsonBody(req, res, next);
    else if (declaresType(req, ['multipart/form-data', 'image/*'])) deps.imageUpload(req, res, next);
    else {
      const got = req.headers['content-type'] ?? 'no content type';
      next(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `expected an application/json body of terms, multipart/form-data with an "image" file, or an image/* body, got ${got}`));
    }
  };
  const locatePosted: RequestHandler = (req, res, next) => (declaresType(req, 'application/json') ? locateTerms : locateImage)(req, res, next);

  const locateUploadedScene: RequestHandler = async (req, res) => {
    const query = parseWith(locateQuerySchema, req.query, 'query string');
    if (query.q === undefined) throw new RsclipError('BAD_QUERY', 'no query: expected q=TEXT');
    const bytes = uploadedBytes(req);
    if (!bytes) throw new RsclipError('BAD_QUERY', 'no scene in the request: expected a multipart field "image" or an image/* body');
    // a raster image, as every query image (no SVG), its size checked by the tiling; a TIFF goes to
    // the scene reader, which reads some that libvips cannot
    const tiff = isTiff(bytes);
    if (!tiff) await checkQueryImage(bytes, Number.MAX_SAFE_INTEGER);
    const vector = await searcher.queryVector([{ kind: 'text', text: query.q, weight: 1 }]);
    const dir = await mkdtemp(path.join(tmpdir(), 'rsclip-locate-'));
    try {
      // geotiff.js and libvips read windows from a file: the upload is written once, then read in windows
      const file = path.join(dir, tiff ? 'scene.tif' : 'scene');
      await writeFile(file, bytes);
      const name = req.file?.originalname ?? 'uploaded scene';
      // each window is a model run: a client that goes away stops them
      const options = { ...optionsOf(query), ...indexTiling(store.meta), maxPixels: deps.maxScenePixels, signal: abortedWhenGone(res) };
      const result = await locateInImage(searcher.encoder, file, name, vector, options).catch((error: unknown) => {
        throw withPathsRenamed(error, [[file, name]]);
      });
      sendResult(req, res, query, result);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return [
    { method: 'get', path: '/api/images/:id/locate', handlers: [locateText] },
    { method: 'post', path: '/api/images/:id/locate', handlers: [takeBody, locatePosted] },
    { method: 'post', path: '/api/locate', handlers: [deps.imageUpload, locateUploadedScene] },
  ];
}
