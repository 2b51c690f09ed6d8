/**
 * The indexing plan: how files are cut into windows (tiling) and rendered to 8-bit RGB (bands,
 * stretch), and the plan string each file records. A file's plan names only what shaped its
 * items: `whole` for an image embedded whole as decoded (every file of an index made before
 * scenes), `tiles=<tiling signature>` for a scene, then `bands=4,3,2` when bands were chosen and
 * `stretch=2,98` when its samples were stretched. A file whose recorded plan differs from the
 * one the current options give it is cut and embedded again; other files are left alone (a
 * small JPEG does not care about the tile overlap).
 */
import type { Crs } from '../geo/crs.js';
import { parseTileMode, planWindows, shouldTile, tilingSignature, type PlannedWindow, type TileMode } from '../geo/tiling.js';
import type { SceneStretch } from '../raster/radiometry.js';
import { WHOLE_IMAGE_PLAN, type KnownFile } from '../store/types.js';

export interface IndexPlanOptions {
  /** The model's input size in pixels (its crop size). */
  inputSize: number;
  /** `auto` (default: tile a side longer than 2x the input size), `off`, or a side in pixels. */
  tile?: TileMode;
  /** Share of a tile shared with its neighbour, [0, 1); default 0.25. */
  overlap?: number;
  /** Tile sizes as multiples of the input size (a window of inputSize * s px resized to the input); default [1]. */
  scales?: number[];
  /** 1-based bands for R, G, B (or one grey band); default from each file's colour interpretation. */
  bands?: number[];
  /** Percentiles of the stretch of data that is not 8-bit; default [2, 98]. */
  percentiles?: [number, number];
  /** CRS of world files without a `.prj` (overrides a GeoTIFF's own, for keys that say it wrongly). */
  crs?: Crs;
}

export const DEFAULT_PERCENTILES: [number, number] = [2, 98];

export class IndexPlan {
  readonly tiling: { inputSize: number; tile: TileMode; overlap?: number; scales?: number[] };
  readonly percentiles: [number, number];

  constructor(readonly options: IndexPlanOptions) {
    this.tiling = { inputSize: options.inputSize, tile: options.tile ?? 'auto', ...(options.overlap === undefined ? {} : { overlap: options.overlap }), ...(options.scales ? { scales: options.scales } : {}) };
    this.percentiles = options.percentiles ?? DEFAULT_PERCENTILES;
    // checks the tiling options once, with their own messages
    tilingSignature(this.tiling);
  }

  /** Everything the options decide, for the index's meta. */
  signature(): string {
    return JSON.stringify({ tiling: JSON.parse(tilingSignature(this.tiling)) as unknown, bands: this.options.bands ?? null, percentiles: this.percentiles });
  }

  tiled(width: number, height: number): boolean {
    return shouldTile(width, height, this.tiling);
  }

  windows(width: number, height: number): PlannedWindow[] {
    return planWindows(width, height, this.tiling);
  }

  /** The plan string of a file of this size, rendered with or without a stretch. */
  fileplan(width: number, height: number, stretched: boolean): string {
    const windows = this.windows(width, height);
    const parts = [windows.length === 1 && windows[0]!.whole ? WHOLE_IMAGE_PLAN : `tiles=${tilingSignature(this.tiling)}`];
    if (this.options.bands) parts.push(`bands=${this.options.bands.join(',')}`);
    if (stretched) parts.push(`stretch=${this.percentiles.join(',')}`);
    return parts.join(';');
  }

  /** Whether a known file's items were made under the plan the options give it now. */
  matches(known: Pick<KnownFile, 'plan' | 'width' | 'height' | 'stretch'>): boolean {
    if (known.width === null || known.height === null || known.width <= 0 || known.height <= 0) return known.plan === WHOLE_IMAGE_PLAN && !this.options.bands;
    return known.plan === this.fileplan(known.width, known.height, isStretched(known.stretch));
  }
}

/** The options an index's recorded plan (`IndexMeta.plan`, a `signature()`) was made with; {} when there is none or it cannot be read. */
export function recordedPlanOptions(signature: string | undefined): Pick<IndexPlanOptions, 'tile' | 'overlap' | 'scales' | 'bands' | 'percentiles'> {
  if (!signature) return {};
  try {
    const plan = JSON.parse(signature) as { tiling?: { tile?: TileMode; overlap?: number; scales?: number[] }; bands?: number[] | null; percentiles?: [number, number] };
    const { tile, overlap, scales } = plan.tiling ?? {};
    return {
      ...(tile === undefined ? {} : { tile }),
      ...(overlap === undefined ? {} : { overlap }),
      ...(scales === undefined ? {} : { scales }),
      ...(plan.bands ? { bands: plan.bands } : {}),
      ...(plan.percentiles ? { percentiles: plan.percentiles } : {}),
    };
  } catch {
    return {};
  }
}

export function isStretched(stretch: SceneStretch | null | undefined): boolean {
  return stretch?.kind === 'linear';
}

export { parseTileMode };
