/**
 * What a raster source is: size, bands and their colour interpretation, nodata, mask, overviews
 * and georeference, and windowed reads that return raw band values.
 */
import type { Georeference } from '../geo/georeference.js';
import type { PixelWindow } from '../geo/window.js';

export type RasterDataType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

/** GDAL's colour interpretations (lower case), as far as rsclip uses them. */
export type BandColor = 'red' | 'green' | 'blue' | 'alpha' | 'gray' | 'undefined';

export type BandArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface BandWindow {
  /** Size of the returned arrays (the window's size, or the requested output size). */
  width: number;
  height: number;
  /** One array per requested band, row-major. */
  bands: BandArray[];
}

export interface ReadOptions {
  /** Output size; smaller than the window reads a coarser overview when the file has one (nearest neighbour). */
  outWidth?: number;
  outHeight?: number;
}

export interface RasterSource {
  readonly path: string;
  /** `tiff` (geotiff.js) or the format sharp reports (`jpeg`, `png`, ...). */
  readonly format: string;
  /** What decodes full-resolution windows: `geotiff.js` or `libvips`. */
  readonly decoder: 'geotiff.js' | 'libvips';
  readonly width: number;
  readonly height: number;
  readonly bandCount: number;
  readonly dataType: RasterDataType;
  /** One per band. */
  readonly colors: readonly BandColor[];
  /** The nodata value (may be NaN), or null. */
  readonly nodata: number | null;
  /** Whether the file has a mask band (GDAL's internal per-dataset mask). */
  readonly hasMask: boolean;
  /** Reduced-resolution levels, largest first. */
  readonly overviews: readonly { width: number; height: number }[];
  /** Null when the file is not georeferenced. */
  readonly georeference: Georeference | null;
  /** Why georeferencing the file carries gives it no georeference (ground control points that cannot be fitted); absent otherwise. */
  readonly unusableGeoreference?: string;
  /** The reader converts the stored samples to RGB itself (a CMYK TIFF, as GDAL does): no other decoder may take the file. */
  readonly convertsToRgb?: boolean;
  /** Reads bands (1-based numbers) of a window. */
  readBands(window: PixelWindow, bands: readonly number[], options?: ReadOptions): Promise<BandWindow>;
  /** The mask (0 = nodata, non-zero = valid) of a window at the same output size, or null without a mask band. */
  readMask(window: PixelWindow, options?: ReadOptions): Promise<Uint8Array | null>;
  /**
   * Whether the file stores none of the blocks a read of the window decodes (a sparse TIFF's
   * empty blocks, written with byte count 0, read as one fill value): such a window is a constant
   * fill, known without reading it.
   */
  blocksAbsent(window: PixelWindow, options?: ReadOptions): Promise<boolean>;
  close(): Promise<void>;
}
