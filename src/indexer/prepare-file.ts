/**
 * What the decode workers do with one file that needs work: hash it, then either touch it
 * (same content and plan), reuse the items of an identical file, wait for a duplicate being
 * embedded in this run, or hand its windows to the encoder loop one by one, ending with `done`.
 *
 * Two decode paths:
 * - an image that stays whole, 8-bit, with the bands sharp would give, is decoded and
 *   preprocessed by the model exactly as before scenes (fidelity to the Python reference);
 * - everything else (tiled scenes, 16-bit and float data, chosen bands, TIFFs libvips cannot
 *   decode) is read window by window through src/raster with one stretch per scene.
 * A scene interrupted half-way resumes: the windows whose items are committed are skipped and
 * the stretch the file recorded is used again, so every tile of a scene is stretched alike.
 */
import { isRsclipError, RsclipError } from '../errors.js';
import { checkSomeWindowMaps, geodesicDistance, placeOfWindow, type WindowPlace } from '../geo/footprint.js';
import { polygonsOf } from '../geo/geojson-types.js';
import { readingGeoreference, type Georeference } from '../geo/georeference.js';
import { boxesToBBox, geometryBoxes, normalizeLon } from '../geo/lonlat-ring.js';
import type { PlannedWindow } from '../geo/tiling.js';
import { isTiffPath, openRaster, type OpenRasterOptions } from '../raster/open-raster.js';
import { decodedAsIs } from '../raster/whole-image.js';
import { computeSceneStretch, defaultBands, type SceneStretch } from '../raster/radiometry.js';
import { Scene } from '../raster/scene.js';
import { TiffTruncatedError } from '../raster/tiff-complete.js';
import { TiffInksError } from '../raster/tiff-source.js';
import type { RasterSource } from '../raster/types.js';
import type { AlreadyRead } from '../model/encoder-types.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../model/image.js';
import { WHOLE_IMAGE_KEY, type FileGeo, type IndexStore, type ItemWindow, type KnownFile, type NewFile, type NewItem } from '../store/types.js';
import { hashFile, type ContentHash } from './content-hash.js';
import type { PixelPreparer } from './decode-pool.js';
import type { IndexPlan } from './plan.js';
import type { ScannedFile } from './scan.js';
import { sceneWindows } from './scene-windows.js';

/** TIFF decoded blocks kept per open scene while its windows are read. */
export const SCENE_BLOCK_CACHE_BYTES = 64 * 1024 * 1024;

export interface WorkItem {
  file: ScannedFile;
  /** The catalog row for this path, unless it was removed earlier. */
  known: KnownFile | undefined;
  /** Its size, mtime and plan are its row's, only its ctime is later: the same content is a touch, whatever its status. */
  statusChangeOnly?: boolean;
  /** Facts from elsewhere (a STAC item) merged into the file's row. */
  extra?: Pick<NewFile, 'stac' | 'fields'> & { footprint?: WindowPlace['footprint'] };
}

/** A file on its way through the pipeline; its row gains facts as they become known. */
export interface FileJob {
  work: WorkItem;
  row: NewFile;
  /** The content hash and plan string it is embedded under (duplicates wait on it). */
  contentKey: string;
  /** Its windows were read through src/raster (it is a scene or needed radiometry). */
  scene: boolean;
  /** Its pixels are read from the file after its hash was taken (not from the bytes hashed): a change meanwhile would pair them with another content's hash. */
  rereadsFile: boolean;
  /** It continues an interrupted run of the same content and plan. */
  resumed: boolean;
  windows: number;
  nodataWindows: number;
  /** Where its pixels are (from the file, a world file or --crs), once its header is read. */
  georeference: Georeference | null;
  /** Why georeferencing the file carries gives it none (ground control points that cannot be fitted). */
  unusableGeoreference?: string | undefined;
}

/**
 * How a reader elsewhere (a queue's worker) reproduces a window's model input from the file, never
 * pixels: the whole image through the model's own decoding, or a scene window with its stretch.
 */
export type WindowRead =
  /** `fallback`: for a TIFF, the scene window and stretch to read it with when the model's decoder cannot (as prepareWhole does). */
  | { whole: true; fallback?: { window: PlannedWindow; stretch: SceneStretch } }
  | { whole: false; window: PlannedWindow; stretch: SceneStretch };

/** What a decode worker hands to the encoder loop; the units of one file come in order. */
export type Unit =
  /**
   * One window to embed, with its pixels, or with how to read them when the preparer describes
   * windows instead of decoding them; `last` when it is the last unit of its file (the file is
   * complete once it is committed).
   */
  | ({ kind: 'embed'; job: FileJob; key: string; window: ItemWindow; place: WindowPlace | null; last: boolean } & ({ pixels: Float32Array } | { read: WindowRead }))
  /** Every window of the job's file has been handed over and the last was not embedded (nodata, or all committed before). */
  | { kind: 'done'; job: FileJob }
  | { kind: 'reuse'; job: FileJob; items: NewItem[] }
  /** Same content and plan as a file embedded in this run but not committed yet. */
  | { kind: 'duplicate'; job: FileJob }
  | { kind: 'touch'; job: FileJob }
  /** The file went away before it was read: its row, if any, is removed. */
  | { kind: 'gone'; job: FileJob }
  | { kind: 'fail'; job: FileJob; error: string };

function describeError(error: unknown): string {
  // the hint stays with the message (e.g. gdal_translate for a band-separate TIFF)
  if (error instanceof RsclipError) return error.toOneLine();
  const e = error as NodeJS.ErrnoException;
  // Node's own messages start with their code already
  return e?.code && !String(e.message).startsWith(`${e.code}:`) ? `${e.code}: ${e.message}` : String((error as Error)?.message ?? error);
}

/** Why a file failed, to record; an error that is not the file's (a package that cannot load) is thrown instead, and stops the run. */
export function fileFailure(error: unknown): string {
  if (isRsclipError(error, 'DEPENDENCY_MISSING')) throw error;
  return describeError(error);
}

function fileGeo(georeference: Georeference | null): FileGeo | null {
  if (!georeference) return null;
  const { crs, geoTransform, source } = georeference;
  return { crs: crs?.name ?? null, epsg: crs?.epsg ?? null, ...(crs && crs.epsg === null ? { definition: crs.definition } : {}), geoTransform, source };
}

function itemWindow(window: PlannedWindow): ItemWindow {
  return { x: window.x, y: window.y, width: window.width, height: window.height, scale: window.scale };
}

/** The state decode workers share: content being embedded in this run, and content that failed. */
export interface RunState {
  /** Content keys (hash + plan) being embedded and not committed yet. */
  readonly uncommitted: Set<string>;
  /** Why a content hash failed in this run, and the file that failed (for duplicates of a bad file). */
  readonly failedHashes: Map<string, { error: string; absolutePath: string }>;
}

/** Records why `job`'s content failed, for the files of the same content. */
export function recordFailedContent(state: RunState, job: FileJob, error: string): void {
  state.failedHashes.set(job.row.contentHash, { error, absolutePath: job.work.file.absolutePath });
}

/** Why `job`'s content failed in this run, if it did, naming `job`'s file (the decoder's message names the file it read). */
export function failedContent(state: RunState, job: FileJob): string | undefined {
  const failed = state.failedHashes.get(job.row.contentHash);
  return failed && failed.error.split(failed.absolutePath).join(job.work.file.absolutePath);
}

export interface FilePreparerOptions {
  /** Describe the windows (WindowRead) instead of decoding them: they are read where they are embedded. */
  describeOnly?: boolean;
  /** The run's interruption: a scene stops between windows (the rest is done by the next run). */
  signal?: AbortSignal;
  /** The pixel limit of images decoded whole (default DEFAULT_MAX_INPUT_PIXELS), which holds for tiled images libvips reads too (see prepareContent). */
  maxInputPixels?: number;
}

export class FilePreparer {
  constructor(
    private readonly store: IndexStore,
    /** Decodes and preprocesses for the model (a pool of threads, or the main thread). */
    private readonly pixels: PixelPreparer,
    private readonly plan: IndexPlan,
    private readonly state: RunState,
    private readonly readAhead: number,
    private readonly options: FilePreparerOptions = {},
  ) {}

  /** The place of a window of the file (its georeference, or the STAC footprint of a whole image). */
  placeOf(job: FileJob, window: ItemWindow): WindowPlace | null {
    if (job.georeference?.crs) return placeOfWindow(job.georeference, window);
    const footprint = job.work.extra?.footprint;
    const wholeImage = window.x === 0 && window.y === 0 && window.width === job.row.width && window.height === job.row.height;
    return footprint && wholeImage ? stacPlace(footprint, window.width) : null;
  }

  async *prepare(work: WorkItem): AsyncGenerator<Unit> {
    const { file } = work;
    const job: FileJob = { work, row: this.baseRow(work, ''), contentKey: '', scene: false, rereadsFile: false, resumed: false, windows: 0, nodataWindows: 0, georeference: null };
    let hashed: ContentHash;
    try {
      // streamed: never the whole file in memory (scenes of several GiB); a small file's bytes are kept for decoding
      hashed = await hashFile(file.absolutePath, { keepHead: true });
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException)?.code === 'ENOENT';
      // a file a STAC item names was never there to be deleted during the run: its absence is the catalog's error
      const stac = work.extra?.stac;
      if (missing && stac) yield { kind: 'fail', job, error: `file not found: STAC item ${stac.item} names it as its asset` };
      else if (missing) yield { kind: 'gone', job };
      else yield { kind: 'fail', job, error: `cannot read file: ${fileFailure(error)}` };
      return;
    }
    job.row = { ...this.baseRow(work, hashed.sha256), bytes: hashed.bytes };
    // described windows are read again where they are embedded (a queue's workers), whatever the size
    job.rereadsFile = hashed.content === undefined || this.options.describeOnly === true;
    const known = work.known;
    // hashed again for its ctime alone: the same content failed as it did before (the row keeps its error)
    if (known?.status === 'error' && work.statusChangeOnly && known.contentHash === hashed.sha256) {
      yield { kind: 'touch', job };
      return;
    }
    if (hashed.bytes === 0) {
      yield { kind: 'fail', job, error: 'empty file (0 bytes)' };
      return;
    }
    if (known?.status === 'ok' && !known.needsEmbedding && known.contentHash === hashed.sha256 && this.plan.matches(known)) {
      yield { kind: 'touch', job };
      return;
    }
    // The header only; an unreadable file is reported by the model's decoder below, as before
    // scenes. A georeference that cannot be used fails the file: taken for a plain image, a scene
    // would lose its place and, cut to the model's centre crop, most of its pixels.
    let source: RasterSource | undefined;
    try {
      source = await openRaster(file.absolutePath, { ...this.sceneOpenOptions(), head: hashed.head, worldFile: file.worldFile });
    } catch (error) {
      // as is a TIFF cut short (the model's decoder would read its missing blocks as black) or of
      // inks it cannot render (the model's decoder would give colours other than GDAL's)
      if (isRsclipError(error, 'GEOREFERENCE_INVALID') || error instanceof TiffTruncatedError || error instanceof TiffInksError) {
        yield { kind: 'fail', job, error: error.toOneLine() };
        return;
      }
    }
    try {
      const unmapped = source && (await this.unmappedReason(file.absolutePath, source));
      if (unmapped) {
        yield { kind: 'fail', job, error: unmapped };
        return;
      }
      // a small file's content holds its head: the decoder (maybe in another thread) is given one or the other
      // opened by the TIFF reader, which checked its blocks against the file's size
      const tiffChecked = source !== undefined && isTiffPath(file.absolutePath);
      yield* this.prepareContent(job, source, hashed.content ? { content: hashed.content, tiffChecked } : { head: hashed.head!, tiffChecked });
    } finally {
      await source?.close();
    }
  }

  private baseRow(work: WorkItem, contentHash: string): NewFile {
    const { file, extra } = work;
    return {
      root: file.root,
      path: file.path,
      bytes: file.bytes,
      mtimeMs: file.mtimeMs,
      contentHash,
      width: null,
      height: null,
      format: null,
      ...(extra?.stac ? { stac: extra.stac } : {}),
      ...(extra?.fields ? { fields: extra.fields } : {}),
    };
  }

  private async *prepareContent(job: FileJob, source: RasterSource | undefined, alreadyRead: AlreadyRead): AsyncGenerator<Unit> {
    const { known } = job.work;
    const hash = job.row.contentHash;
    const bands = source ? (this.plan.options.bands ?? defaultBands(source)) : undefined;
    const whole = source ? !this.plan.tiled(source.width, source.height) : true;
    const fidelity = !source || (whole && decodedAsIs(source, this.plan.options.bands));
    const stretched = source !== undefined && !fidelity && source.dataType !== 'uint8';
    const planString = source ? this.plan.fileplan(source.width, source.height, stretched) : this.plan.fileplan(1, 1, false);
    job.row = { ...job.row, plan: planString, ...(source ? { width: source.width, height: source.height, format: source.format, geo: fileGeo(source.georeference) } : {}) };
    job.contentKey = `${hash}|${planString}`;
    job.georeference = source?.georeference ?? null;
    job.unusableGeoreference = source?.unusableGeoreference;

    const failed = failedContent(this.state, job);
    if (failed !== undefined) {
      yield { kind: 'fail', job, error: failed };
      return;
    }
    job.resumed = known?.status === 'ok' && known.needsEmbedding && known.contentHash === hash && known.plan === planString;
    if (!job.resumed) {
      const stored = await this.store.findReusableFile(hash, planString);
      if (stored) {
        job.row = { ...job.row, width: stored.width, height: stored.height, format: stored.format, stretch: stored.stretch };
        yield { kind: 'reuse', job, items: stored.items.map((item) => ({ ...item, place: this.placeOf(job, item.window) })) };
        return;
      }
    }
    if (this.state.uncommitted.has(job.contentKey)) {
      yield { kind: 'duplicate', job };
      return;
    }
    const tooLarge = source && !whole ? this.overPixelLimit(source) : undefined;
    if (tooLarge) {
      recordFailedContent(this.state, job, tooLarge);
      yield { kind: 'fail', job, error: tooLarge };
      return;
    }
    this.state.uncommitted.add(job.contentKey);
    const committed = job.resumed ? await this.store.fileItemKeys(known!.id) : new Set<string>();
    if (fidelity && committed.has(WHOLE_IMAGE_KEY)) {
      yield { kind: 'done', job };
      return;
    }
    if (fidelity && this.options.describeOnly) {
      yield await this.describeWhole(job, source);
      return;
    }
    if (fidelity) {
      const decoded = yield* this.prepareWhole(job, source, alreadyRead);
      if (decoded) return;
    }
    yield* this.prepareScene(job, source!, bands!, committed);
  }

  /**
   * Why a tiled image is refused, if it is: only a TIFF (geotiff.js) is read by its windows alone;
   * libvips decodes a PNG, JPEG, WebP or GIF from its start for them, so past the limit of whole
   * images a small file (a zlib stream of zeros) cost minutes of CPU (a 30,000 px square PNG of
   * 875 KB more than 10 minutes) and held back the commits of the files after it.
   */
  private overPixelLimit(source: RasterSource): string | undefined {
    const limit = this.options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
    const pixels = source.width * source.height;
    if (source.format === 'tiff' || pixels <= limit) return undefined;
    return `${source.format.toUpperCase()} of ${source.width}x${source.height} = ${pixels} pixels, more than the limit of ${limit} (only TIFFs are read by their windows alone; raise --max-input-pixels to index it)`;
  }

  /**
   * The model's own decoding of a whole 8-bit image (from the bytes the hash read, when it read
   * them all: the pixels are those of the content hashed); false when it cannot decode a file
   * src/raster can read.
   */
  private async *prepareWhole(job: FileJob, source: RasterSource | undefined, alreadyRead: AlreadyRead): AsyncGenerator<Unit, boolean> {
    let pre;
    try {
      pre = await this.pixels.file(job.work.file.absolutePath, alreadyRead);
    } catch (error) {
      if (source && source.format === 'tiff') return false;
      const message = fileFailure(error);
      recordFailedContent(this.state, job, message);
      yield { kind: 'fail', job, error: message };
      return true;
    }
    job.row = { ...job.row, width: pre.width, height: pre.height, format: pre.format, stretch: null };
    job.windows = 1;
    const window = { x: 0, y: 0, width: pre.width, height: pre.height, scale: 1 };
    yield { kind: 'embed', job, key: WHOLE_IMAGE_KEY, window, place: this.placeOf(job, window), pixels: pre.pixels, last: true };
    return true;
  }

  /** The whole image for a reader elsewhere: its size and format come back with its vector (the header may not know them). */
  private async describeWhole(job: FileJob, source: RasterSource | undefined): Promise<Unit> {
    job.windows = 1;
    const window = { x: 0, y: 0, width: source?.width ?? 0, height: source?.height ?? 0, scale: 1 };
    let fallback: Extract<WindowRead, { whole: true }>['fallback'];
    if (source?.format === 'tiff') {
      // 8-bit: a passthrough stretch, no pixels read; a TIFF it cannot be made for fails on the worker with the decoder's error
      const stretch = await computeSceneStretch(source, defaultBands(source), { percentiles: this.plan.percentiles }).catch(() => undefined);
      if (stretch) fallback = { window: this.plan.windows(source.width, source.height)[0]!, stretch };
    }
    return { kind: 'embed', job, key: WHOLE_IMAGE_KEY, window, place: source ? this.placeOf(job, window) : null, read: { whole: true, ...(fallback ? { fallback } : {}) }, last: true };
  }

  /** Why a georeferenced file fails when none of its windows maps to lon/lat (it would be indexed without a place). */
  private async unmappedReason(path: string, source: RasterSource): Promise<string | undefined> {
    const geo = source.georeference;
    if (!geo?.crs) return undefined;
    const { width, height } = source;
    const windows = this.plan.tiled(width, height) ? this.plan.windows(width, height) : [{ x: 0, y: 0, width, height }];
    try {
      await readingGeoreference(path, () => checkSomeWindowMaps(geo, windows));
      return undefined;
    } catch (error) {
      if (isRsclipError(error, 'GEOREFERENCE_INVALID')) return error.toOneLine();
      throw error;
    }
  }

  /** The options a scene's file is opened with, as `prepare` opens its header (a decode pool opens it again with them). */
  private sceneOpenOptions(): OpenRasterOptions {
    return { blockCacheBytes: SCENE_BLOCK_CACHE_BYTES, ...(this.plan.options.crs ? { crs: this.plan.options.crs } : {}) };
  }

  private async *prepareScene(job: FileJob, source: RasterSource, bands: number[], committed: Set<string>): AsyncGenerator<Unit> {
    const { known } = job.work;
    job.scene = true;
    job.rereadsFile = true;
    try {
      // a resumed scene keeps the stretch its committed tiles were rendered with
      const stretch = job.resumed && known!.stretch ? known!.stretch : await computeSceneStretch(source, bands, { percentiles: this.plan.percentiles });
      job.row = { ...job.row, stretch };
      const scene = Scene.fromSource(source, stretch);
      const windows = this.plan.windows(source.width, source.height);
      job.windows = windows.length;
      const todo = windows.filter((w) => !committed.has(w.key));
      // one unit held back, so that the last one can say so
      let held: Extract<Unit, { kind: 'embed' }> | undefined;
      // a decode pool reads the windows in its threads, opening the file as it was opened here
      const file = { path: job.work.file.absolutePath, options: this.sceneOpenOptions(), stretch };
      const results = this.options.describeOnly ? todo.map((w) => ({ window: w, read: { whole: false as const, window: w, stretch } })) : sceneWindows(scene, todo, this.pixels, this.plan.options.inputSize, this.readAhead, file);
      for await (const result of results) {
        // checked here too: windows of nodata yield nothing, and a scene of them would run to its end
        if (this.options.signal?.aborted) return;
        if ('nodata' in result) {
          job.nodataWindows++;
          continue;
        }
        if (held) yield held;
        const window = itemWindow(result.window);
        const input = 'pixels' in result ? { pixels: result.pixels } : { read: result.read };
        held = { kind: 'embed', job, key: result.window.key, window, place: this.placeOf(job, window), ...input, last: false };
      }
      if (held) {
        yield { ...held, last: true };
        return;
      }
    } catch (error) {
      const message = fileFailure(error);
      recordFailedContent(this.state, job, message);
      yield { kind: 'fail', job, error: message };
      return;
    }
    yield { kind: 'done', job };
  }
}

/** A STAC item's footprint as the place of a whole image without a georeference of its own (GSD: the footprint's width over the image's). */
function stacPlace(footprint: WindowPlace['footprint'], width: number): WindowPlace {
  const bbox = boxesToBBox(geometryBoxes(footprint))!;
  const south = Math.min(...polygonsOf(footprint).flatMap((rings) => rings[0]!.map((p) => p[1])));
  const north = Math.max(...polygonsOf(footprint).flatMap((rings) => rings[0]!.map((p) => p[1])));
  const mid = (south + north) / 2;
  const east = bbox[2] < bbox[0] ? bbox[2] + 360 : bbox[2];
  const center: WindowPlace['center'] = [normalizeLon((bbox[0] + east) / 2), mid];
  return { footprint, bbox, center, nativeBounds: [bbox[0], south, east, north], gsd: geodesicDistance([bbox[0], mid], [east, mid]) / width };
}
