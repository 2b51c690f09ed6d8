/**
 * A scene ready to be read window by window as 8-bit RGB: a raster source, its bands and its one
 * stretch. Windows come back at native resolution (HWC, 3 channels) with their nodata share, so
 * the caller can skip mostly-empty ones and resize the rest with the model's preprocessing.
 */
import type { PixelWindow } from '../geo/window.js';
import { windowValidity, type WindowValidity } from './nodata.js';
import { openRaster, type OpenRasterOptions } from './open-raster.js';
import { alphaBand, checkBands, computeSceneStretch, defaultBands, stretchToRgb, type SceneStretch, type StretchOptions } from './radiometry.js';
import type { BandArray, RasterSource, ReadOptions } from './types.js';

export interface RgbWindow {
  width: number;
  height: number;
  /** Interleaved 8-bit RGB, row-major; nodata pixels are black. */
  rgb: Uint8Array;
  /** Share of nodata pixels (0..1). */
  nodataFraction: number;
  /** Every data pixel has one value: a constant fill. */
  constant: boolean;
}

/** A window as read, before the stretch: its bands in the stretch's order and its validity. */
export interface WindowBands {
  width: number;
  height: number;
  bands: BandArray[];
  validity: WindowValidity;
}

export interface SceneOptions extends OpenRasterOptions {
  /** 1-based bands for R, G, B (or one grey band); default from the colour interpretation. */
  bands?: number[];
  stretch?: StretchOptions;
}

/** Largest number of source pixels one read of `readOverview` decodes at a time. */
const OVERVIEW_CHUNK = 1024;

export class Scene {
  private constructor(
    readonly source: RasterSource,
    readonly stretch: SceneStretch,
  ) {}

  /** Opens a raster and computes its stretch once. */
  static async open(file: string, options: SceneOptions = {}): Promise<Scene> {
    const source = await openRaster(file, options);
    try {
      const bands = options.bands ?? defaultBands(source);
      checkBands(source, bands);
      return new Scene(source, await computeSceneStretch(source, bands, options.stretch));
    } catch (error) {
      await source.close();
      throw error;
    }
  }

  /** A scene over an open source with a stretch computed elsewhere (e.g. stored in an index). */
  static fromSource(source: RasterSource, stretch: SceneStretch): Scene {
    checkBands(source, stretch.bands);
    return new Scene(source, stretch);
  }

  get width(): number {
    return this.source.width;
  }
  get height(): number {
    return this.source.height;
  }

  /** One window as 8-bit RGB, at native resolution unless `outWidth`/`outHeight` ask for less (from overviews). */
  async readWindow(window: PixelWindow, options: ReadOptions = {}): Promise<RgbWindow> {
    return this.render(await this.readBands(window, options));
  }

  /** A window's bands in the stretch's order and which of its pixels hold data: enough to decide whether to skip it, before rendering it. */
  async readBands(window: PixelWindow, options: ReadOptions = {}): Promise<WindowBands> {
    const unique = [...new Set(this.stretch.bands)];
    const alpha = alphaBand(this.source);
    const readList = alpha > 0 && !unique.includes(alpha) ? [...unique, alpha] : unique;
    const data = await this.source.readBands(window, readList, options);
    const mask = await this.source.readMask(window, options);
    const chosen = data.bands.slice(0, unique.length);
    const validity = windowValidity(chosen, { nodata: this.source.nodata, mask, alpha: readList.length > unique.length ? data.bands[unique.length]! : null });
    return { width: data.width, height: data.height, bands: this.stretch.bands.map((b) => chosen[unique.indexOf(b)]!), validity };
  }

  /** The bands of `readBands` as 8-bit RGB, with the scene's stretch. */
  render(window: WindowBands): RgbWindow {
    const { width, height, bands, validity } = window;
    return { width, height, rgb: stretchToRgb(bands, this.stretch, validity.valid), nodataFraction: validity.nodataFraction, constant: validity.constant };
  }

  /**
   * The whole scene at most `maxSide` pixels a side (nearest neighbour, sampling pixel centres),
   * for thumbnails and maps. A coarse enough overview is read at once; otherwise the scene is read
   * in blocks of at most 1024 x 1024 source pixels, so memory stays bounded.
   */
  async readOverview(maxSide = 512): Promise<RgbWindow> {
    const { width, height } = this;
    const scale = Math.min(1, maxSide / Math.max(width, height));
    const outWidth = Math.max(1, Math.round(width * scale));
    const outHeight = Math.max(1, Math.round(height * scale));
    const whole = { x: 0, y: 0, width, height };
    const level = this.source.overviews.filter((o) => o.width >= outWidth && o.height >= outHeight).at(-1);
    const levelPixels = level ? level.width * level.height : width * height;
    if (levelPixels <= OVERVIEW_CHUNK * OVERVIEW_CHUNK || this.source.format !== 'tiff') return this.readWindow(whole, { outWidth, outHeight });
    const rgb = new Uint8Array(outWidth * outHeight * 3);
    const srcX = Array.from({ length: outWidth }, (_, i) => Math.min(width - 1, Math.floor(((i + 0.5) * width) / outWidth)));
    const srcY = Array.from({ length: outHeight }, (_, i) => Math.min(height - 1, Math.floor(((i + 0.5) * height) / outHeight)));
    let nodataPixels = 0;
    let constant = true;
    let firstPixel: number[] | undefined;
    for (let oy0 = 0; oy0 < outHeight; ) {
      let oy1 = oy0;
      while (oy1 < outHeight && srcY[oy1]! - srcY[oy0]! < OVERVIEW_CHUNK) oy1++;
      for (let ox0 = 0; ox0 < outWidth; ) {
        let ox1 = ox0;
        while (ox1 < outWidth && srcX[ox1]! - srcX[ox0]! < OVERVIEW_CHUNK) ox1++;
        const win = { x: srcX[ox0]!, y: srcY[oy0]!, width: srcX[ox1 - 1]! - srcX[ox0]! + 1, height: srcY[oy1 - 1]! - srcY[oy0]! + 1 };
        const block = await this.readWindow(win);
        for (let oy = oy0; oy < oy1; oy++) {
          for (let ox = ox0; ox < ox1; ox++) {
            const s = ((srcY[oy]! - win.y) * win.width + (srcX[ox]! - win.x)) * 3;
            const d = (oy * outWidth + ox) * 3;
            rgb[d] = block.rgb[s]!;
            rgb[d + 1] = block.rgb[s + 1]!;
            rgb[d + 2] = block.rgb[s + 2]!;
          }
        }
        nodataPixels += block.nodataFraction * (ox1 - ox0) * (oy1 - oy0);
        if (!block.constant) constant = false;
        const pixel = [block.rgb[0]!, block.rgb[1]!, block.rgb[2]!];
        if (firstPixel === undefined) firstPixel = pixel;
        else if (pixel.some((v, i) => v !== firstPixel![i])) constant = false;
        ox0 = ox1;
      }
      oy0 = oy1;
    }
    return { width: outWidth, height: outHeight, rgb, nodataFraction: nodataPixels / (outWidth * outHeight), constant };
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
