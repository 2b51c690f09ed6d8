/** Rows of the PostgreSQL tables -> the store's records (the embedded catalog's mapping, with PostgreSQL's types). */
export { fieldRows, numericValue } from '../embedded/catalog.js';
import path from 'node:path';
import type { WindowPlace } from '../../geo/index.js';
import type { SceneStretch } from '../../raster/index.js';
import type { FileGeo, FileRecord, FileStac, FileStatus, ItemRecord, KnownFile } from '../types.js';

export interface FileRow {
  id: number;
  root: string;
  path: string;
  file_name: string;
  bytes: number;
  mtime_ms: number;
  content_hash: string;
  width: number | null;
  height: number | null;
  format: string | null;
  status: FileStatus;
  error: string | null;
  indexed_at: number;
  needs_embedding: boolean;
  plan: string | null;
  stretch: string | null;
  geo: string | null;
  stac: string | null;
}

export interface ItemRow extends FileRow {
  item_id: number;
  item_key: string;
  item_x: number;
  item_y: number;
  item_width: number;
  item_height: number;
  item_scale: number;
  item_place: string | null;
}

export const ITEM_COLUMNS = 'it.id AS item_id, it.key AS item_key, it.x AS item_x, it.y AS item_y, it.width AS item_width, it.height AS item_height, it.scale AS item_scale';

export const parseJson = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export function toFileRecord(row: FileRow): FileRecord {
  return {
    id: row.id,
    root: row.root,
    path: row.path,
    absolutePath: path.join(row.root, ...row.path.split('/')),
    fileName: row.file_name,
    bytes: row.bytes,
    mtimeMs: row.mtime_ms,
    contentHash: row.content_hash,
    width: row.width,
    height: row.height,
    format: row.format,
    status: row.status,
    error: row.error,
    indexedAt: row.indexed_at,
    plan: row.plan,
    stretch: parseJson<SceneStretch>(row.stretch),
    geo: parseJson<FileGeo>(row.geo),
    stac: parseJson<FileStac>(row.stac),
    complete: !row.needs_embedding,
  };
}

export function toItemRecord(row: ItemRow): ItemRecord {
  return {
    id: row.item_id,
    file: toFileRecord(row),
    key: row.item_key,
    window: { x: row.item_x, y: row.item_y, width: row.item_width, height: row.item_height, scale: row.item_scale },
    place: parseJson<WindowPlace>(row.item_place),
  };
}

export function toKnownFile(r: FileRow): KnownFile {
  return {
    id: r.id,
    bytes: r.bytes,
    mtimeMs: r.mtime_ms,
    contentHash: r.content_hash,
    status: r.status,
    needsEmbedding: r.needs_embedding,
    width: r.width,
    height: r.height,
    plan: r.plan,
    stretch: parseJson<SceneStretch>(r.stretch),
  };
}
