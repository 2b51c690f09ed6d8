/**
 * What the web page's map and scene viewer need besides search: a scene as a whole (its size,
 * CRS, bounds and corners in lon/lat, GSD, bands, acquisition time, fields) and its overview
 * image for a map overlay; a sample of the archive and the failed files for the start page.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { lonLatTransform, recordedCrs, type Crs, type LonLat } from '../geo/crs.js';
import { wholeImagePlace } from '../geo/footprint.js';
import { pixelToCrs, type GeoTransform } from '../geo/geotransform.js';
import { normalizeLon } from '../geo/lonlat-ring.js';
import { encodeRgb } from '../raster/libvips.js';
import { openRaster } from '../raster/open-raster.js';
import { computeSceneStretch, defaultBands } from '../raster/radiometry.js';
import { Scene } from '../raster/scene.js';
import { buildItemMetadata } from '../search/hit.js';
import type { FileRecord, IndexStore, ItemRecord } from '../store/types.js';
import type { RouteSpec } from './app.js';
import { verifiedCatalogPath, withArchivePath } from './catalog-file.js';
import { itemOr404 } from './catalog-item.js';
import { countParam, parseWith, sizeParam } from './query-params.js';
import type { ThumbnailCache } from './thumbnail-cache.js';

const overviewQuerySchema = z.strictObject({
  size: sizeParam([256, 512, 1024]),
  token: z.string().optional(),
});
const sampleQuerySchema = z.strictObject({ k: countParam(100), token: z.string().optional() });
/** Failed files listed per request (an archive may have many); `rsclip errors` lists them all. */
const FAILED_LIST_DEFAULT = 100;
const failedQuerySchema = z.strictObject({ limit: countParam(1000), token: z.string().optional() });

/** Cells a side (at most; fewer for a scene of fewer pixels) of the lon/lat grid the viewer maps its cursor with. */
const LONLAT_GRID_CELLS = 16;

/**
 * [lon, lat] at the pixel corners (i * width / columns, j * height / rows), row by row from the top
 * left, through the CRS's own transform (datum shifts included); null where a point has no lon/lat
 * (past the Earth's limb). The viewer interpolates within one cell: as longitudes and latitudes in a
 * geographic CRS (exact there: lon/lat are affine in pixels), as directions from the Earth's centre
 * in a projected one (a cell small enough that the projection is nearly linear across it). Four
 * corners could not do it: a whole-world scene's corners are two poles, ±180 the same meridian.
 */
function lonLatGrid(crs: Crs, geoTransform: GeoTransform, width: number, height: number) {
  const transform = lonLatTransform(crs);
  const columns = Math.max(1, Math.min(LONLAT_GRID_CELLS, width));
  const rows = Math.max(1, Math.min(LONLAT_GRID_CELLS, height));
  // 1e-9 degrees (0.1 mm): far below the readout's 1e-5
  const round = (v: number) => Math.round(v * 1e9) / 1e9;
  const points: (LonLat | null)[] = [];
  for (let j = 0; j <= rows; j++) {
    for (let i = 0; i <= columns; i++) {
      const lonLat = transform.toLonLat(...pixelToCrs(geoTransform, (i * width) / columns, (j * height) / rows));
      points.push(lonLat && [round(normalizeLon(lonLat[0])), round(lonLat[1])]);
    }
  }
  return { columns, rows, geographic: crs.geographic, points };
}

/**
 * The scene of an item as the page shows it; `corners` (top-left, top-right, bottom-right,
 * bottom-left, as [lon, lat]) place the overview on the map, `lonLatGrid` maps the viewer's cursor.
 */
export function describeScene(item: ItemRecord, fields: ReturnType<typeof buildItemMetadata>['fields']) {
  const file = item.file;
  const width = file.width ?? item.window.width;
  const height = file.height ?? item.window.height;
  const crs = file.geo ? recordedCrs(file.geo) : null;
  let place = null;
  let corners: LonLat[] | null = null;
  let grid: ReturnType<typeof lonLatGrid> | null = null;
  if (crs && file.geo) {
    ({ place, corners } = wholeImagePlace({ crs, geoTransform: file.geo.geoTransform, width, height, source: file.geo.source }));
    grid = lonLatGrid(crs, file.geo.geoTransform, width, height);
  }
  return {
    fileId: file.id,
    path: file.path,
    width,
    height,
    format: file.format,
    crs: file.geo?.crs ?? null,
    epsg: file.geo?.epsg ?? null,
    geoTransform: file.geo?.geoTransform ?? null,
    bbox: place?.bbox ?? null,
    footprint: place?.footprint ?? null,
    corners,
    lonLatGrid: grid,
    gsd: place && Number.isFinite(place.gsd) ? place.gsd : null,
    bands: file.stretch?.bands ?? null,
    datetime: file.stac ? { start: file.stac.start, end: file.stac.end } : null,
    stac: file.stac ? { item: file.stac.item, collection: file.stac.collection } : null,
    item: { id: item.id, key: item.key, window: item.window },
    fields,
  };
}

/**
 * `followLinks`: serve files whose real path lies outside their root (an index made with
 * --follow-links); `cache`: where rendered overviews are kept (the thumbnails' cache).
 */
export function sceneRoutes(store: IndexStore, followLinks: boolean, cache: ThumbnailCache): RouteSpec[] {
  const sceneJson: RequestHandler = async (req, res) => {
    const item = await itemOr404(store, req.params.id);
    res.json(describeScene(item, (await store.getFields([item.id])).get(item.id) ?? {}));
  };

  const overview: RequestHandler = async (req, res) => {
    const item = await itemOr404(store, req.params.id);
    const { size = 512 } = parseWith(overviewQuerySchema, req.query, 'query string');
    // the file is checked on every request, a revalidation too (a file changed, deleted or turned
    // into a link that leads elsewhere is refused, cached or not): a 304 would keep its old overview
    const file = await verifiedCatalogPath(item.file, followLinks);
    const etag = `"o${size}-${item.file.id}-${item.file.contentHash.slice(0, 24)}"`;
    res.set({ ETag: etag, 'Cache-Control': 'private, max-age=3600' });
    if (req.headers['if-none-match']?.split(',').some((t) => t.trim() === etag)) {
      res.status(304).end();
      return;
    }
    // every footprint of a scene shows its overview: one render serves them all, then the cache does
    const rendered = await cache.get(`overview:${item.file.id}:${size}:${item.file.contentHash}`, async () => {
      const data = await renderOverview(file, item.file, size as number).catch((error: unknown) => {
        throw withArchivePath(error, item.file, file);
      });
      return { data, contentType: 'image/webp' };
    });
    res.type(rendered.contentType).send(rendered.data);
  };

  const sample: RequestHandler = async (req, res) => {
    const { k = 12 } = parseWith(sampleQuerySchema, req.query, 'query string');
    const chosen = await store.sampleItemIds(k as number);
    const [items, fields, total] = await Promise.all([store.getItems(chosen), store.getFields(chosen), store.countItems()]);
    res.json({ items: items.map((item) => buildItemMetadata(item, fields.get(item.id) ?? {})), total });
  };

  const failed: RequestHandler = async (req, res) => {
    const { limit = FAILED_LIST_DEFAULT } = parseWith(failedQuerySchema, req.query, 'query string');
    const [files, total] = await Promise.all([store.listFiles('error', limit as number), store.countFiles('error')]);
    res.json({ files: files.map((f) => ({ path: f.path, error: f.error === null ? null : archiveRelative(f.error, f), indexed: new Date(f.indexedAt).toISOString() })), total });
  };

  return [
    { method: 'get', path: '/api/images/:id/scene', handlers: [sceneJson] },
    { method: 'get', path: '/api/images/:id/overview', handlers: [overview] },
    { method: 'get', path: '/api/sample', handlers: [sample] },
    { method: 'get', path: '/api/failed', handlers: [failed] },
  ];
}

/**
 * A failed file's stored error as the other answers name files: by their archive-relative path
 * (the indexer recorded the absolute one), other paths under the root relative to it, and the
 * root itself as `<archive folder>`.
 */
function archiveRelative(text: string, file: FileRecord): string {
  const root = file.root.replace(/[\\/]+$/, '');
  if (root === '') return text;
  let out = text.replaceAll(file.absolutePath, file.path);
  for (const sep of ['/', '\\']) out = out.replaceAll(root + sep, '');
  // the root on its own (a folder named like it and longer, /archive2 beside /archive, is left as it is)
  return out.replace(new RegExp(`${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=$|[\\s:;,'"()])`, 'g'), '<archive folder>');
}

/** The whole scene at most `maxSide` pixels a side (from overviews where the file has them), with its file's stretch, as WebP. */
async function renderOverview(realPath: string, record: FileRecord, maxSide: number): Promise<Buffer> {
  const source = await openRaster(realPath);
  try {
    const stretch = record.stretch ?? (await computeSceneStretch(source, defaultBands(source)));
    const rgb = await Scene.fromSource(source, stretch).readOverview(maxSide);
    return await encodeRgb(rgb.rgb, rgb.width, rgb.height, 'webp');
  } finally {
    await source.close();
  }
}
