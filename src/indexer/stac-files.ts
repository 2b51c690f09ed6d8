/**
 * A local STAC catalog as files to index: each item's chosen asset (the visual/RGB one, or a
 * named asset), with the item's id, collection, acquisition time (datetime, or its range) and
 * properties as facts of the file, and its geometry as the place of an image that carries no
 * georeference of its own. The root is the deepest folder holding the catalog and every asset.
 */
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { readStac, type StacItemRecord, type StacReadOptions } from '../geo/stac.js';
import type { FieldValue } from '../store/types.js';
import type { WorkItem } from './prepare-file.js';

export interface StacFiles {
  root: string;
  files: { path: string; extra: NonNullable<WorkItem['extra']> }[];
}

/** Properties as fields: numbers and text as they are, booleans as text, anything else as JSON text. */
function propertyFields(properties: Record<string, unknown>): Record<string, FieldValue | FieldValue[]> {
  const fields: Record<string, FieldValue | FieldValue[]> = {};
  const value = (v: unknown): FieldValue => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' ? v : JSON.stringify(v));
  for (const [name, v] of Object.entries(properties)) {
    if (v === null || v === undefined) continue;
    fields[name] = Array.isArray(v) ? v.map(value) : value(v);
  }
  return fields;
}

function commonFolder(paths: readonly string[]): string {
  let common = path.dirname(paths[0]!);
  for (const p of paths) {
    while (path.relative(common, p).startsWith('..')) {
      const parent = path.dirname(common);
      if (parent === common) break;
      common = parent;
    }
  }
  return common;
}

function assetOf(item: StacItemRecord): string {
  if (item.imagePaths.length !== 1) {
    throw new RsclipError('BAD_INPUT', `STAC item ${item.id} names ${item.imagePaths.length} band files (${item.imageAssets.join(', ')}); rsclip indexes one image file per item`, {
      hint: 'index its visual (RGB) asset, or choose one multi-band asset with --stac-asset KEY',
    });
  }
  return item.imagePaths[0]!;
}

export async function stacFiles(stacFile: string, options: StacReadOptions = {}): Promise<StacFiles> {
  const items = await readStac(path.resolve(stacFile), options);
  if (items.length === 0) throw new RsclipError('BAD_INPUT', `STAC file ${stacFile} leads to no items`, { hint: 'give a catalog, collection or item with item links' });
  const assets = items.map(assetOf);
  const root = commonFolder([path.resolve(stacFile), ...assets]);
  const seen = new Map<string, string>();
  const files = items.map((item, i) => {
    const rel = path.relative(root, assets[i]!).split(path.sep).join('/');
    const other = seen.get(rel);
    if (other !== undefined) throw new RsclipError('BAD_INPUT', `STAC items ${other} and ${item.id} name the same file ${rel}`, { hint: 'each item must have an image file of its own' });
    seen.set(rel, item.id);
    const start = item.datetime ?? item.startDatetime!;
    const end = item.datetime ?? item.endDatetime!;
    return {
      path: rel,
      extra: {
        stac: { item: item.id, collection: item.collection, start: new Date(start).toISOString(), end: new Date(end).toISOString() },
        fields: propertyFields(item.properties),
        ...(item.geometry ? { footprint: item.geometry } : {}),
      },
    };
  });
  return { root, files };
}
