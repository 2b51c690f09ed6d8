/**
 * Which pixels of a window hold data: a pixel is nodata when every chosen band equals the nodata
 * value (NaN included), when any band is NaN or infinite (whatever the nodata tag says: GDAL's
 * statistics skip NaN, and no stretch can map either), when the mask band is 0, or when the alpha
 * band is 0. A window whose
 * data pixels all have one value in every band is a constant fill (a black or white border
 * written without a nodata tag). Mostly-nodata and constant windows are not worth embedding.
 */
import type { BandArray } from './types.js';

export interface ValiditySources {
  nodata: number | null;
  mask?: Uint8Array | null;
  alpha?: BandArray | null;
}

/** 1 where the pixel holds data, 0 where it is nodata. */
export function pixelValidity(bands: readonly BandArray[], sources: ValiditySources): Uint8Array {
  const n = bands[0]?.length ?? 0;
  const valid = new Uint8Array(n).fill(1);
  const { nodata, mask, alpha } = sources;
  if (nodata !== null) {
    // a pixel is nodata when every band is: count the bands that are, pixel by pixel (NaN never equals itself)
    const nodataBands = new Uint16Array(n);
    for (const band of bands) {
      if (Number.isNaN(nodata)) for (let i = 0; i < n; i++) nodataBands[i]! += band[i] !== band[i] ? 1 : 0;
      else for (let i = 0; i < n; i++) nodataBands[i]! += band[i] === nodata ? 1 : 0;
    }
    for (let i = 0; i < n; i++) if (nodataBands[i] === bands.length) valid[i] = 0;
  }
  for (const band of bands) {
    if (band instanceof Float32Array || band instanceof Float64Array) for (let i = 0; i < n; i++) if (!Number.isFinite(band[i])) valid[i] = 0;
  }
  if (mask) for (let i = 0; i < n; i++) if (mask[i] === 0) valid[i] = 0;
  if (alpha) for (let i = 0; i < n; i++) if (alpha[i] === 0) valid[i] = 0;
  return valid;
}

export interface WindowValidity {
  valid: Uint8Array;
  validPixels: number;
  /** Share of nodata pixels, 0..1. */
  nodataFraction: number;
  /** Every data pixel has the same value in every band (including a window with no data at all). */
  constant: boolean;
}

export function windowValidity(bands: readonly BandArray[], sources: ValiditySources): WindowValidity {
  const valid = pixelValidity(bands, sources);
  const n = valid.length;
  let validPixels = 0;
  let constant = true;
  const first: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    if (validPixels === 0) bands.forEach((b) => first.push(b[i]!));
    else if (constant) {
      for (let b = 0; b < bands.length; b++) {
        const v = bands[b]![i]!;
        if (v !== first[b] && !(Number.isNaN(v) && Number.isNaN(first[b]!))) {
          constant = false;
          break;
        }
      }
    }
    validPixels++;
  }
  return { valid, validPixels, nodataFraction: n === 0 ? 1 : 1 - validPixels / n, constant };
}

/** Whether a window should be skipped: at least `threshold` (default 0.5) nodata, or a constant fill. */
export function isMostlyNodata(validity: Pick<WindowValidity, 'nodataFraction' | 'constant'>, threshold = 0.5): boolean {
  return validity.nodataFraction >= threshold || validity.constant;
}
