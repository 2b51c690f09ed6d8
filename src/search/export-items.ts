/**
 * Exporting an index as the geo-embedding community exchanges it: every searchable item of a
 * selection (or the hits of a query, with rank and score) with its path, window, place, fields
 * and embedding, as GeoParquet (geometry as WKB, GeoParquet 1.1 `geo` metadata, the embedding as
 * a list of floats), plain Parquet, GeoJSON or CSV. Items are read in chunks, so an export of
 * millions of items stays in bounded memory.
 */
import { writeRows, type ExportFormat } from '../geo/export-format.js';
import type { ExportRow } from '../geo/export-row.js';
import type { IndexStore, ItemSelection } from '../store/types.js';
import { checkFilterFieldNames } from './filter-field-names.js';
import { hitToRow, itemToRow } from './hit.js';
import type { SearchPage } from './types.js';

/** Items read from the store per round. */
const CHUNK = 1000;

export interface ExportItemsOptions {
  store: IndexStore;
  /** The file to write (created or replaced). */
  file: string;
  format: ExportFormat;
  /** Which items (default: every searchable item). */
  selection?: ItemSelection;
  /** GeoJSON and CSV: write the embeddings too (Parquet formats always do). */
  includeEmbedding?: boolean;
}

function wantsEmbedding(format: ExportFormat, includeEmbedding: boolean | undefined): boolean {
  return format === 'geoparquet' || format === 'parquet' || includeEmbedding === true;
}

async function* itemRows(store: IndexStore, ids: readonly number[], embeddings: boolean): AsyncGenerator<ExportRow> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const [items, fields, vectors] = await Promise.all([store.getItems(chunk), store.getFields(chunk), embeddings ? store.getVectors(chunk) : new Map<number, Float32Array>()]);
    for (const item of items) yield itemToRow(item, fields.get(item.id) ?? {}, vectors.get(item.id));
  }
}

/** Writes the selected items; returns how many. A filter on a user field the index does not have is refused (BAD_QUERY), as a search refuses it. */
export async function exportItems(options: ExportItemsOptions): Promise<number> {
  const { store, format } = options;
  const selection = options.selection ?? {};
  await checkFilterFieldNames(store, Object.keys(selection.filter?.fields ?? {}));
  const embeddings = wantsEmbedding(format, options.includeEmbedding);
  const ids = await store.listItemIds(selection);
  return writeRows(options.file, format, itemRows(store, ids, embeddings), { dimension: store.meta.embeddingDim, includeEmbedding: embeddings });
}

/** Writes a page of hits in rank order, with rank and score; returns how many. */
export async function exportHits(store: IndexStore, page: SearchPage, file: string, format: ExportFormat, options: { includeEmbedding?: boolean } = {}): Promise<number> {
  const embeddings = wantsEmbedding(format, options.includeEmbedding);
  const vectors = embeddings ? await store.getVectors(page.hits.map((h) => h.id)) : new Map<number, Float32Array>();
  return writeRows(file, format, page.hits.map((hit) => hitToRow(hit, vectors.get(hit.id))), { dimension: store.meta.embeddingDim, includeEmbedding: embeddings, ranked: true });
}
