/** An index's catalog as plain data keyed by path and window (ids left out: they depend on commit order), for comparing two indexes. */
import { openIndex } from '../../src/store/index.js';

export interface CatalogDump {
  files: Record<string, { status: string; contentHash: string; width: number | null; height: number | null; format: string | null; plan: string | null; stretch: unknown; error: string | null }>;
  items: Record<string, { window: unknown; place: unknown; vector: number[] }>;
  itemCount: number;
}

export async function dumpCatalog(index: string): Promise<CatalogDump> {
  const store = await openIndex(index, { readonly: true });
  try {
    const files: CatalogDump['files'] = {};
    for (const status of ['ok', 'error'] as const) {
      for (const f of await store.listFiles(status)) {
        files[f.path] = { status: f.status, contentHash: f.contentHash, width: f.width, height: f.height, format: f.format, plan: f.plan, stretch: f.stretch, error: f.error };
      }
    }
    const ids = await store.listItemIds();
    const vectors = await store.getVectors(ids);
    const items: CatalogDump['items'] = {};
    for (const item of await store.getItems(ids)) {
      items[`${item.file.path}#${item.key}`] = { window: item.window, place: item.place, vector: [...vectors.get(item.id)!] };
    }
    return { files, items, itemCount: ids.length };
  } finally {
    await store.close();
  }
}
