/**
 * The OpenAPI 3.1 document of the HTTP API, served at /api/openapi.json. A test checks that
 * every route the app registers is documented here and every documented route answers.
 */
import { DEFAULT_K, MAX_COLLAPSE_WINDOW, MAX_EF, MAX_K, MAX_TERMS, MAX_WINDOW } from '../search/limits.js';
import { DEFAULT_NMS_THRESHOLD } from '../search/nms.js';
import { FILTER_KEYS, filterJsonSchema, filterSyntax } from '../store/filter.js';
import { version } from '../version.js';

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, schema: object) => ({ description, content: { 'application/json': { schema } } });
/** A page of hits: JSON, or GeoJSON with `format=geojson` / `Accept: application/geo+json`. */
const pageResponse = {
  description: 'a page of results',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/SearchPage' } }, 'application/geo+json': { schema: { $ref: '#/components/schemas/FeatureCollection' } } },
};

const locateParameters = [
  { name: 'q', in: 'query', schema: { type: 'string' }, description: 'the text to locate (required unless a query image is posted)' },
  { name: 'top', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 5 }, description: 'best boxes after suppression' },
  { name: 'nms', in: 'query', schema: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: DEFAULT_NMS_THRESHOLD }, description: 'suppress a tile covered by at least this share of a better one' },
  { name: 'format', in: 'query', schema: { enum: ['json', 'geojson', 'png'] }, description: 'json (default), geojson (every tile as a Feature; also by Accept), or png (the heat map alone)' },
];
const locateResponse = {
  description: 'the located query: scene (path, size, bbox), tiles (rank, id, key, window, place, score; best first), top (the best boxes), heatMap (url: a PNG data URL, bbox, corners: [lon, lat] from the top left, clockwise, width, height, minScore, maxScore), timings',
  content: { 'application/json': { schema: { type: 'object' } }, 'application/geo+json': { schema: ref('FeatureCollection') }, 'image/png': {} },
};

/** The terms of a query as JSON (src/search/request-schema.ts): POST /api/search and a locate with a JSON body. */
const queryTerms = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_TERMS,
  items: {
    oneOf: [
      { type: 'object', required: ['text'], properties: { kind: { const: 'text' }, text: { type: 'string' }, weight: { type: 'number', default: 1 } } },
      { type: 'object', required: ['id'], properties: { kind: { const: 'id' }, id: { type: 'integer' }, weight: { type: 'number', default: 1 } } },
      { type: 'object', required: ['image'], properties: { kind: { const: 'image' }, image: { type: 'string', contentEncoding: 'base64' }, weight: { type: 'number', default: 1 } } },
    ],
  },
  description: 'the query vector is the re-normalised sum of weight * unit vector; negative weights subtract',
};

const imageUploadBody = { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties: { image: { type: 'string', format: 'binary' } } } }, 'image/*': {} } };

/** A filter key that is also a query parameter of its own; its text is the key's `key=value` value. */
function filterParameter(key: 'bbox' | 'near' | 'within' | 'since' | 'until', extra = ''): Record<string, unknown> {
  const spec = FILTER_KEYS[key];
  return { name: spec.name, in: 'query', schema: { type: 'string' }, description: `${spec.syntax.replace(`${spec.name}=`, '')}: ${spec.schema.description ?? ''}${extra}` };
}

const pagingParameters = [
  { name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_K, default: DEFAULT_K }, description: 'results per page' },
  { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, maximum: MAX_WINDOW - 1 }, description: 'results to skip (offset + k <= ' + MAX_WINDOW + ', <= ' + MAX_COLLAPSE_WINDOW + ' with collapse); prefer cursor, whose pages never repeat a hit' },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page of the same query: the next page holds the hits after its last one (none twice, scores never rising)' },
  { name: 'exact', in: 'query', schema: { type: 'boolean' }, description: 'scan every vector instead of the HNSW graph' },
  { name: 'ef', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_EF }, description: 'HNSW search breadth (default: from k, 256 at k 20, 512 for a query with text)' },
  { name: 'foldCopies', in: 'query', schema: { type: 'boolean', default: true }, description: 'fold byte-identical copies into the best hit (listed as copies); false shows each copy as a hit' },
  { name: 'collapse', in: 'query', schema: { oneOf: [{ type: 'boolean' }, { type: 'number', exclusiveMinimum: 0, maximum: 1 }] }, description: 'fold near-duplicates (true, or a cosine threshold in (0, 1])' },
  {
    name: 'nms',
    in: 'query',
    schema: { oneOf: [{ type: 'boolean' }, { type: 'number', exclusiveMinimum: 0, maximum: 1 }], default: true },
    description: `leave out a tile covered (at least this share of the smaller window, default ${DEFAULT_NMS_THRESHOLD}) by a better hit of the same scene; false (or off) shows every tile`,
  },
  {
    name: 'filter',
    in: 'query',
    schema: { type: 'array', items: { type: 'string' } },
    style: 'form',
    explode: true,
    description: `repeatable key=value, all must hold: ${filterSyntax()} (NAME: a user field)`,
  },
  filterParameter('bbox'),
  filterParameter('near', ' (the radius in `radius`)'),
  { name: 'radius', in: 'query', schema: { type: 'string' }, description: 'radius of `near`: metres or text like 5km, 500m (default 0: the footprint contains the point)' },
  filterParameter('within', ' (URL-encoded GeoJSON text)'),
  filterParameter('since'),
  filterParameter('until'),
  { name: 'format', in: 'query', schema: { enum: ['json', 'geojson'] }, description: 'geojson: the page as an RFC 7946 FeatureCollection (also with Accept: application/geo+json)' },
];
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
const searchErrors = {
  '400': errorResponse('bad query'),
  '401': errorResponse('token missing or wrong'),
  '403': errorResponse('FORBIDDEN: without a token, addressed to a host name the server does not answer for (--allowed-host); or a POST a browser sent from a page of another origin'),
  '503': errorResponse('the index is unavailable: corrupt (the hint says how to repair it), its database unreachable (INDEX_UNAVAILABLE: retry once it is back), or the server shutting down before it was done (SHUTTING_DOWN)'),
};

export function buildOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'rsclip', version, description: 'Search a remote-sensing image archive by text, example image or indexed image (CLIP + HNSW).' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'only when the server runs with --token' },
        queryToken: { type: 'apiKey', in: 'query', name: 'token' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } } } },
        },
        Hit: {
          type: 'object',
          properties: {
            rank: { type: 'integer' },
            id: { type: 'integer' },
            score: { type: 'number', description: 'cosine similarity to the query' },
            path: { type: 'string' },
            fileName: { type: 'string' },
            bytes: { type: 'integer' },
            modified: { type: 'string', format: 'date-time' },
            width: { type: ['integer', 'null'] },
            height: { type: ['integer', 'null'] },
            format: { type: ['string', 'null'] },
            window: {
              type: 'object',
              description: "the item's window in the file's pixels; scale s: a tile of s x the model's input",
              properties: { x: { type: 'integer' }, y: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' }, scale: { type: 'integer' } },
            },
            footprint: { type: 'object', description: 'GeoJSON Polygon or MultiPolygon (EPSG:4326), when the file is georeferenced' },
            center: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2, description: '[lon, lat]' },
            gsd: { type: 'number', description: 'ground metres per pixel' },
            stac: { type: 'object', properties: { item: { type: 'string' }, collection: { type: ['string', 'null'] } } },
            fields: { type: 'object', additionalProperties: true },
            duplicates: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, score: { type: 'number' }, similarity: { type: 'number' }, path: { type: 'string' } } } },
            copies: { type: 'array', description: 'other files with the same bytes, folded into this hit', items: { type: 'object', properties: { id: { type: 'integer' }, path: { type: 'string' } } } },
          },
        },
        SearchPage: {
          type: 'object',
          required: ['hits', 'k', 'offset', 'exact'],
          properties: {
            hits: { type: 'array', items: ref('Hit') },
            k: { type: 'integer' },
            offset: { type: 'integer' },
            nextCursor: { type: 'string' },
            exact: { type: 'boolean' },
            ef: { type: 'integer' },
            filtered: { type: 'integer', description: 'images the filter allows' },
            timings: { type: 'object', properties: { embedMs: { type: 'number' }, searchMs: { type: 'number' } } },
            notices: { type: 'array', items: { type: 'string' }, description: 'what the caller should know about the query, such as a text longer than the model reads (absent when nothing)' },
          },
        },
        FeatureCollection: {
          type: 'object',
          required: ['type', 'features'],
          description: 'RFC 7946: one Feature per hit (id, geometry = footprint or null, bbox) with rank, score, path, window, center, gsd and fields as properties',
          properties: { type: { const: 'FeatureCollection' }, bbox: { type: 'array', items: { type: 'number' } }, features: { type: 'array', items: { type: 'object' } }, nextCursor: { type: 'string' }, notices: { type: 'array', items: { type: 'string' } } },
        },
        SearchRequest: {
          type: 'object',
          required: ['terms'],
          additionalProperties: false,
          properties: {
            terms: queryTerms,
            k: { type: 'integer', minimum: 1, maximum: MAX_K },
            offset: { type: 'integer', minimum: 0 },
            cursor: { type: 'string' },
            exact: { type: 'boolean' },
            ef: { type: 'integer', minimum: 1, maximum: MAX_EF },
            collapse: { oneOf: [{ type: 'boolean' }, { type: 'number', exclusiveMinimum: 0, maximum: 1 }] },
            nms: { oneOf: [{ type: 'boolean' }, { type: 'number', exclusiveMinimum: 0, maximum: 1 }] },
            filter: filterJsonSchema(),
          },
        },
      },
    },
    security: [{}, { bearer: [] }, { queryToken: [] }],
    paths: {
      '/healthz': { get: { summary: 'liveness', security: [], responses: { '200': json('the process is up', { type: 'object' }) } } },
      '/readyz': {
        get: { summary: 'readiness: model and index loaded', responses: { '200': json('ready', { type: 'object' }), '401': errorResponse('token missing or wrong'), '503': errorResponse('still loading, or the index\'s database is unreachable') } },
      },
      '/api/openapi.json': { get: { summary: 'this document', responses: { '200': json('OpenAPI 3.1', { type: 'object' }), '401': errorResponse('token missing or wrong') } } },
      '/api/stats': { get: { summary: 'index and model statistics', responses: { '200': json('statistics', { type: 'object' }), ...searchErrors } } },
      '/api/search': {
        get: {
          summary: 'text search',
          parameters: [{ name: 'q', in: 'query', required: true, schema: { type: 'string', minLength: 1 } }, ...pagingParameters],
          responses: { '200': pageResponse, ...searchErrors },
        },
        post: {
          summary: 'structured search: weighted texts, images (base64) and indexed ids; filters in the query string hold too (the body\'s filter wins on a shared key)',
          parameters: pagingParameters.filter((p) => ['filter', 'bbox', 'near', 'radius', 'within', 'since', 'until', 'format'].includes(p.name as string)),
          requestBody: { required: true, content: { 'application/json': { schema: ref('SearchRequest') } } },
          responses: { '200': pageResponse, ...searchErrors, '404': errorResponse('an id term names no indexed image'), '413': errorResponse('body too large, or with more brackets, commas and colons than any valid request'), '415': errorResponse('an image term is not an image') },
        },
      },
      '/api/search/image': {
        post: {
          summary: 'search by an example image: multipart field `image`, or the raw bytes with an image/* content type',
          parameters: pagingParameters,
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' } } } },
              'image/*': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '200': pageResponse,
            ...searchErrors,
            '413': errorResponse('upload too large, or more pixels than a query image may have'),
            '415': errorResponse('not an image, or a vector image (SVG)'),
            '503': errorResponse('too many image queries waiting to be decoded; retry'),
          },
        },
      },
      '/api/images/{id}': {
        get: { summary: 'metadata of an indexed image', parameters: [idParameter], responses: { '200': json('metadata and user fields', { type: 'object' }), ...searchErrors, '404': errorResponse('no such image') } },
      },
      '/api/images/{id}/similar': {
        get: {
          summary: 'more like this: images similar to an indexed image (itself left out)',
          parameters: [idParameter, ...pagingParameters],
          responses: { '200': pageResponse, ...searchErrors, '404': errorResponse('no such image') },
        },
      },
      '/api/images/{id}/thumbnail': {
        get: {
          summary: 'a WebP thumbnail of the item (a tile: its window, with the scene\'s stretch; ETag; 304 on If-None-Match while the file is unchanged)',
          parameters: [idParameter, { name: 'size', in: 'query', schema: { enum: [128, 256, 512], default: 256 } }],
          responses: {
            '200': { description: 'image/webp', content: { 'image/webp': {} } },
            '304': { description: 'not modified' },
            ...searchErrors,
            '404': errorResponse('no such image, or its file is gone or leads outside the archive'),
            '409': errorResponse('the file changed since it was indexed'),
            '415': errorResponse('the file can no longer be decoded'),
          },
        },
      },
      '/api/images/{id}/file': {
        get: {
          summary: 'the original file, as indexed (a regular file under the archive folder, unchanged since); for a tile of a scene, its window as PNG with the scene\'s stretch',
          parameters: [idParameter],
          responses: {
            '200': { description: 'the file' },
            '304': { description: 'not modified' },
            ...searchErrors,
            '404': errorResponse('no such image, or its file is gone or leads outside the archive'),
            '409': errorResponse('the file changed since it was indexed'),
          },
        },
      },
      '/api/images/{id}/locate': {
        get: {
          summary: 'locate a text in the scene of this item: every tile scored, the best boxes after suppression, a heat map with the scene bbox',
          parameters: [idParameter, ...locateParameters],
          responses: { '200': locateResponse, ...searchErrors, '404': errorResponse('no such image') },
        },
        post: {
          summary: 'locate an uploaded query image (plus q, when given), or a whole weighted query as JSON terms (texts, ids, base64 images; no q then), in the scene of this item',
          parameters: [idParameter, ...locateParameters],
          requestBody: { ...imageUploadBody, content: { ...imageUploadBody.content, 'application/json': { schema: { type: 'object', required: ['terms'], additionalProperties: false, properties: { terms: queryTerms } } } } },
          responses: { '200': locateResponse, ...searchErrors, '404': errorResponse('no such image'), '413': errorResponse('upload too large, or more pixels than a query image may have, or a JSON body with more structure than any valid request'), '415': errorResponse('not an image') },
        },
      },
      '/api/images/{id}/scene': {
        get: {
          summary: "the item's scene: size, CRS, geoTransform, bbox, footprint, corners (lon/lat, for overlays), lonLatGrid (columns, rows, geographic, points: [lon, lat] at pixel corners i·width/columns, j·height/rows from the top left, null past the limb; for mapping pixels), GSD, bands, acquisition time, fields",
          parameters: [idParameter],
          responses: { '200': json('the scene', { type: 'object' }), ...searchErrors, '404': errorResponse('no such image') },
        },
      },
      '/api/images/{id}/overview': {
        get: {
          summary: "the item's whole scene as a WebP overview (for a map overlay), with its stretch",
          parameters: [idParameter, { name: 'size', in: 'query', schema: { enum: [256, 512, 1024], default: 512 } }],
          responses: { '200': { description: 'image/webp', content: { 'image/webp': {} } }, '304': { description: 'not modified' }, ...searchErrors, '404': errorResponse('no such image, or its file is gone') },
        },
      },
      '/api/sample': {
        get: {
          summary: 'a sample of the archive: items spread over the index, as metadata',
          parameters: [{ name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 12 } }],
          responses: { '200': json('items and the number of items', { type: 'object' }), ...searchErrors },
        },
      },
      '/api/failed': {
        get: {
          summary: 'files the indexer could not read, with their error: the first `limit` by path (`rsclip errors` lists them all)',
          parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }],
          responses: { '200': json('files (path, error, indexed) and the number of failed files (total)', { type: 'object' }), ...searchErrors },
        },
      },
      '/api/locate': {
        post: {
          summary: 'locate q in an uploaded scene (not indexed): it is tiled and embedded on the fly',
          parameters: locateParameters,
          requestBody: imageUploadBody,
          responses: { '200': locateResponse, ...searchErrors, '413': errorResponse('upload too large, or a scene with more pixels than the server tiles'), '415': errorResponse('not an image') },
        },
      },
    },
  };
}
