/**
 * Reading a local STAC catalog: a catalog.json, collection.json, item.json or item collection;
 * child and item links are followed (relative hrefs resolve against the file that holds them),
 * and each item gives its id, geometry, bbox, datetime (or start/end), properties and the local
 * files of its assets: the visual/RGB asset, a named asset, or one asset per named band.
 * Remote hrefs are refused with a clear error: rsclip indexes local files.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RsclipError } from '../errors.js';
import type { AreaGeometry, BBox } from './geojson-types.js';

export interface StacAsset {
  key: string;
  /** The absolute local path of the asset's file. */
  path: string;
  type: string | null;
  roles: string[];
  /** The bands the asset declares (eo:bands, or STAC 1.1 bands), with their names and common names. */
  bands: { name: string | null; commonName: string | null }[];
}

export interface StacItemRecord {
  id: string;
  collection: string | null;
  /** The item's JSON file. */
  itemPath: string;
  /** The item's geometry when it is a Polygon or MultiPolygon, else null. */
  geometry: AreaGeometry | null;
  bbox: BBox | null;
  /** RFC 3339 date-times with an offset, as the item gives them. */
  datetime: string | null;
  startDatetime: string | null;
  endDatetime: string | null;
  properties: Record<string, unknown>;
  assets: Record<string, StacAsset>;
  /** The files to index: one visual/RGB asset, or one file per requested band, in order. */
  imagePaths: string[];
  /** The asset keys of `imagePaths`. */
  imageAssets: string[];
}

export interface StacReadOptions {
  /** The asset to index (default: `visual`, else the asset with role `visual`, else the only image asset). */
  asset?: string;
  /** Band assets to index in order, by asset key or band (common) name, e.g. ['red', 'green', 'blue'] or ['B04', 'B03', 'B02']. */
  bands?: readonly string[];
}

type Json = Record<string, unknown>;

function stacError(message: string, hint?: string): RsclipError {
  return new RsclipError('BAD_INPUT', message, hint ? { hint } : {});
}

async function readJson(file: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new RsclipError('BAD_INPUT', `cannot read STAC file ${file}: ${code === 'ENOENT' ? 'file not found' : (cause as Error).message}`, { hint: 'check the path and the links that lead to it', cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new RsclipError('BAD_INPUT', `STAC file ${file} is not valid JSON: ${(cause as Error).message}`, { hint: 'fix the file or remove the link to it', cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw stacError(`STAC file ${file} is not a JSON object`);
  return json as Json;
}

/** A local path for an href, relative to the file that holds it; remote hrefs are refused. */
function localPath(href: unknown, base: string, what: string): string {
  if (typeof href !== 'string' || href.length === 0) throw stacError(`${what} in ${base} has no href`);
  if (href.startsWith('file://')) return fileURLToPath(href);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(href)) {
    throw stacError(`${what} in ${base} is remote (${href}); rsclip indexes local STAC catalogs only`, 'download the catalog and its assets (e.g. with stac-asset or rclone), rewriting hrefs to relative paths');
  }
  return path.resolve(path.dirname(base), href);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function bandsOf(asset: Json): StacAsset['bands'] {
  const bands = (Array.isArray(asset['eo:bands']) ? asset['eo:bands'] : Array.isArray(asset.bands) ? asset.bands : []) as Json[];
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return bands.map((b) => ({ name: text(b.name), commonName: text(b.common_name) ?? text(b['eo:common_name']) }));
}

function isBand(asset: StacAsset, name: string): boolean {
  const n = name.toLowerCase();
  return asset.bands.length === 1 && (asset.bands[0]!.name?.toLowerCase() === n || asset.bands[0]!.commonName?.toLowerCase() === n);
}

function areaGeometry(value: unknown): AreaGeometry | null {
  if (typeof value !== 'object' || value === null) return null;
  const g = value as Json;
  if ((g.type === 'Polygon' || g.type === 'MultiPolygon') && Array.isArray(g.coordinates)) return g as unknown as AreaGeometry;
  return null;
}

/** RFC 3339 §5.6 date-times with an offset and a real calendar date; Date.parse would read "1" as 2001, roll February 30 into March and read a zone-less time in the machine's zone. */
const RFC3339_DATE_TIME = z.iso.datetime({ offset: true });

function isoOrNull(value: unknown, field: string, item: string): string | null {
  if (value === null || value === undefined) return null;
  // RFC 3339 allows a lower-case t and z.
  if (typeof value !== 'string' || !RFC3339_DATE_TIME.safeParse(value.toUpperCase()).success) {
    throw stacError(`STAC item ${item} has an invalid ${field}: ${JSON.stringify(value)} is not an RFC 3339 date-time with a valid date and a time zone offset`, 'use RFC 3339 with Z or an offset, e.g. 2023-06-01T10:30:00Z or 2023-06-01T12:30:00+02:00');
  }
  return value;
}

function checkRange(record: StacItemRecord): void {
  const { startDatetime: start, endDatetime: end } = record;
  if (start !== null && end !== null && Date.parse(start) > Date.parse(end)) {
    throw stacError(`STAC item ${record.id} in ${record.itemPath} has a start_datetime ${start} after its end_datetime ${end}`, 'swap them, or fix the one that is wrong');
  }
}

const IMAGE_TYPE = /^image\//;

function chooseImage(item: { id: string; itemPath: string; assets: Record<string, StacAsset> }, options: StacReadOptions): StacAsset[] {
  const assets = Object.values(item.assets);
  const keys = Object.keys(item.assets).join(', ') || 'none';
  if (options.bands && options.bands.length > 0) {
    return options.bands.map((name) => {
      const found = item.assets[name] ?? assets.find((a) => isBand(a, name));
      if (!found) throw stacError(`STAC item ${item.id} has no asset or band named ${JSON.stringify(name)} (assets: ${keys})`, 'name band assets by key or common name, e.g. --stac-bands red,green,blue');
      return found;
    });
  }
  if (options.asset) {
    const found = item.assets[options.asset];
    if (!found) throw stacError(`STAC item ${item.id} has no asset ${JSON.stringify(options.asset)} (assets: ${keys})`);
    return [found];
  }
  const visual = item.assets.visual ?? assets.find((a) => a.roles.includes('visual'));
  if (visual) return [visual];
  const images = assets.filter((a) => a.type !== null && IMAGE_TYPE.test(a.type) && !a.roles.includes('thumbnail') && !a.roles.includes('overview'));
  if (images.length === 1) return [images[0]!];
  throw stacError(`STAC item ${item.id} has no visual asset and ${images.length} image assets (assets: ${keys})`, 'choose one with --stac-asset KEY, or bands with --stac-bands red,green,blue');
}

function readItem(json: Json, file: string, options: StacReadOptions): StacItemRecord {
  if (typeof json.id !== 'string' || json.id.length === 0) throw stacError(`STAC item ${file} has no id`);
  const id = json.id;
  const properties = typeof json.properties === 'object' && json.properties !== null ? (json.properties as Json) : {};
  const rawAssets = typeof json.assets === 'object' && json.assets !== null ? (json.assets as Record<string, Json>) : {};
  const assets: Record<string, StacAsset> = {};
  for (const [key, asset] of Object.entries(rawAssets)) {
    const href = asset.href;
    // Remote assets are refused only when chosen; record the others as unusable.
    const remote = typeof href === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(href) && !href.startsWith('file://');
    assets[key] = {
      key,
      path: remote ? String(href) : localPath(href, file, `asset ${JSON.stringify(key)}`),
      type: typeof asset.type === 'string' ? asset.type : null,
      roles: strings(asset.roles),
      bands: bandsOf(asset),
    };
  }
  const chosen = chooseImage({ id, itemPath: file, assets }, options);
  for (const a of chosen) localPath(rawAssets[a.key]!.href, file, `asset ${JSON.stringify(a.key)} of item ${id}`);
  const bbox = Array.isArray(json.bbox) && json.bbox.length >= 4 ? (json.bbox.length === 4 ? json.bbox : [json.bbox[0], json.bbox[1], json.bbox[3], json.bbox[4]]) : null;
  const record: StacItemRecord = {
    id,
    collection: typeof json.collection === 'string' ? json.collection : null,
    itemPath: file,
    geometry: areaGeometry(json.geometry),
    bbox: bbox as BBox | null,
    datetime: isoOrNull(properties.datetime, 'datetime', `${id} in ${file}`),
    startDatetime: isoOrNull(properties.start_datetime, 'start_datetime', `${id} in ${file}`),
    endDatetime: isoOrNull(properties.end_datetime, 'end_datetime', `${id} in ${file}`),
    properties,
    assets,
    imagePaths: chosen.map((a) => a.path),
    imageAssets: chosen.map((a) => a.key),
  };
  if (record.datetime === null && (record.startDatetime === null || record.endDatetime === null)) {
    throw stacError(`STAC item ${file} has neither a datetime nor a start_datetime and end_datetime`, 'STAC items need a datetime (or both ends of a range)');
  }
  checkRange(record);
  return record;
}

/** Every item reachable from a local STAC file, in link order, each once. */
export async function readStac(file: string, options: StacReadOptions = {}): Promise<StacItemRecord[]> {
  const items: StacItemRecord[] = [];
  const seen = new Set<string>();
  const visit = async (current: string): Promise<void> => {
    const resolved = path.resolve(current);
    if (seen.has(resolved)) return;
    seen.add(resolved);
    const json = await readJson(resolved);
    if (json.type === 'Feature') {
      items.push(readItem(json, resolved, options));
      return;
    }
    if (json.type === 'FeatureCollection') {
      for (const feature of Array.isArray(json.features) ? (json.features as Json[]) : []) items.push(readItem(feature, resolved, options));
      return;
    }
    if (json.type !== 'Catalog' && json.type !== 'Collection') {
      throw stacError(`${resolved} is not a STAC catalog, collection or item (type ${JSON.stringify(json.type)})`, 'give a catalog.json, collection.json or item.json');
    }
    for (const link of Array.isArray(json.links) ? (json.links as Json[]) : []) {
      if (link.rel === 'child' || link.rel === 'item') await visit(localPath(link.href, resolved, `${String(link.rel)} link`));
    }
  };
  await visit(file);
  return items;
}
