/**
 * findReusableFile on PostgreSQL: the indexer asks for every file it hashes (is this content,
 * under this plan, indexed already?), from several decode workers at once. Each lookup on its
 * own was a read transaction of three round trips: a queue's coordinator into a local server,
 * absorbing 2,000 small files in 2.6 s, waited about 7 s on them summed over its workers (ad hoc,
 * timing each statement). The store micro-batches them (MicroBatcher: those asked while a query
 * runs go together in the next one). A group's files are looked up in one statement outside a
 * transaction (one round trip: new content, the common case, needs no more), and the items of
 * those found in a read transaction after it. A query starts after every lookup in it was asked,
 * so each sees what was committed before it was asked, as one on its own would.
 */
import { toFileRecord, type FileRow } from '../catalog-rows.js';
import type { ReusableFile } from '../types.js';
import type { Database } from './database.js';
import { q } from './schema.js';
import { sentToVector, sentVector } from './vector-wire.js';

/** Lookups per query at most (the arrays of one statement). */
export const MAX_LOOKUPS_PER_QUERY = 256;

export interface ReusableLookup {
  contentHash: string;
  plan: string | null;
}

type ItemRow = { file_id: number; key: string; x: number; y: number; width: number; height: number; scale: number; embedding: Buffer };

/** For each lookup, the first ok, completely embedded file (lowest id) of that content and plan, with its items' vectors. */
export async function findReusableFiles(database: Database, group: readonly ReusableLookup[]): Promise<(ReusableFile | undefined)[]> {
  const { rows: files } = await database.readStatement<FileRow & { n: number }>(
    `SELECT DISTINCT ON (w.n) w.n, f.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(content_hash, plan, n)
     JOIN ${q(database.location.schema)}.files f ON f.content_hash = w.content_hash AND f.plan IS NOT DISTINCT FROM w.plan AND f.status = 'ok' AND NOT f.needs_embedding
     ORDER BY w.n, f.id`,
    [group.map((g) => g.contentHash), group.map((g) => g.plan)],
  );
  if (files.length === 0) return group.map(() => undefined);
  const { rows: items } = await database.transaction('read', (db) =>
    db.query<ItemRow>(
      `SELECT it.file_id, it.key, it.x, it.y, it.width, it.height, it.scale, ${sentVector('v.embedding')} AS embedding
       FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = ANY($1::bigint[]) AND it.key IS NOT NULL ORDER BY it.id`,
      [[...new Set(files.map((f) => f.id))]],
    ),
  );
  const itemsOf = new Map<number, ReusableFile['items']>();
  for (const r of items) {
    const list = itemsOf.get(r.file_id) ?? [];
    list.push({ key: r.key, window: { x: r.x, y: r.y, width: r.width, height: r.height, scale: r.scale }, vector: sentToVector(r.embedding) });
    itemsOf.set(r.file_id, list);
  }
  const byLookup = new Map(files.map((f) => [Number(f.n), f]));
  return group.map((_, n) => {
    const file = byLookup.get(n + 1);
    if (!file) return undefined;
    return { fileId: file.id, width: file.width, height: file.height, format: file.format, stretch: toFileRecord(file).stretch, items: itemsOf.get(file.id) ?? [] };
  });
}
