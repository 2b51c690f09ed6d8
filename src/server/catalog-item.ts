/** The item a route's `:id` names, as the catalog has it; NOT_FOUND (404) unless its file is indexed (`ok`). */
import { RsclipError } from '../errors.js';
import type { IndexStore, ItemRecord } from '../store/types.js';
import { parseId } from './query-params.js';

export async function itemOr404(store: IndexStore, rawId: unknown): Promise<ItemRecord> {
  const id = parseId(rawId);
  const [item] = await store.getItems([id]);
  if (!item || item.file.status !== 'ok') throw new RsclipError('NOT_FOUND', `no indexed image with id ${id}`);
  return item;
}
