/**
 * Locate: where in one scene is what the query describes. Every item (tile) of the scene is
 * scored against the query vector, as the clip-rsicd demo scored the patches of one image; the
 * result has every tile's score (for GeoJSON), the best tiles after non-maximum suppression, and
 * a heat map with the scene's bounds. An indexed scene is scored from its stored vectors; any
 * other image is cut by the same tiling plan and embedded on the fly.
 */
import { performance } from 'node:perf_hooks';
import { RsclipError, isRsclipError } from '../errors.js';
import { recordedCrs, type LonLat } from '../geo/crs.js';
import { placeOfWindow, wholeImagePlace, type WindowPlace } from '../geo/footprint.js';
import type { Georeference } from '../geo/georeference.js';
import type { BBox } from '../geo/geojson-types.js';
import { planWindows } from '../geo/tiling.js';
import { openPixelPreparer } from '../indexer/decode-pool.js';
import { recordedPlanOptions } from '../indexer/plan.js';
import { sceneWindows } from '../indexer/scene-windows.js';
import type { ClipEncoder } from '../model/encoder-types.js';
import { checkRegularFile } from '../model/image.js';
import { readGeoreference } from '../raster/open-raster.js';
import { Scene } from '../raster/scene.js';
import { DEFAULT_NMS_THRESHOLD, overlapOfSmaller } from '../search/nms.js';
import type { FileRecord, IndexMeta, IndexStore, ItemWindow } from '../store/types.js';
import { dot } from '../vector-math.js';
import { DEFAULT_HEAT_MAP_SIDE, renderHeatMap, type HeatMap } from './heat-map.js';
import { vectorsOf } from './scene-items.js';

export const DEFAULT_LOCATE_TOP = 5;
/** The most boxes a locate returns (the CLI's --top, the API's top). */
export const MAX_LOCATE_TOP = 1000;
/** Windows embedded per model run when an image is tiled on the fly. */
const EMBED_BATCH = 16;
/** Windows read ahead of the model when an image is tiled on the fly. */
const READ_AHEAD = 4;

export interface LocateOptions {
  /** Best boxes to return after suppression (default 5). */
  top?: number;
  /** Share of the smaller window above which a worse tile is suppressed (default 0.5, as search); false: none is (the best tiles as they come). */
  nmsThreshold?: number | false;
  /** Longest side of the heat map in pixels (default 512). */
  heatMapSide?: number;
}

export interface LocateImageOptions extends LocateOptions {
  /** Window sizes as multiples of the model's input size (default [1]). */
  scales?: readonly number[];
  /** Share of a window overlapping its neighbour (default: the tiling plan's 0.25). */
  overlap?: number;
  /** 1-based bands for R, G, B (or one grey band); default from the image's colour interpretation. */
  bands?: number[];
  /** Percentiles of the stretch of data that is not 8-bit; default [2, 98]. */
  percentiles?: [number, number];
  /** Largest image, width x height, to tile (default: no limit); a larger one is refused with IMAGE_TOO_LARGE. */
  maxPixels?: number;
  /**
   * Stops the tiling and embedding when it aborts (a server's client went away), rejecting with its
   * reason where that is an RsclipError, else with INTERRUPTED.
   */
  signal?: AbortSignal;
}

/**
 * The window sizes, overlap, bands and stretch percentiles of an index's recorded plan, for an
 * image located beside that index's own: cut and rendered as the index's scenes were.
 */
export function indexTiling(meta: Pick<IndexMeta, 'plan'>): Pick<LocateImageOptions, 'scales' | 'overlap' | 'bands' | 'percentiles'> {
  const { scales, overlap, bands, percentiles } = recordedPlanOptions(meta.plan);
  return { ...(scales ? { scales } : {}), ...(overlap === undefined ? {} : { overlap }), ...(bands ? { bands } : {}), ...(percentiles ? { percentiles } : {}) };
}

export interface LocatedTile {
  /** Rank by score, 1 = best. */
  rank: number;
  /** The item id for an indexed scene; null for a window of an image tiled on the fly. */
  id: number | null;
  key: string;
  window: ItemWindow;
  place: WindowPlace | null;
  score: number;
}

export interface LocatedScene {
  /** The file's id in the index; null for an image tiled on the fly. */
  fileId: number | null;
  path: string;
  width: number;
  height: number;
  /** RFC 7946 bbox of the whole scene (as its scene route gives it, nodata edges included); null without a georeference. */
  bbox: BBox | null;
  /** False for an indexed scene some of whose tiles are not embedded yet. */
  complete: boolean;
}

export interface LocateResult {
  scene: LocatedScene;
  /** Every scored tile, best first. */
  tiles: LocatedTile[];
  /** The best tiles after non-maximum suppression, best first. */
  top: LocatedTile[];
  /**
   * The scores painted over the scene (PNG), with the scene's bbox and its four corners in lon/lat
   * (top-left, top-right, bottom-right, bottom-left: they place an overlay on a rotated or polar
   * scene, where the bbox cannot); null without a georeference.
   */
  heatMap: HeatMap & { bbox: BBox | null; corners: LonLat[] | null };
  timings: { embedMs: number; scoreMs: number };
}

interface TileVector {
  id: number | null;
  key: string;
  window: ItemWindow;
  place: WindowPlace | null;
  vector: Float32Array;
}

function checkOptions(options: LocateOptions): Required<LocateOptions> {
  const top = options.top ?? DEFAULT_LOCATE_TOP;
  if (!Number.isInteger(top) || top < 1 || top > MAX_LOCATE_TOP) throw new RsclipError('BAD_QUERY', `top must be an integer from 1 to ${MAX_LOCATE_TOP}, got ${String(top)}`);
  const nmsThreshold = options.nmsThreshold ?? DEFAULT_NMS_THRESHOLD;
  if (nmsThreshold !== false && !(nmsThreshold > 0 && nmsThreshold <= 1)) throw new RsclipError('BAD_QUERY', `the suppression threshold must be in (0, 1], got ${String(nmsThreshold)}`);
  const heatMapSide = options.heatMapSide ?? DEFAULT_HEAT_MAP_SIDE;
  if (!Number.isInteger(heatMapSide) || heatMapSide < 16 || heatMapSide > 4096) throw new RsclipError('BAD_QUERY', `the heat map side must be an integer from 16 to 4096, got ${String(heatMapSide)}`);
  return { top, nmsThreshold, heatMapSide };
}

async function scoreScene(
  scene: Omit<LocatedScene, 'bbox'>,
  geo: Georeference | null,
  tiles: readonly TileVector[],
  query: Float32Array,
  options: Required<LocateOptions>,
  embedMs: number,
): Promise<LocateResult> {
  const start = performance.now();
  if (tiles.length > 0 && tiles[0]!.vector.length !== query.length) {
    throw new RsclipError('BAD_QUERY', `the query vector has ${query.length} dimensions, the scene's tiles ${tiles[0]!.vector.length}`);
  }
  const scored = tiles
    .map((t) => ({ id: t.id, key: t.key, window: t.window, place: t.place, score: dot(t.vector, query) }))
    .sort((a, b) => b.score - a.score || a.window.y - b.window.y || a.window.x - b.window.x)
    .map((t, i) => ({ rank: i + 1, ...t }));
  // non-maximum suppression as search does it (src/search/nms.ts), stopping once the best boxes are found
  const top: LocatedTile[] = [];
  for (const tile of scored) {
    if (top.length === options.top) break;
    const { nmsThreshold } = options;
    if (nmsThreshold === false || !top.some((kept) => overlapOfSmaller(kept.window, tile.window) >= nmsThreshold)) top.push(tile);
  }
  // the heat map covers the whole scene: the union of the scored tiles would leave out nodata
  // windows at its edges, and an overlay placed by that bbox was stretched and shifted
  const whole = geo ? wholeImagePlace(geo) : { place: null, corners: null };
  const bbox = whole.place?.bbox ?? null;
  const { corners } = whole;
  const heatMap = await renderHeatMap(scene.width, scene.height, scored, options.heatMapSide);
  return { scene: { ...scene, bbox }, tiles: scored, top, heatMap: { ...heatMap, bbox, corners }, timings: { embedMs, scoreMs: performance.now() - start } };
}

/** Scores the stored items of an indexed file (`ok`, with a size) against a unit query vector. */
export async function locateInIndexedFile(store: IndexStore, file: FileRecord, query: Float32Array, options: LocateOptions = {}): Promise<LocateResult> {
  const checked = checkOptions(options);
  if (typeof file !== 'object' || (file as unknown) === null) {
    throw new RsclipError('BAD_INPUT', `locateInIndexedFile needs a file of the index; got ${String(file)}: the file is not in the index`, {
      hint: 'store.findFileByPath(path) answers undefined for a file the index does not hold; locate in such a file with locateInImage',
    });
  }
  if (file.status !== 'ok' || file.width === null || file.height === null) {
    throw new RsclipError('NOT_FOUND', `${file.path} is not an indexed image (status ${file.status})`, { hint: 'run `rsclip index` on its folder, or locate in the file itself' });
  }
  const items = await store.fileItems(file.id);
  const vectors = await vectorsOf(
    store,
    items.map((i) => i.id),
  );
  const tiles = items.flatMap((item) => {
    const vector = vectors.get(item.id);
    return vector ? [{ id: item.id, key: item.key, window: item.window, place: item.place, vector }] : [];
  });
  const geo = file.geo ? { crs: recordedCrs(file.geo), geoTransform: file.geo.geoTransform, width: file.width, height: file.height, source: file.geo.source } : null;
  return scoreScene({ fileId: file.id, path: file.path, width: file.width, height: file.height, complete: file.complete }, geo, tiles, query, checked, 0);
}

/** Throws when `signal` has aborted: its reason where that is an RsclipError (the server's), else INTERRUPTED (AbortSignal.abort()'s DOMException, a caller's own reason). */
function stopIfAborted(signal: AbortSignal | undefined, shownPath: string): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (isRsclipError(reason)) throw reason;
  throw new RsclipError('INTERRUPTED', `locating in ${shownPath} was cancelled; nothing was scored`, { cause: reason });
}

/**
 * Cuts the image at `absolutePath` into windows of the model's input size (any image larger than
 * one window is cut), renders them with the bands and stretch given, embeds them and scores them;
 * `shownPath` names it in the result.
 */
export async function locateInImage(encoder: ClipEncoder, absolutePath: string, shownPath: string, query: Float32Array, options: LocateImageOptions = {}): Promise<LocateResult> {
  const checked = checkOptions(options);
  stopIfAborted(options.signal, shownPath);
  await checkRegularFile(absolutePath, shownPath);
  const start = performance.now();
  const inputSize = encoder.info.imageSize;
  const sceneOptions = { ...(options.bands ? { bands: options.bands } : {}), ...(options.percentiles ? { stretch: { percentiles: options.percentiles } } : {}) };
  const [scene, geo] = await Promise.all([Scene.open(absolutePath, sceneOptions), readGeoreference(absolutePath)]);
  try {
    if (options.maxPixels !== undefined && scene.width * scene.height > options.maxPixels) {
      throw new RsclipError('IMAGE_TOO_LARGE', `the image is ${scene.width} x ${scene.height} pixels; at most ${options.maxPixels} pixels are tiled on the fly here`, {
        hint: 'index the scene with `rsclip index` and locate in it by id',
      });
    }
    const windows = planWindows(scene.width, scene.height, { inputSize, tile: inputSize, scales: options.scales ?? [1], ...(options.overlap === undefined ? {} : { overlap: options.overlap }) });
    const tiles: TileVector[] = [];
    let batch: { window: (typeof windows)[number]; pixels: Float32Array }[] = [];
    const flush = async () => {
      const vectors = await encoder.embedPixels(batch.map((b) => b.pixels), { handOver: true });
      for (const [i, { window }] of batch.entries()) {
        const itemWindow = { x: window.x, y: window.y, width: window.width, height: window.height, scale: window.scale };
        tiles.push({ id: null, key: window.key, window: itemWindow, place: geo ? placeOfWindow(geo, itemWindow) : null, vector: vectors[i]! });
      }
      batch = [];
    };
    // preprocessed on this thread: one scene's tiles, while the model runs on its own thread
    for await (const result of sceneWindows(scene, windows, openPixelPreparer(encoder, 0), inputSize, READ_AHEAD)) {
      stopIfAborted(options.signal, shownPath);
      if ('nodata' in result) continue;
      batch.push(result);
      if (batch.length === EMBED_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return await scoreScene({ fileId: null, path: shownPath, width: scene.width, height: scene.height, complete: true }, geo, tiles, query, checked, performance.now() - start);
  } finally {
    await scene.close();
  }
}
