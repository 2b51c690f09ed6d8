/**
 * Georeferencing of a GeoTIFF from its tags, as GDAL reads it:
 * - the affine transform from ModelTransformation (rotation and shear included) or from one
 *   ModelTiepoint + ModelPixelScale; tie points without a scale are ground control points
 *   (GCPs), which GDAL keeps as GCPs and warps with: rsclip takes their affine fit (gcp-fit.ts,
 *   GDAL's `-order 1`), with its residuals, and no georeference where there is none (fewer than
 *   3 GCPs, all on a line), saying why; geographic GCPs across the antimeridian are made
 *   continuous where that fits them clearly better (GDAL's fit would stretch such a scene
 *   around the globe), while whole-world and ±180-edged scenes are fitted as given, as GDAL does;
 * - PixelIsPoint (GTRasterTypeGeoKey = 2) shifts the transform by half a pixel, as GDAL does by
 *   default (GTIFF_POINT_GEO_IGNORE=FALSE), so both conventions give the same corners as gdalinfo;
 *   GDAL shifts GCPs alike (RFC 33: their pixel/line + 0.5), and so does rsclip;
 * - the CRS from the GeoKeys: an EPSG code (ProjectedCSTypeGeoKey, else GeographicTypeGeoKey)
 *   through `epsg-index`; else an ESRI PE string (WKT) in a citation key through proj4js's WKT
 *   parser; else the user-defined keys (projection code or ProjCoordTrans parameters, datum,
 *   ellipsoid, units) through `geotiff-geokeys-to-proj4`.
 *
 * Pure functions of the tag values: the raster folder reads the tags and calls these.
 */
import type GeokeysToProj4 from 'geotiff-geokeys-to-proj4';
import { RsclipError } from '../errors.js';
import { lazyPackage } from '../lazy-package.js';
import { crsFromEpsg, crsFromProj4, crsFromWkt, type Crs } from './crs.js';
import { GCP_RESIDUAL_TOLERANCE_PIXELS, fitAffineToGcps, type GcpFit, type GroundControlPoint } from './gcp-fit.js';
import { shiftHalfPixel, type GeoTransform } from './geotransform.js';
import { checkOnTheEarth, type Georeference } from './georeference.js';

const loadGeokeysToProj4 = lazyPackage<typeof GeokeysToProj4>('geotiff-geokeys-to-proj4');

/** The GeoTIFF tags that georeference an image (as geotiff.js names them). */
export interface GeoTiffGeoTags {
  modelTiepoint?: ArrayLike<number> | null;
  modelPixelScale?: ArrayLike<number> | null;
  modelTransformation?: ArrayLike<number> | null;
  /** GeoKeys by name, e.g. `{ ProjectedCSTypeGeoKey: 32633, GTRasterTypeGeoKey: 1 }`. */
  geoKeys?: Record<string, unknown> | null;
}

const USER_DEFINED = 32767;
const ESRI_PE_PREFIX = 'ESRI PE String = ';
/** Warnings of geotiff-geokeys-to-proj4 that leave the CRS well defined. */
const HARMLESS_KEY_ERRORS = new Set(['bothGCSAndPCSAreSet']);

function num(v: ArrayLike<number>, i: number): number {
  const x = v[i];
  if (x === undefined || !Number.isFinite(x)) throw new RsclipError('IMAGE_UNREADABLE', `GeoTIFF georeferencing tag has a non-finite value at position ${i}`);
  return x;
}

/** The affine transform of the tags, before any PixelIsPoint shift; null when there is none (or only ground control points). */
export function geoTransformFromTags(tags: GeoTiffGeoTags): GeoTransform | null {
  const m = tags.modelTransformation;
  if (m && m.length >= 16) {
    return [num(m, 3), num(m, 0), num(m, 1), num(m, 7), num(m, 4), num(m, 5)];
  }
  const tie = tags.modelTiepoint;
  const scale = tags.modelPixelScale;
  if (tie && tie.length >= 6 && scale && scale.length >= 2) {
    // GDAL: the first tie point and the scale; a negative Y scale gives a south-up image.
    const sx = num(scale, 0);
    const sy = num(scale, 1);
    return [num(tie, 3) - num(tie, 0) * sx, sx, 0, num(tie, 4) + num(tie, 1) * sy, 0, -sy];
  }
  return null;
}

function keyNumber(keys: Record<string, unknown>, name: string): number | undefined {
  const v = keys[name];
  return typeof v === 'number' ? v : undefined;
}

function esriPeString(keys: Record<string, unknown>): string | undefined {
  for (const name of ['PCSCitationGeoKey', 'GTCitationGeoKey', 'GeogCitationGeoKey']) {
    const v = keys[name];
    if (typeof v === 'string' && v.startsWith(ESRI_PE_PREFIX)) return v.slice(ESRI_PE_PREFIX.length);
  }
  return undefined;
}

function isEpsgCode(code: number | undefined): code is number {
  return code !== undefined && code > 0 && code < USER_DEFINED;
}

/** The CRS the GeoKeys describe; null when there are no keys. Throws when they describe one that cannot be used. */
export function crsFromGeoKeys(keys: Record<string, unknown> | null | undefined): Crs | null {
  if (!keys || Object.keys(keys).length === 0) return null;
  const modelType = keyNumber(keys, 'GTModelTypeGeoKey');
  const projected = keyNumber(keys, 'ProjectedCSTypeGeoKey');
  const geographic = keyNumber(keys, 'GeographicTypeGeoKey');
  if (isEpsgCode(projected) && modelType !== 2) return crsFromEpsg(projected);
  if (isEpsgCode(geographic) && modelType !== 1 && projected === undefined) return crsFromEpsg(geographic);
  const wkt = esriPeString(keys);
  if (wkt) return crsFromWkt(wkt);
  if (modelType === undefined && projected === undefined && geographic === undefined) return null;
  const params = loadGeokeysToProj4().toProj4(keys as unknown as Parameters<typeof GeokeysToProj4.toProj4>[0]);
  const problems = Object.keys(params.errors).filter((k) => !HARMLESS_KEY_ERRORS.has(k));
  if (problems.length > 0) {
    throw new RsclipError('IMAGE_UNREADABLE', `the GeoTIFF's GeoKeys describe a CRS that cannot be converted (${problems.join(', ')})`, {
      hint: 'rewrite its CRS as an EPSG code (e.g. gdal_edit.py -a_srs EPSG:32633 FILE)',
    });
  }
  let definition = withEpsgDatumShift(params.proj4.trim(), geographic);
  const { x, y } = params.coordinatesConversionParameters;
  if (x !== 1 || y !== 1) {
    if (params.isGCS || x !== y) {
      throw new RsclipError('IMAGE_UNREADABLE', `the GeoTIFF's GeoKeys use coordinate units rsclip cannot convert (${params.coordinatesUnits}, factors ${x}, ${y})`, {
        hint: 'rewrite its CRS as an EPSG code (e.g. gdal_edit.py -a_srs EPSG:32633 FILE)',
      });
    }
    definition += ` +to_meter=${x}`;
  }
  const citation = keys.GTCitationGeoKey ?? keys.PCSCitationGeoKey;
  return crsFromProj4(definition, typeof citation === 'string' ? citation : undefined);
}

/**
 * A user-defined projection on an EPSG geographic CRS shifts its datum as that CRS does in
 * `crsFromEpsg`. geotiff-geokeys-to-proj4 copies Coordinate Frame parameters into `+towgs84`
 * unchanged, as epsg-index does (see epsg-datum-shift-fixes.ts), and writes no shift at all for
 * some datums (Amersfoort, BD72, KKJ, Hong Kong 1980): the EPSG CRS's shift replaces or completes it.
 */
function withEpsgDatumShift(definition: string, geographic: number | undefined): string {
  if (!isEpsgCode(geographic) || /\+(datum|nadgrids)=/.test(definition)) return definition;
  let shift: string | undefined;
  try {
    shift = /\+(towgs84|nadgrids)=\S+/.exec(crsFromEpsg(geographic).definition)?.[0];
  } catch {
    return definition; // not in the EPSG registry epsg-index holds: nothing better to take
  }
  if (shift === undefined) return definition;
  return /\+towgs84=/.test(definition) ? definition.replace(/\+towgs84=\S+/, shift) : `${definition} ${shift}`;
}

/**
 * The ground control points of the tags: ModelTiepoint's (I, J, K, X, Y, Z) sextets where the
 * tags give no affine transform (no ModelTransformation, no ModelPixelScale); null where they do,
 * or hold no tie point. K and Z are ignored, as GDAL's GCP transformer does.
 */
export function gcpsFromTags(tags: GeoTiffGeoTags): GroundControlPoint[] | null {
  const tie = tags.modelTiepoint;
  if (geoTransformFromTags(tags) || !tie || tie.length < 6) return null;
  const gcps: GroundControlPoint[] = [];
  for (let i = 0; i + 6 <= tie.length; i += 6) gcps.push({ pixel: tie[i]!, line: tie[i + 1]!, x: tie[i + 3]!, y: tie[i + 4]! });
  return gcps;
}

/** A GeoTIFF's georeference, and why its georeferencing tags give none where they do not (GCPs that cannot be fitted). */
export interface GeoTiffGeoreferenceReading {
  georeference: Georeference | null;
  /** Set where the tags hold georeferencing that gives no georeference. */
  unusable?: string;
}

/**
 * How far from square on the ground a fit's pixels are, |ln(width / height)|, a pixel's width
 * (one column's step) and height (one line's step) measured with longitude degrees shortened by
 * the cosine of the GCPs' mean latitude. Images have roughly square pixels on the ground (a
 * sensor's, a scan's, a grid's).
 */
function pixelSkew(fit: GcpFit, gcps: readonly GroundControlPoint[], degreesPerUnit: number): number {
  const [, b, c, , e, f] = fit.geoTransform;
  const meanLat = (gcps.reduce((s, g) => s + g.y, 0) / gcps.length) * degreesPerUnit;
  const k = Math.max(Math.cos((meanLat * Math.PI) / 180), 1e-6);
  return Math.abs(Math.log(Math.hypot(b * k, e) / Math.hypot(c * k, f)));
}

/**
 * The affine fit of GCPs in a geographic CRS whose longitudes spread over more than half a turn.
 * That is a scene across the antimeridian (some GCPs near +180, some near -180), whose fit as
 * given stretches it around the globe; or a whole-world, polar or ±180-edged scene, which GDAL
 * fits as given (GCPs at -180 and 180 are its two edges). Both fits are made, the second with
 * every negative longitude a turn east; the shifted one is kept where it fits clearly better (the
 * GCPs of a scene across ±180 lie far off any plane as given, unless they sit in only two
 * columns), the one as given where it does (a scene spanning the world fits exactly as given, and
 * its -180 and 180 collapse when shifted). Fits as good as each other (two columns of GCPs, one
 * each side of the antimeridian, or one each near -180 and 180) are told apart by their pixels:
 * the fit whose pixels are nearer square on the ground (a scene across ±180 fitted as given has
 * pixels some 360 / its width in degrees times too wide; a world scene fitted shifted, as many
 * times too narrow), the shifted one where they are alike.
 */
function fitGeographicGcps(gcps: readonly GroundControlPoint[], crs: Crs | null): ReturnType<typeof fitAffineToGcps> {
  const given = fitAffineToGcps(gcps);
  if (!crs?.geographic) return given;
  const turn = 360 / crs.degreesPerUnit;
  const xs = gcps.map((g) => g.x);
  if (!(Math.max(...xs) - Math.min(...xs) > turn / 2)) return given;
  const shifted = fitAffineToGcps(gcps.map((g) => (g.x < 0 ? { ...g, x: g.x + turn } : g)));
  if ('problem' in shifted) return given;
  if ('problem' in given) return shifted;
  const clearlyBetter = (a: GcpFit, b: GcpFit) => b.maxResidualPixels > GCP_RESIDUAL_TOLERANCE_PIXELS && a.rmsResidualPixels < 0.5 * b.rmsResidualPixels;
  if (clearlyBetter(shifted.fit, given.fit)) return shifted;
  if (clearlyBetter(given.fit, shifted.fit)) return given;
  const degreesPerUnit = crs.degreesPerUnit;
  return pixelSkew(given.fit, gcps, degreesPerUnit) < pixelSkew(shifted.fit, gcps, degreesPerUnit) ? given : shifted;
}

/**
 * The georeference of a GeoTIFF image of `width` x `height` pixels from its tags (see
 * georeferenceFromGeoTiff), with the reason where ground control points give none.
 */
export function readGeoTiffGeoreference(tags: GeoTiffGeoTags, width: number, height: number, crs?: Crs): GeoTiffGeoreferenceReading {
  const raw = geoTransformFromTags(tags);
  const gcps = raw ? null : gcpsFromTags(tags);
  if (!raw && !gcps) return { georeference: null };
  const pixelIsPoint = keyNumber(tags.geoKeys ?? {}, 'GTRasterTypeGeoKey') === 2;
  const own = crsFromGeoKeys(tags.geoKeys);
  const chosen = own ?? crs ?? null;
  let geoTransform: GeoTransform;
  let gcpFit: Georeference['gcpFit'];
  if (raw) geoTransform = pixelIsPoint ? shiftHalfPixel(raw) : raw;
  else {
    // GDAL (RFC 33): a PixelIsPoint GCP's pixel/line is a pixel's centre, +0.5 in its pixel/line convention
    const shifted = pixelIsPoint ? gcps!.map((g) => ({ ...g, pixel: g.pixel + 0.5, line: g.line + 0.5 })) : gcps!;
    const fitted = fitGeographicGcps(shifted, chosen);
    if ('problem' in fitted) return { georeference: null, unusable: `ground control points that cannot be fitted: ${fitted.problem}` };
    const { fit } = fitted;
    geoTransform = fit.geoTransform;
    gcpFit = { gcps: fit.gcps, maxResidualPixels: fit.maxResidualPixels, rmsResidualPixels: fit.rmsResidualPixels };
  }
  const georeference: Georeference = { crs: chosen, geoTransform, width, height, source: 'geotiff', ...(gcpFit ? { gcpFit } : {}) };
  checkOnTheEarth(
    georeference,
    gcpFit ? "the affine fit of the GeoTIFF's ground control points" : "the GeoTIFF's georeference",
    own
      ? 'its coordinates are likely projected: give the file their CRS (e.g. gdal_edit.py -a_srs EPSG:32633 FILE)'
      : 'its coordinates are likely projected: give --crs EPSG:<code> of that projection (e.g. EPSG:32633)',
  );
  return { georeference };
}

/**
 * The georeference of a GeoTIFF image of `width` x `height` pixels from its tags; null when it
 * has no affine transform and no ground control points that can be fitted with one. `crs` (a
 * user's `--crs`) serves a file whose GeoKeys give no CRS: a CRS the file gives wins (as a world
 * file's `.prj` does), so that `--crs` for the world files of a folder does not move its
 * GeoTIFFs; a CRS it gives that cannot be used fails it.
 */
export function georeferenceFromGeoTiff(tags: GeoTiffGeoTags, width: number, height: number, crs?: Crs): Georeference | null {
  return readGeoTiffGeoreference(tags, width, height, crs).georeference;
}
