/**
 * A commit's changes as PostgreSQL statements, inside the caller's transaction: the embedded
 * catalog's applyChanges (embedded/catalog.ts) change for change, with set-based statements per
 * file (a scene's batch of items is a handful of statements, not one per item). Vectors exist
 * for the searchable items only (live items of ok files): a retired item, a failed or removed
 * file loses them, and so do the items a new version of a file has not carried yet (until its
 * complete put retires those it never carried).
 */
import path from 'node:path';
import type { WindowPlace } from '../../geo/footprint.js';
import { footprintBoxes } from '../embedded/catalog-filter.js';
import { WHOLE_IMAGE_KEY, type CatalogChange, type CommittedChange, type FileStatus, type NewFile, type NewItem } from '../types.js';
import type { Queryable } from './database.js';
import { fieldRows, type FileRow } from '../catalog-rows.js';
import type { VectorArrays } from './vector-wire.js';

/** The items of a put: the `vector` form is a whole-image file's one item. */
function itemsOf(change: Extract<CatalogChange, { kind: 'put' }>): { items: readonly NewItem[]; complete: boolean } {
  if ('items' in change) return { items: change.items, complete: change.complete };
  const window = { x: 0, y: 0, width: change.file.width ?? 0, height: change.file.height ?? 0, scale: 1 };
  return { items: [{ key: WHOLE_IMAGE_KEY, window, place: null, vector: change.vector }], complete: true };
}

/** The files table's columns in the order of fileValues, with their types (for arrays of each). */
const FILE_COLUMNS: readonly (readonly [string, string])[] = [
  ['root', 'text'],
  ['path', 'text'],
  ['file_name', 'text'],
  ['bytes', 'bigint'],
  ['mtime_ms', 'float8'],
  ['content_hash', 'text'],
  ['width', 'integer'],
  ['height', 'integer'],
  ['format', 'text'],
  ['status', 'text'],
  ['error', 'text'],
  ['indexed_at', 'bigint'],
  ['needs_embedding', 'boolean'],
  ['plan', 'text'],
  ['stretch', 'text'],
  ['geo', 'text'],
  ['stac', 'text'],
  ['time_start', 'float8'],
  ['time_end', 'float8'],
];
const FILE_NAMES = FILE_COLUMNS.map(([name]) => name).join(', ');

const UPSERT_FILE = `
  INSERT INTO files (${FILE_NAMES}) VALUES (${FILE_COLUMNS.map((_, n) => `$${n + 1}`).join(', ')})
  ON CONFLICT (root, path) DO UPDATE SET ${FILE_COLUMNS.slice(2).map(([name]) => `${name} = excluded.${name}`).join(', ')}
  RETURNING id`;

/** Many new files at once, inserted in the order given (so their ids follow it). */
const INSERT_FILES = `
  INSERT INTO files (${FILE_NAMES})
  SELECT ${FILE_NAMES} FROM unnest(${FILE_COLUMNS.map(([, type], n) => `$${n + 1}::${type}[]`).join(', ')}) WITH ORDINALITY AS f(${FILE_NAMES}, i) ORDER BY i
  RETURNING id`;

function fileValues(file: NewFile, status: FileStatus, error: string | null, needsEmbedding: boolean, now: number): unknown[] {
  return [
    file.root,
    file.path,
    path.posix.basename(file.path),
    file.bytes,
    file.mtimeMs,
    file.contentHash,
    file.width,
    file.height,
    file.format,
    status,
    error,
    now,
    needsEmbedding,
    file.plan ?? null,
    file.stretch ? JSON.stringify(file.stretch) : null,
    file.geo ? JSON.stringify(file.geo) : null,
    file.stac ? JSON.stringify(file.stac) : null,
    file.stac ? Date.parse(file.stac.start) : null,
    file.stac ? Date.parse(file.stac.end) : null,
  ];
}

/** Deletes the places (and boxes) of these items. */
async function clearPlaces(db: Queryable, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('WITH boxes AS (DELETE FROM item_boxes WHERE item_id = ANY($1::bigint[])) DELETE FROM item_places WHERE item_id = ANY($1::bigint[])', [ids]);
}

/** Stores the places of these items (their old ones are gone) and their footprint boxes. */
export async function insertPlaces(db: Queryable, places: readonly { id: number; place: WindowPlace }[]): Promise<void> {
  if (places.length === 0) return;
  await db.query('INSERT INTO item_places (item_id, place) SELECT * FROM unnest($1::bigint[], $2::text[])', [places.map((p) => p.id), places.map((p) => JSON.stringify(p.place))]);
  const boxes = places.flatMap(({ id, place }) => footprintBoxes(place).map((b, part) => ({ id, part, ...b })));
  await db.query(
    `INSERT INTO item_boxes (item_id, part, box)
     SELECT id, part, box(point(w, s), point(e, n)) FROM unnest($1::bigint[], $2::integer[], $3::float8[], $4::float8[], $5::float8[], $6::float8[]) AS b(id, part, w, s, e, n)`,
    [boxes.map((b) => b.id), boxes.map((b) => b.part), boxes.map((b) => b.west), boxes.map((b) => b.south), boxes.map((b) => b.east), boxes.map((b) => b.north)],
  );
}

/**
 * Takes the live items of a file that `which` selects (a condition on items aliased `it`, with
 * $2 on) out for good, in one statement: no key, no vector, no place; their ids are never used again.
 */
async function retire(db: Queryable, fileId: number, which: string, params: unknown[] = []): Promise<void> {
  await db.query(
    `WITH r AS (UPDATE items it SET key = NULL WHERE it.file_id = $1 AND it.key IS NOT NULL AND ${which} RETURNING it.id),
          v AS (DELETE FROM vectors WHERE item_id IN (SELECT id FROM r)),
          b AS (DELETE FROM item_boxes WHERE item_id IN (SELECT id FROM r))
     DELETE FROM item_places WHERE item_id IN (SELECT id FROM r)`,
    [fileId, ...params],
  );
}

const WINDOW_COLUMNS = [(i: NewItem) => i.window.x, (i: NewItem) => i.window.y, (i: NewItem) => i.window.width, (i: NewItem) => i.window.height, (i: NewItem) => i.window.scale];

/** Inserts items of files new to the index, in order (their ids follow that order); returns their ids. */
async function insertItems(db: Queryable, items: readonly { fileId: number; item: NewItem }[]): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO items (file_id, key, x, y, width, height, scale)
     SELECT file_id, key, x, y, width, height, scale FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::integer[], $5::integer[], $6::integer[], $7::integer[]) WITH ORDINALITY AS n(file_id, key, x, y, width, height, scale, i) ORDER BY i
     RETURNING id`,
    [items.map((i) => i.fileId), items.map((i) => i.item.key), ...WINDOW_COLUMNS.map((pick) => items.map((i) => pick(i.item)))],
  );
  return rows.map((r) => Number(r.id));
}

async function writeVectors(db: Queryable, arrays: VectorArrays, itemIds: readonly number[], items: readonly NewItem[]): Promise<void> {
  await db.query('INSERT INTO vectors (item_id, embedding) SELECT * FROM unnest($1::bigint[], $2::vector[]) ON CONFLICT (item_id) DO UPDATE SET embedding = excluded.embedding', [
    itemIds,
    await arrays.param(db, items.map((i) => i.vector)),
  ]);
}

const placesOf = (itemIds: readonly number[], items: readonly NewItem[]) => items.flatMap((item, n) => (item.place ? [{ id: itemIds[n]!, place: item.place }] : []));

/** Writes the items of a put of a file the index had (ids kept by key, new keys drawn from the sequence), their vectors and places; returns their ids in order. */
async function putItems(db: Queryable, arrays: VectorArrays, fileId: number, items: readonly NewItem[]): Promise<number[]> {
  const keys = items.map((i) => i.key);
  const existing = new Map((await db.query<{ id: number; key: string }>('SELECT id, key FROM items WHERE file_id = $1 AND key = ANY($2::text[])', [fileId, keys])).rows.map((r) => [r.key, r.id]));
  const fresh = items.filter((i) => !existing.has(i.key));
  if (fresh.length > 0) {
    const ids = await insertItems(
      db,
      fresh.map((item) => ({ fileId, item })),
    );
    fresh.forEach((item, n) => existing.set(item.key, ids[n]!));
  }
  const kept = items.filter((i) => !fresh.includes(i));
  if (kept.length > 0) {
    await db.query(
      `UPDATE items SET x = u.x, y = u.y, width = u.width, height = u.height, scale = u.scale
       FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::integer[], $5::integer[], $6::integer[]) AS u(id, x, y, width, height, scale) WHERE items.id = u.id`,
      [kept.map((i) => existing.get(i.key)), ...WINDOW_COLUMNS.map((pick) => kept.map(pick))],
    );
  }
  const itemIds = keys.map((key) => existing.get(key)!);
  await writeVectors(db, arrays, itemIds, items);
  await clearPlaces(db, itemIds);
  await insertPlaces(db, placesOf(itemIds, items));
  return itemIds;
}

type Put = Extract<CatalogChange, { kind: 'put' }>;

/**
 * Puts of files new to the index, set-based across the files: a statement per table for the
 * whole run instead of a few per file (small files are one item each: a commit of 64 of them was
 * over 250 statements). Files and items are inserted in the order of the changes, so their ids
 * are those the file-by-file path would give.
 */
async function putNewFiles(db: Queryable, arrays: VectorArrays, puts: readonly Put[], now: number): Promise<CommittedChange[]> {
  const rows = puts.map((change) => fileValues(change.file, 'ok', null, !itemsOf(change).complete, now));
  const column = (n: number) => rows.map((r) => r[n]);
  const { rows: files } = await db.query<{ id: number }>(
    INSERT_FILES,
    FILE_COLUMNS.map((_, n) => column(n)),
  );
  const fileIds = files.map((f) => Number(f.id));
  const perFile = puts.map((change) => itemsOf(change).items);
  const items = perFile.flatMap((list, f) => list.map((item) => ({ fileId: fileIds[f]!, item })));
  const itemIds = await insertItems(db, items);
  const newItems = items.map((i) => i.item);
  await writeVectors(db, arrays, itemIds, newItems);
  await insertPlaces(db, placesOf(itemIds, newItems));
  const fields = puts.flatMap((change, f) => fieldRows(change.file.fields ?? {}).map((field) => ({ fileId: fileIds[f]!, ...field })));
  await insertFileFields(db, fields);
  let next = 0;
  return perFile.map((list, f) => ({ fileId: fileIds[f]!, itemIds: itemIds.slice(next, (next += list.length)) }));
}

async function insertFileFields(db: Queryable, fields: readonly { fileId: number; name: string; text: string; num: number | null }[]): Promise<void> {
  if (fields.length === 0) return;
  await db.query('INSERT INTO file_fields (file_id, name, value_text, value_num) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) ON CONFLICT DO NOTHING', [
    fields.map((f) => f.fileId),
    fields.map((f) => f.name),
    fields.map((f) => f.text),
    fields.map((f) => f.num),
  ]);
}

/** Which puts are of files the index does not hold yet: nor does any change before them (a put or a failure of the same path) write it. */
async function newFilePuts(db: Queryable, changes: readonly CatalogChange[]): Promise<Set<Put>> {
  const named = changes.filter((c): c is Extract<CatalogChange, { kind: 'put' | 'fail' }> => c.kind === 'put' || c.kind === 'fail');
  if (!named.some((c) => c.kind === 'put')) return new Set();
  const key = (file: { root: string; path: string }) => `${file.root}\0${file.path}`;
  const { rows } = await db.query<{ root: string; path: string }>('SELECT f.root, f.path FROM files f JOIN unnest($1::text[], $2::text[]) AS c(root, path) ON f.root = c.root AND f.path = c.path', [
    named.map((c) => c.file.root),
    named.map((c) => c.file.path),
  ]);
  const written = new Set(rows.map(key));
  const fresh = new Set<Put>();
  for (const change of named) {
    if (change.kind === 'put' && !written.has(key(change.file))) fresh.add(change);
    written.add(key(change.file));
  }
  return fresh;
}

/** Applies `changes` in the caller's transaction, at time `now`; vectors go as `arrays` encodes them. */
export async function applyChanges(db: Queryable, arrays: VectorArrays, changes: readonly CatalogChange[], now: number): Promise<CommittedChange[]> {
  const results: CommittedChange[] = [];
  const dropVectors = (fileId: number) => db.query('DELETE FROM vectors WHERE item_id IN (SELECT id FROM items WHERE file_id = $1)', [fileId]);
  const fresh = await newFilePuts(db, changes);
  // consecutive puts of new files go together; any other change is applied on its own, in order
  let run: Put[] = [];
  const flushRun = async () => {
    if (run.length > 0) results.push(...(await putNewFiles(db, arrays, run, now)));
    run = [];
  };
  for (const change of changes) {
    if (change.kind === 'put' && fresh.has(change)) {
      run.push(change);
      continue;
    }
    await flushRun();
    switch (change.kind) {
      case 'put': {
        const { items, complete } = itemsOf(change);
        const before = (
          await db.query<Pick<FileRow, 'id' | 'content_hash' | 'plan' | 'status' | 'needs_embedding'>>('SELECT id, content_hash, plan, status, needs_embedding FROM files WHERE root = $1 AND path = $2', [
            change.file.root,
            change.file.path,
          ])
        ).rows[0];
        // puts of files new to the index went the set-based way: this file is in the catalog
        if (!before) throw new Error(`put of ${change.file.path}: not new to the index, yet not in its catalog`);
        const newVersion = before.status !== 'ok' || before.content_hash !== change.file.contentHash || before.plan !== (change.file.plan ?? null);
        // a batch retried after its file was completed leaves the file complete
        const incomplete = !complete && (newVersion || Boolean(before.needs_embedding));
        const fileId = (await db.query<{ id: number }>(UPSERT_FILE, fileValues(change.file, 'ok', null, incomplete, now))).rows[0]!.id;
        // A new version (content or plan) is committed in batches: as the embedded catalog does,
        // its first one drops the previous version's vectors that it does not replace (they are
        // not this version's) and keeps the items, so that a later batch carrying a key keeps
        // its id; the version's complete put retires the items still without a vector (below).
        if (newVersion) {
          await db.query('DELETE FROM vectors WHERE item_id IN (SELECT id FROM items WHERE file_id = $1 AND key IS NOT NULL AND key <> ALL($2::text[]))', [
            fileId,
            items.map((i) => i.key),
          ]);
        }
        const itemIds = await putItems(db, arrays, fileId, items);
        // keys of the previous version that this one never put again, and windows of the plan
        // that were never embedded (e.g. nodata), do not stay
        if (complete) await retire(db, fileId, 'NOT EXISTS (SELECT 1 FROM vectors v WHERE v.item_id = it.id)');
        await db.query('DELETE FROM file_fields WHERE file_id = $1', [fileId]);
        await insertFileFields(
          db,
          fieldRows(change.file.fields ?? {}).map((field) => ({ fileId, ...field })),
        );
        results.push({ fileId, itemIds });
        break;
      }
      case 'fail': {
        const fileId = (await db.query<{ id: number }>(UPSERT_FILE, fileValues(change.file, 'error', change.error, false, now))).rows[0]!.id;
        await dropVectors(fileId);
        results.push({ fileId, itemIds: [] });
        break;
      }
      case 'touch':
        await db.query('UPDATE files SET bytes = $1, mtime_ms = $2, indexed_at = $3 WHERE id = $4', [change.bytes, change.mtimeMs, now, change.fileId]);
        results.push({ fileId: change.fileId, itemIds: [] });
        break;
      case 'remove':
        await db.query("UPDATE files SET status = 'removed', error = NULL, indexed_at = $1, needs_embedding = false WHERE id = $2", [now, change.fileId]);
        await dropVectors(change.fileId);
        results.push({ fileId: change.fileId, itemIds: [] });
        break;
    }
  }
  await flushRun();
  return results;
}
