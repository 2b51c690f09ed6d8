/**
 * Which files a run indexed with a place and which without one, and why: a place filter
 * (--bbox, --near, --within) never finds the latter, so the run's summary says so. Warns, once
 * per file indexed, where ground control points gave an approximate place or none.
 */
import { GCP_RESIDUAL_TOLERANCE_PIXELS } from '../geo/gcp-fit.js';
import type { Georeference } from '../geo/georeference.js';
import type { RunPlaces } from './types.js';

/** Files without a place the summary names. */
export const UNPLACED_EXAMPLES = 5;

export const NO_GEOREFERENCE = 'no georeference';

/** What the tally needs of a file the run indexed. */
export interface IndexedFilePlace {
  /** Relative to its archive root (as the catalog and the summary's other lists show it). */
  path: string;
  absolutePath: string;
  georeference: Georeference | null;
  /** Why georeferencing the file carries gives none (RasterSource.unusableGeoreference). */
  unusableGeoreference?: string | undefined;
  /** A STAC item gave the file its footprint. */
  stacFootprint: boolean;
}

/** Why `file` has no place, or null where it has one. */
export function whyNoPlace(file: IndexedFilePlace): string | null {
  const geo = file.georeference;
  if (geo?.crs || file.stacFootprint) return null;
  if (geo?.source === 'world-file') return 'a world file without a .prj, and no --crs';
  if (geo) return `${geo.gcpFit ? 'GeoTIFF ground control points' : 'a GeoTIFF transform'} without a CRS in its GeoKeys, and no --crs`;
  return file.unusableGeoreference ?? NO_GEOREFERENCE;
}

export class RunPlacesTally {
  private readonly places: RunPlaces = { placed: 0, unplaced: 0, unusable: 0, approximate: 0, examples: [] };
  /** Examples of files without any georeference, shown after those whose georeferencing could not be used. */
  private readonly plain: RunPlaces['examples'] = [];

  constructor(private readonly warn: (message: string) => void = (message) => process.emitWarning(message, { code: 'RSCLIP_PLACE' })) {}

  count(file: IndexedFilePlace): void {
    const why = whyNoPlace(file);
    const fit = file.georeference?.gcpFit;
    if (why === null) {
      this.places.placed++;
      if (fit && fit.maxResidualPixels > GCP_RESIDUAL_TOLERANCE_PIXELS) {
        this.places.approximate++;
        this.warn(
          `${file.absolutePath}: placed by the affine fit of its ${fit.gcps} ground control points, which misses them by up to ${fit.maxResidualPixels.toFixed(1)} px ` +
            `(RMS ${fit.rmsResidualPixels.toFixed(1)} px; rsclip places a scene by an affine transform only): its footprints are approximate; ` +
            'warp it to a map grid (gdalwarp) for exact places',
        );
      }
      return;
    }
    this.places.unplaced++;
    if (why === NO_GEOREFERENCE) {
      if (this.plain.length < UNPLACED_EXAMPLES) this.plain.push({ path: file.path, why });
      return;
    }
    this.places.unusable++;
    if (this.places.examples.length < UNPLACED_EXAMPLES) this.places.examples.push({ path: file.path, why });
    if (file.unusableGeoreference !== undefined && file.georeference === null) this.warn(`${file.absolutePath}: indexed without a place: ${why}`);
  }

  summary(): RunPlaces {
    const examples = [...this.places.examples, ...this.plain].slice(0, UNPLACED_EXAMPLES);
    return { ...this.places, examples };
  }
}

/**
 * Whether the human summary names the files indexed without a place: where the run also placed
 * files (a mixed archive, whose place searches miss them) or where a file carried georeferencing
 * rsclip could not use. An archive of plain photographs gets no line.
 */
export function unplacedWorthSaying(places: RunPlaces | undefined): places is RunPlaces {
  return places !== undefined && places.unplaced > 0 && (places.placed > 0 || places.unusable > 0);
}
