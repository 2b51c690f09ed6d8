/**
 * The JSON shape of an item as users see it, built in one place: the searcher's hits (which
 * the HTTP API and `rsclip search --json` print), an item's metadata (GET /api/images/:id) and
 * hits as GeoJSON features. A hit is an item of a file (the whole image or a window of a scene,
 * with its place when known); the field names are those of the first API ("images").
 */
import type { ExportRow } from '../geo/export-row.js';
import { featureCollection } from '../geo/geojson-writer.js';
import type { FieldValue, ItemRecord } from '../store/types.js';
import type { ItemFacts, ItemMetadata, SearchHit, SearchPage } from './types.js';

type Fields = Record<string, FieldValue | FieldValue[]>;

function describeItem(item: ItemRecord, fields: Fields): ItemFacts {
  const { file, place } = item;
  return {
    id: item.id,
    path: file.path,
    fileName: file.fileName,
    bytes: file.bytes,
    modified: new Date(file.mtimeMs).toISOString(),
    width: file.width,
    height: file.height,
    format: file.format,
    window: item.window,
    ...(place ? { footprint: place.footprint, center: place.center, ...(Number.isFinite(place.gsd) ? { gsd: place.gsd } : {}) } : {}),
    ...(file.stac ? { stac: { item: file.stac.item, collection: file.stac.collection } } : {}),
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
  if (parts.absolutePath) {
    hit.absolutePath = item.file.absolutePath;
    hit.root = item.file.root;
  }
  return hit;
}

export function buildItemMetadata(item: ItemRecord, fields: Fields): ItemMetadata {
  return { ...describeItem(item, fields), indexed: new Date(item.file.indexedAt).toISOString(), contentHash: item.file.contentHash };
}

/** An item as an export row (the GeoJSON / GeoParquet / CSV writers' input); rank and score for hits. */
function factsToRow(facts: ItemFacts, root: string | undefined, ranked?: { rank: number; score: number }, embedding?: Float32Array): ExportRow {
  return {
    id: facts.id,
    ...ranked,
    path: facts.path,
    ...(root === undefined ? {} : { root }),
    window: facts.window,
    footprint: facts.footprint ?? null,
    center: facts.center ?? null,
    gsd: facts.gsd ?? null,
    ...(facts.stac ? { stac: facts.stac } : {}),
    fields: facts.fields,
    ...(embedding ? { embedding } : {}),
  };
}

export function hitToRow(hit: SearchHit, embedding?: Float32Array): ExportRow {
  return factsToRow(hit, hit.root, { rank: hit.rank, score: hit.score }, embedding);
}

export function itemToRow(item: ItemRecord, fields: Fields, embedding?: Float32Array): ExportRow {
  return factsToRow(describeItem(item, fields), item.file.root, undefined, embedding);
}

/** A page of hits as an RFC 7946 FeatureCollection (hits without a place have a null geometry). */
export function pageToFeatureCollection(page: SearchPage): ReturnType<typeof featureCollection> & { nextCursor?: string; notices?: string[] } {
  const collection = featureCollection(page.hits.map((hit) => hitToRow(hit)));
  return { ...collection, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}), ...(page.notices ? { notices: page.notices } : {}) };
}
