/**
 * The JSON shape of an item as users see it, built in one place: the searcher's hits (which
 * the HTTP API and `rsclip search --json` print), and an item's metadata (GET /api/images/:id).
 * A hit is an item of a file; the field names are those of the first API ("images").
 */
import type { FieldValue, ItemRecord } from '../store/index.js';
import type { ItemFacts, ItemMetadata, SearchHit } from './types.js';

type Fields = Record<string, FieldValue | FieldValue[]>;

function describeItem(item: ItemRecord, fields: Fields): ItemFacts {
  const { file } = item;
  return {
    id: item.id,
    path: file.path,
    fileName: file.fileName,
    bytes: file.bytes,
    modified: new Date(file.mtimeMs).toISOString(),
    width: file.width,
    height: file.height,
    format: file.format,
    fields,
  };
}

export interface HitParts {
  rank: number;
  score: number;
  fields: Fields;
  duplicates: SearchHit['duplicates'];
  copies: SearchHit['copies'];
  /** Add the file's absolute path (the CLI; never the HTTP API, which must not reveal the server's folders). */
  absolutePath?: boolean;
}

export function buildHit(item: ItemRecord, parts: HitParts): SearchHit {
  const { id, ...facts } = describeItem(item, parts.fields);
  const hit: SearchHit = { rank: parts.rank, id, score: parts.score, ...facts, duplicates: parts.duplicates, copies: parts.copies };
  if (parts.absolutePath) hit.absolutePath = item.file.absolutePath;
  return hit;
}

export function buildItemMetadata(item: ItemRecord, fields: Fields): ItemMetadata {
  return { ...describeItem(item, fields), indexed: new Date(item.file.indexedAt).toISOString(), contentHash: item.file.contentHash };
}
