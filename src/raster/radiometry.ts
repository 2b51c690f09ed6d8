/**
 * Radiometry: which bands make the RGB image, and one percentile stretch per scene to 8 bits.
 *
 * - Bands: a `4,3,2`-style list (1-based), else from the file's colour interpretation (red, green,
 *   blue in that order wherever they are, so a B,G,R,A file gives 3,2,1), else the first three,
 *   a single grey band repeated.
 * - Stretch: 8-bit data passes through untouched (the model sees what it sees today); other data
 *   is mapped per band from [low, high] to [0, 255], low and high being the 2nd and 98th
 *   percentiles (nearest rank) of the band's valid pixels, computed once per scene from an
 *   overview or, without one, from a grid of small windows spread over the scene.
 *   value -> clamp(round((v - low) * 255 / (high - low)), 0, 255), GDAL's `-scale low high 0 255`.
 */
import { RsclipError } from '../errors.js';
import { pixelValidity } from './nodata.js';
import type { BandArray, BandWindow, RasterSource } from './types.js';

export type StretchMode = 'auto' | 'percentile';

export interface SceneStretch {
  /** The 1-based bands that make R, G, B (one band: grey repeated). */
  bands: number[];
  /** `passthrough` for 8-bit data under `auto`; otherwise per-band percentile limits. */
  kind: 'passthrough' | 'linear';
  low: number[];
  high: number[];
  /** The percentiles used, and how many valid pixels they were computed from. */
  percentiles: [number, number];
  sampledPixels: number;
}

export interface StretchOptions {
  /** Default `auto`: pass 8-bit data through, stretch the rest. */
  mode?: StretchMode;
  /** Default [2, 98]. */
  percentiles?: [number, number];
  /** Largest side of the overview the percentiles come from; default 1024. */
  sampleSide?: number;
}

/** Parses `4,3,2` (or a single band `1`). */
export function parseBandList(text: string): number[] {
  const bands = text.split(',').map((t) => Number(t.trim()));
  if ((bands.length !== 1 && bands.length !== 3) || bands.some((b) => !Number.isInteger(b) || b < 1)) {
    throw new RsclipError('BAD_INPUT', `--bands must be three band numbers (or one) counted from 1, got ${JSON.stringify(text)}`, {
      hint: 'e.g. --bands 4,3,2 for Sentinel-2 true colour, --bands 1 for one grey band',
    });
  }
  return bands;
}

export function checkBands(source: RasterSource, bands: readonly number[]): void {
  const missing = bands.filter((b) => b > source.bandCount);
  if (missing.length > 0) {
    throw new RsclipError('BAD_INPUT', `band ${missing[0]} does not exist in ${source.path}, which has ${source.bandCount} band(s)`, {
      hint: `choose bands between 1 and ${source.bandCount} with --bands`,
    });
  }
}

/** The default RGB bands of a source (see the module comment). */
export function defaultBands(source: RasterSource): number[] {
  const find = (c: string) => source.colors.indexOf(c as (typeof source.colors)[number]) + 1;
  const [r, g, b] = [find('red'), find('green'), find('blue')];
  if (r > 0 && g > 0 && b > 0) return [r, g, b];
  const nonAlpha = source.colors.map((c, i) => (c === 'alpha' ? 0 : i + 1)).filter((i) => i > 0);
  if (nonAlpha.length >= 3) return nonAlpha.slice(0, 3);
  return [nonAlpha[0] ?? 1];
}

/** The 1-based alpha band of a source, or 0. */
export function alphaBand(source: RasterSource): number {
  return source.colors.indexOf('alpha') + 1;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.round((p / 100) * (sorted.length - 1))]!;
}

/** Sample windows of a scene: its overview when it has one, else a grid of 16 x 16 windows of 64 px. */
async function sampleScene(source: RasterSource, bands: number[], sampleSide: number): Promise<{ windows: BandWindow[]; masks: (Uint8Array | null)[] }> {
  const { width, height } = source;
  const scale = Math.min(1, sampleSide / Math.max(width, height));
  const outWidth = Math.max(1, Math.round(width * scale));
  const outHeight = Math.max(1, Math.round(height * scale));
  const hasOverview = source.overviews.some((o) => o.width >= outWidth && o.height >= outHeight && o.width <= 4 * outWidth);
  const whole = { x: 0, y: 0, width, height };
  if (scale === 1 || hasOverview || source.format !== 'tiff') {
    const read = { outWidth, outHeight };
    return { windows: [await source.readBands(whole, bands, read)], masks: [await source.readMask(whole, read)] };
  }
  const grid = 16;
  const side = Math.min(64, width, height);
  const windows: BandWindow[] = [];
  const masks: (Uint8Array | null)[] = [];
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const x = Math.round(((gx + 0.5) * width) / grid - side / 2);
      const y = Math.round(((gy + 0.5) * height) / grid - side / 2);
      const w = { x: Math.min(Math.max(0, x), width - side), y: Math.min(Math.max(0, y), height - side), width: side, height: side };
      windows.push(await source.readBands(w, bands));
      masks.push(await source.readMask(w));
    }
  }
  return { windows, masks };
}

/** The scene's stretch, computed once (see the module comment). */
export async function computeSceneStretch(source: RasterSource, bands: readonly number[], options: StretchOptions = {}): Promise<SceneStretch> {
  checkBands(source, bands);
  const percentiles = options.percentiles ?? [2, 98];
  const [pLow, pHigh] = percentiles;
  if (!(pLow >= 0 && pLow < pHigh && pHigh <= 100)) {
    throw new RsclipError('BAD_INPUT', `stretch percentiles must satisfy 0 <= low < high <= 100, got ${pLow}, ${pHigh}`, { hint: 'e.g. 2,98' });
  }
  const mode = options.mode ?? 'auto';
  const unique = [...new Set(bands)];
  if (mode === 'auto' && source.dataType === 'uint8') {
    return { bands: [...bands], kind: 'passthrough', low: bands.map(() => 0), high: bands.map(() => 255), percentiles, sampledPixels: 0 };
  }
  const alpha = alphaBand(source);
  const readList = alpha > 0 && !unique.includes(alpha) ? [...unique, alpha] : unique;
  const { windows, masks } = await sampleScene(source, readList, options.sampleSide ?? 1024);
  const values: number[][] = unique.map(() => []);
  let sampled = 0;
  windows.forEach((win, w) => {
    const chosen = win.bands.slice(0, unique.length);
    const alphaArray = readList.length > unique.length ? win.bands[unique.length]! : null;
    const valid = pixelValidity(chosen, { nodata: source.nodata, mask: masks[w] ?? null, alpha: alphaArray });
    for (let i = 0; i < valid.length; i++) {
      if (!valid[i]) continue;
      sampled++;
      chosen.forEach((band, b) => values[b]!.push(band[i]!));
    }
  });
  const limits = values.map((v) => {
    if (v.length === 0) return [0, 1];
    const sorted = Float64Array.from(v).sort();
    return [percentile(sorted, pLow), percentile(sorted, pHigh)];
  });
  const byBand = new Map(unique.map((b, i) => [b, limits[i]!]));
  return {
    bands: [...bands],
    kind: 'linear',
    low: bands.map((b) => byBand.get(b)![0]!),
    high: bands.map((b) => byBand.get(b)![1]!),
    percentiles,
    sampledPixels: sampled,
  };
}

/** Multiplied before divided, as GDAL's -scale: (v - low) * (255 / span) puts an exact .5 (127.5) just below it. */
function toByte(v: number, low: number, span: number): number {
  if (Number.isNaN(v)) return 0;
  const s = Math.round(((v - low) * 255) / span);
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

/**
 * Interleaved 8-bit RGB (HWC) of band arrays read in the stretch's band order; pixels where
 * `valid` is 0 become black.
 */
export function stretchToRgb(bands: readonly BandArray[], stretch: SceneStretch, valid?: Uint8Array | null): Uint8Array {
  const n = bands[0]?.length ?? 0;
  const rgb = new Uint8Array(n * 3);
  const channels = stretch.bands.length === 1 ? [0, 0, 0] : [0, 1, 2];
  for (let c = 0; c < 3; c++) {
    const band = bands[channels[c]!]!;
    const k = channels[c]!;
    if (stretch.kind === 'passthrough') {
      for (let i = 0; i < n; i++) rgb[i * 3 + c] = band[i]!;
    } else {
      const low = stretch.low[k]!;
      const high = stretch.high[k]!;
      const span = high - low;
      for (let i = 0; i < n; i++) rgb[i * 3 + c] = span > 0 ? toByte(band[i]!, low, span) : band[i]! > low ? 255 : 0;
    }
  }
  if (valid) for (let i = 0; i < n; i++) if (!valid[i]) rgb.fill(0, i * 3, i * 3 + 3);
  return rgb;
}
