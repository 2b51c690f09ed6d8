/**
 * catalog.sqlite: the truth of an embedded index. Owns the better-sqlite3 handle, the
 * statements and the row <-> record mapping, repairs included; knows nothing about graphs.
 * Tables: `files` (what the scan found), `items` (the whole image or the windows of a scene;
 * a retired item keeps its row with a NULL key so that its id is never given out again),
 * `vectors` (the items' embeddings, at half precision), `item_places` and the R*Tree `item_boxes` (footprints),
 * `fields` (user fields by file name), `file_fields` (fields of one file, e.g. STAC properties),
 * `meta` (the index's settings) and `totals` (counts that triggers keep, schema.ts).
 *
 * Invariant: every live item (non-NULL key) of a complete `ok` file has a vector, so the
 * searchable items are the live items of ok files. A file whose new version (content or plan)
 * is being committed in batches (needs_embedding = 1) may also have live items without a
 * vector: keys of its previous version whose vectors were dropped at the version's first batch,
 * kept so that a later batch that carries the key again keeps the item's id; the version's
 * complete put retires those it never carried.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import type { WindowPlace } from '../../geo/footprint.js';
import type { SceneStretch } from '../../raster/radiometry.js';
import { ITEM_ID_LIMIT } from '../engines.js';
import { BOXES_PER_ITEM, footprintBoxes, registerFilterFunctions, selectedIdsSql, selectionToSql } from './catalog-filter.js';
import { FIELD_NAMES_SQL, fieldRows, ROOTS_SQL, fileItemsSql, groupFieldRows, ITEM_COLUMNS, numericValue, parseJson, toFileRecord, toIndexTotals, toItemRecord, toKnownFile, type FileRow, type IndexTotals, type ItemFieldRow, type ItemRow, type TotalRow } from '../catalog-rows.js';
import { decodeHalf, encodeHalf } from './half-precision.js';
import { catalogVersion, checkReadable, COUNTED_TOTALS_SQL, hasMetaTable, keepsTotals, migrate, SCHEMA_VERSION } from './schema.js';
import { immutableUri } from './sqlite-uri.js';
import { catalogError } from './write-failures.js';
import {
  WHOLE_IMAGE_KEY,
  type CatalogChange,
  type CommittedChange,
  type FieldRecord,
  type FieldValue,
  type FileRecord,
  type FileStatus,
  type ItemRecord,
  type ItemSelection,
  type KnownFile,
  type NewFile,
  type NewItem,
  type ReusableFile,
} from '../types.js';

export const CATALOG_FILE = 'catalog.sqlite';

/** Ids bound as one JSON parameter: any number of them in one statement. */
const jsonIds = (ids: readonly number[]): string => JSON.stringify(ids);

/** The items of a put: the `vector` form is a whole-image file's one item. */
function itemsOf(change: Extract<CatalogChange, { kind: 'put' }>): { items: readonly NewItem[]; complete: boolean } {
  if ('items' in change) return { items: change.items, complete: change.complete };
  const window = { x: 0, y: 0, width: change.file.width ?? 0, height: change.file.height ?? 0, scale: 1 };
  return { items: [{ key: WHOLE_IMAGE_KEY, window, place: null, vector: change.vector }], complete: true };
}

/** Item ids are never reused, so re-tiling spends them; past the graph's label range nothing more can be added. */
function itemIdsExhausted(file: string): RsclipError {
  return new RsclipError('INDEX_UNWRITABLE', `${file} has given out every item id up to ${ITEM_ID_LIMIT} (ids are never reused); this change was not written`, {
    hint: 'index the archive again into an empty --index folder: its ids start from 1',
  });
}

/**
 * What a commit did to items, for the graph: vectors added or replaced, items that lost theirs,
 * and, when asked, the vectors it replaced or dropped, as they were (the graph relinks the nodes
 * around them).
 */
export interface AppliedChanges {
  results: CommittedChange[];
  added: [number, Float32Array][];
  dropped: number[];
  previous: [number, Float32Array][];
}

export class Catalog {
  private readonly db: Database.Database;
  readonly file: string;
  /** What SQLite opened: the file, or its immutable URI (read-only media). */
  readonly source: string;
  /** Prepared statements of fixed SQL text (a bounded set: filters, whose text varies, are prepared per call). */
  private readonly statements = new Map<string, Database.Statement>();
  /** Whether the catalog keeps its totals (readers may open an older one as it is). */
  private readonly keepsTotals: boolean;
  /** The schema version an older catalog had before this (writer's) open converted it. */
  readonly convertedFrom: number | undefined;

  /**
   * `immutable`: read a catalog on read-only media (no locks, no WAL; see sqlite-uri.ts).
   * `metaOnly`: the caller reads nothing but the meta table (the same in every schema), so an
   * older catalog is opened as it is.
   */
  constructor(dir: string, options: { readonly: boolean; immutable?: boolean; metaOnly?: boolean }) {
    this.file = path.join(dir, CATALOG_FILE);
    this.source = options.immutable ? immutableUri(this.file) : this.file;
    try {
      this.db = new Database(this.source, { readonly: options.readonly, fileMustExist: options.readonly });
    } catch (cause) {
      throw new RsclipError('INDEX_CORRUPT', `cannot open ${this.file}: ${(cause as Error).message}`, { cause, hint: `run \`rsclip doctor --index ${path.dirname(this.file)}\`` });
    }
    try {
      this.db.pragma('busy_timeout = 10000');
      if (options.readonly) {
        if (!options.metaOnly) checkReadable(this.db, this.file);
      } else {
        // a 2 KB vector BLOB per row: with the default 4 KB pages only one fits per page (half of the
        // file wasted); 16 KB pages hold seven. Takes effect only when the file is created.
        this.db.pragma('page_size = 16384');
        this.db.pragma('journal_mode = WAL');
        // WAL + NORMAL: a crash of the process never loses a commit; power loss may lose the last ones but never corrupts
        this.db.pragma('synchronous = NORMAL');
        this.db.pragma('foreign_keys = ON');
        // statement journals (the upserts keep one) spill to a temporary file past 64 KiB, four of
        // these pages: kept in memory, commits of 64 small files cost a fifth less CPU (0.19-0.25
        // against 0.25-0.33 ms per file, the store alone). The writer makes no large sorts or
        // temporary tables that this would hold in memory.
        this.db.pragma('temp_store = MEMORY');
        const found = migrate(this.db, this.file);
        // 0: a new catalog, just created
        if (found > 0 && found < SCHEMA_VERSION) this.convertedFrom = found;
      }
      this.keepsTotals = keepsTotals(this.db);
      registerFilterFunctions(this.db);
    } catch (error) {
      this.db.close();
      // a full or failing disk (creating the tables of a new index, say) is said as such, not as damage
      const known = catalogError(this.file, error, options.readonly === true);
      if (known instanceof RsclipError) throw known;
      throw new RsclipError('INDEX_CORRUPT', `cannot read ${this.file}: ${(error as Error).message}`, { cause: error, hint: `run \`rsclip doctor --index ${path.dirname(this.file)}\`` });
    }
  }

  private prepared(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  schemaVersion(): number {
    return catalogVersion(this.db);
  }

  /** Empty for a catalog without tables yet (a first run killed as it created the file). */
  getMeta(): Map<string, string> {
    if (!hasMetaTable(this.db)) return new Map();
    const rows = this.prepared('SELECT key, value FROM meta').all() as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  setMeta(entries: Record<string, string | number>): void {
    const stmt = this.prepared('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(entries)) stmt.run(key, String(value));
    })();
  }

  metaNumber(key: string): number {
    const row = this.prepared('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  /**
   * How many vectors the catalog holds, and the length of the first (half-precision blobs from
   * schema 4, float32 before); none in a catalog without tables.
   */
  vectorsHeld(): { count: number; dim: number } {
    if (!hasMetaTable(this.db)) return { count: 0, dim: 0 };
    const count = (this.prepared('SELECT count(*) AS n FROM vectors').get() as { n: number }).n;
    const bytes = (this.prepared('SELECT length(embedding) AS n FROM vectors LIMIT 1').get() as { n: number } | undefined)?.n ?? 0;
    return { count, dim: bytes / (this.schemaVersion() >= 4 ? 2 : 4) };
  }

  /** Sequence number of the last commit (any process). */
  commitSeq(): number {
    return this.metaNumber('commit_seq');
  }

  /**
   * The totals the catalog's triggers keep (schema.ts), in one statement; a catalog older than them
   * (opened read-only as it is) has them counted from its rows.
   */
  totals(): IndexTotals {
    return toIndexTotals(this.prepared(this.keepsTotals ? 'SELECT name, value FROM totals' : COUNTED_TOTALS_SQL).all() as TotalRow[]);
  }

  /** Counts the totals from the rows again and corrects the stored ones that differ; returns their names. */
  recountTotals(): string[] {
    return this.db.transaction(() => {
      const counted = this.db.prepare(COUNTED_TOTALS_SQL).all() as TotalRow[];
      const stored = new Map((this.db.prepare('SELECT name, value FROM totals').all() as TotalRow[]).map((r) => [r.name, r.value]));
      const wrong = counted.filter((c) => stored.get(c.name) !== c.value);
      const put = this.db.prepare('INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
      for (const c of wrong) put.run(c.name, c.value);
      return wrong.map((c) => c.name);
    })();
  }

  /** Live items in the order of `ids`, with their file (any status); unknown and retired ids are left out. */
  getItems(ids: readonly number[]): ItemRecord[] {
    const rows = this.prepared(
      `SELECT f.*, ${ITEM_COLUMNS}, p.place AS item_place
       FROM items it JOIN files f ON f.id = it.file_id LEFT JOIN item_places p ON p.item_id = it.id
       WHERE it.id IN (SELECT value FROM json_each(?)) AND it.key IS NOT NULL`,
    ).all(jsonIds(ids)) as ItemRow[];
    const byId = new Map(rows.map((row) => [row.item_id, toItemRecord(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** The searchable items (live, of an `ok` file) of one file, in id order. */
  fileItems(fileId: number): ItemRecord[] {
    const rows = this.prepared(fileItemsSql('?')).all(fileId) as ItemRow[];
    return rows.map(toItemRecord);
  }

  /** The file whose absolute path is `absolutePath` (roots may nest, so several rows can qualify: ok ones first). */
  findFileByAbsolutePath(absolutePath: string): FileRecord | undefined {
    const rows = this.prepared("SELECT * FROM files WHERE file_name = ? ORDER BY status = 'ok' DESC, id").all(path.basename(absolutePath)) as FileRow[];
    return rows.map(toFileRecord).find((r) => r.absolutePath === absolutePath);
  }

  fileItemKeys(fileId: number): Set<string> {
    const rows = this.prepared('SELECT it.key AS key FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = ? AND it.key IS NOT NULL').all(fileId) as { key: string }[];
    return new Set(rows.map((r) => r.key));
  }

  getVectors(ids: readonly number[]): Map<number, Float32Array> {
    const rows = this.prepared('SELECT item_id, embedding FROM vectors WHERE item_id IN (SELECT value FROM json_each(?))').all(jsonIds(ids)) as {
      item_id: number;
      embedding: Buffer;
    }[];
    return new Map(rows.map((row) => [row.item_id, decodeHalf(row.embedding)]));
  }

  /** Up to `limit` vectors of searchable items with ids above `afterId`, in id order (pages that survive other statements in between). */
  vectorPage(afterId: number, limit: number): [number, Float32Array][] {
    const rows = this.prepared(
      `SELECT v.item_id AS id, v.embedding AS embedding FROM vectors v JOIN items it ON it.id = v.item_id JOIN files f ON f.id = it.file_id
       WHERE f.status = 'ok' AND it.key IS NOT NULL AND v.item_id > ? ORDER BY v.item_id LIMIT ?`,
    ).all(afterId, limit) as { id: number; embedding: Buffer }[];
    return rows.map((row) => [row.id, decodeHalf(row.embedding)]);
  }

  /** Every stored vector in id order, whatever its file's status (for full scans inside one synchronous call). */
  *iterateVectors(): Generator<[number, Float32Array]> {
    const stmt = this.db.prepare('SELECT item_id, embedding FROM vectors ORDER BY item_id');
    for (const row of stmt.iterate() as Iterable<{ item_id: number; embedding: Buffer }>) {
      yield [row.item_id, decodeHalf(row.embedding)];
    }
  }

  /** The last commit and (id, seq) of every item that has a vector as of it, read in one transaction. */
  vectorSeqs(): { seq: number; withVectors: { id: number; seq: number }[] } {
    const read = () => this.prepared('SELECT it.id AS id, it.seq AS seq FROM items it JOIN vectors v ON v.item_id = it.id').all() as { id: number; seq: number }[];
    return this.db.transaction(() => ({ seq: this.commitSeq(), withVectors: read() }))();
  }

  /**
   * The last commit and the items changed after `seq` up to it, read in one transaction (read
   * apart, a commit in between would be applied now and again at the next look).
   */
  changesAfter(seq: number): { seq: number; changed: { id: number; hasVector: number }[] } {
    return this.db.transaction(() => ({ seq: this.commitSeq(), changed: this.changedSince(seq) }))();
  }

  /** Items changed after `seq`, with whether they now have a vector. */
  private changedSince(seq: number): { id: number; hasVector: number }[] {
    return this.prepared('SELECT it.id AS id, (v.item_id IS NOT NULL) AS hasVector FROM items it LEFT JOIN vectors v ON v.item_id = it.id WHERE it.seq > ?').all(seq) as {
      id: number;
      hasVector: number;
    }[];
  }

  knownFiles(root: string): Map<string, KnownFile> {
    // row by row: an array of every row first took 35.6 s at 3M files against 14.5 s (and 2.2 GB of RSS against 0.95)
    const known = new Map<string, KnownFile>();
    const rows = this.prepared('SELECT id, path, bytes, mtime_ms, indexed_at, content_hash, status, needs_embedding, width, height, plan, stretch FROM files WHERE root = ?').iterate(root) as Iterable<FileRow>;
    for (const row of rows) known.set(row.path, toKnownFile(row));
    return known;
  }

  roots(): string[] {
    const rows = this.prepared(ROOTS_SQL).all() as { root: string }[];
    return rows.map((r) => r.root);
  }

  findReusableFile(contentHash: string, plan: string | null): ReusableFile | undefined {
    const file = this.prepared("SELECT * FROM files WHERE content_hash = ? AND plan IS ? AND status = 'ok' AND needs_embedding = 0 ORDER BY id LIMIT 1").get(contentHash, plan) as
      | FileRow
      | undefined;
    if (!file) return undefined;
    const rows = this.prepared(
      `SELECT it.key AS key, it.x AS x, it.y AS y, it.width AS width, it.height AS height, it.scale AS scale, v.embedding AS embedding
       FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = ? AND it.key IS NOT NULL ORDER BY it.id`,
    ).all(file.id) as { key: string; x: number; y: number; width: number; height: number; scale: number; embedding: Buffer }[];
    return {
      fileId: file.id,
      width: file.width,
      height: file.height,
      format: file.format,
      stretch: parseJson<SceneStretch>(file.stretch),
      items: rows.map((r) => ({ key: r.key, window: { x: r.x, y: r.y, width: r.width, height: r.height, scale: r.scale }, vector: decodeHalf(r.embedding) })),
    };
  }

  /**
   * Applies `changes` in one transaction under commit sequence `seq`; `keepPrevious`: return the
   * vectors replaced or dropped (for an engine that reuses their nodes: reusesNodes).
   */
  applyChanges(changes: readonly CatalogChange[], seq: number, now: number, keepPrevious = false): AppliedChanges {
    const previous = this.prepared('SELECT id, content_hash, plan, status, needs_embedding FROM files WHERE root = ? AND path = ?');
    const upsert = this.prepared(`
      INSERT INTO files (root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq,
                         needs_embedding, plan, stretch, geo, stac, time_start, time_end)
      VALUES (@root, @path, @fileName, @bytes, @mtimeMs, @contentHash, @width, @height, @format, @status, @error, @now, @seq,
              @needsEmbedding, @plan, @stretch, @geo, @stac, @timeStart, @timeEnd)
      ON CONFLICT (root, path) DO UPDATE SET
        file_name = excluded.file_name, bytes = excluded.bytes, mtime_ms = excluded.mtime_ms,
        content_hash = excluded.content_hash, width = excluded.width, height = excluded.height,
        format = excluded.format, status = excluded.status, error = excluded.error,
        indexed_at = excluded.indexed_at, seq = excluded.seq, needs_embedding = excluded.needs_embedding,
        plan = excluded.plan, stretch = excluded.stretch, geo = excluded.geo, stac = excluded.stac,
        time_start = excluded.time_start, time_end = excluded.time_end
      RETURNING id`);
    // looked up first: an upsert would draw (and waste) an AUTOINCREMENT id even when it updates
    const findItem = this.prepared('SELECT id FROM items WHERE file_id = ? AND key = ?');
    const updateItem = this.prepared('UPDATE items SET x = ?, y = ?, width = ?, height = ?, scale = ?, seq = ? WHERE id = ?');
    const insertItem = this.prepared('INSERT INTO items (file_id, key, x, y, width, height, scale, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id');
    const storedVector = this.prepared('SELECT embedding FROM vectors WHERE item_id = ?').pluck();
    const putVector = this.prepared('INSERT INTO vectors (item_id, embedding) VALUES (?, ?) ON CONFLICT (item_id) DO UPDATE SET embedding = excluded.embedding');
    const touch = this.prepared('UPDATE files SET bytes = ?, mtime_ms = ?, indexed_at = ? WHERE id = ?');
    const remove = this.prepared("UPDATE files SET status = 'removed', error = NULL, indexed_at = ?, seq = ?, needs_embedding = 0 WHERE id = ?");
    const withVector = this.prepared('SELECT it.id AS id FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = ?');
    const withVectorNotIn = this.prepared(
      'SELECT it.id AS id FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = ? AND it.key IS NOT NULL AND it.key NOT IN (SELECT value FROM json_each(?))',
    );
    const liveWithoutVector = this.prepared('SELECT it.id AS id FROM items it LEFT JOIN vectors v ON v.item_id = it.id WHERE it.file_id = ? AND it.key IS NOT NULL AND v.item_id IS NULL');
    const clearFileFields = this.prepared('DELETE FROM file_fields WHERE file_id = ?');
    const insertFileField = this.prepared('INSERT OR IGNORE INTO file_fields (file_id, name, value_text, value_num) VALUES (?, ?, ?, ?)');
    const row = (file: NewFile, status: FileStatus, error: string | null, needsEmbedding: boolean) => ({
      root: file.root,
      path: file.path,
      fileName: path.posix.basename(file.path),
      bytes: file.bytes,
      mtimeMs: file.mtimeMs,
      contentHash: file.contentHash,
      width: file.width,
      height: file.height,
      format: file.format,
      status,
      error,
      now,
      seq,
      needsEmbedding: needsEmbedding ? 1 : 0,
      plan: file.plan ?? null,
      stretch: file.stretch ? JSON.stringify(file.stretch) : null,
      geo: file.geo ? JSON.stringify(file.geo) : null,
      stac: file.stac ? JSON.stringify(file.stac) : null,
      timeStart: file.stac ? Date.parse(file.stac.start) : null,
      timeEnd: file.stac ? Date.parse(file.stac.end) : null,
    });
    const applied: AppliedChanges = { results: [], added: [], dropped: [], previous: [] };
    const kept = (id: number, embedding: Buffer | undefined): void => {
      if (keepPrevious && embedding) applied.previous.push([id, decodeHalf(embedding)]);
    };
    const dropVectorsOf = (ids: { id: number }[]): void => {
      for (const { id } of ids) {
        kept(id, this.dropVector(id, seq));
        applied.dropped.push(id);
      }
    };
    const dropVectors = (fileId: number): void => dropVectorsOf(withVector.all(fileId) as { id: number }[]);
    const retire = (ids: { id: number }[]): void => {
      for (const { id } of ids) {
        kept(id, this.retireItem(id, seq));
        applied.dropped.push(id);
      }
    };
    this.db.transaction(() => {
      for (const change of changes) {
        switch (change.kind) {
          case 'put': {
            const { items, complete } = itemsOf(change);
            const before = previous.get(change.file.root, change.file.path) as Pick<FileRow, 'id' | 'content_hash' | 'plan' | 'status' | 'needs_embedding'> | undefined;
            const newVersion = !before || before.status !== 'ok' || before.content_hash !== change.file.contentHash || before.plan !== (change.file.plan ?? null);
            // a batch retried after its file was completed leaves the file complete
            const incomplete = !complete && (newVersion || before.needs_embedding === 1);
            const { id: fileId } = upsert.get(row(change.file, 'ok', null, incomplete)) as { id: number };
            // A new version (content or plan) is committed in batches: its first one cannot tell
            // which of the file's keys the version has. The vectors of the previous version that
            // this put does not replace are not this version's, so they stop being searchable
            // now; the items keep their rows and keys (so their ids): a later batch of the
            // version that carries a key fills its item again, and the version's complete put
            // retires the items still without a vector (below). Resuming a version interrupted
            // half-way thus skips exactly the windows it committed (fileItemKeys).
            if (before && newVersion) dropVectorsOf(withVectorNotIn.all(fileId, JSON.stringify(items.map((i) => i.key))) as { id: number }[]);
            const itemIds: number[] = [];
            for (const item of items) {
              const { x, y, width, height, scale } = item.window;
              // a file seen for the first time has no items yet: nothing to look up or replace
              let id = before ? (findItem.get(fileId, item.key) as { id: number } | undefined)?.id : undefined;
              const isNew = id === undefined;
              if (id === undefined) {
                id = (insertItem.get(fileId, item.key, x, y, width, height, scale, seq) as { id: number }).id;
                if (id > ITEM_ID_LIMIT) throw itemIdsExhausted(this.file);
              } else {
                updateItem.run(x, y, width, height, scale, seq, id);
                if (keepPrevious) kept(id, storedVector.get(id) as Buffer | undefined);
              }
              const stored = encodeHalf(item.vector);
              putVector.run(id, stored);
              this.setPlace(id, item.place, isNew);
              itemIds.push(id);
              // the graph gets the vector as stored, so that it agrees with a rebuild from the catalog
              applied.added.push([id, decodeHalf(stored)]);
            }
            // keys of the previous version that this one never put again, and windows of the plan
            // that were never embedded (e.g. nodata), do not stay
            if (complete) retire(liveWithoutVector.all(fileId) as { id: number }[]);
            clearFileFields.run(fileId);
            for (const f of fieldRows(change.file.fields ?? {})) insertFileField.run(fileId, f.name, f.text, f.num);
            applied.results.push({ fileId, itemIds });
            break;
          }
          case 'fail': {
            const { id: fileId } = upsert.get(row(change.file, 'error', change.error, false)) as { id: number };
            dropVectors(fileId);
            applied.results.push({ fileId, itemIds: [] });
            break;
          }
          case 'touch':
            touch.run(change.bytes, change.mtimeMs, now, change.fileId);
            applied.results.push({ fileId: change.fileId, itemIds: [] });
            break;
          case 'remove':
            remove.run(now, seq, change.fileId);
            dropVectors(change.fileId);
            applied.results.push({ fileId: change.fileId, itemIds: [] });
            break;
        }
      }
      this.setSeq(seq);
    })();
    return applied;
  }

  /** Drops the vector of an item; returns it as it was stored, if it had one. */
  private dropVector(itemId: number, seq: number): Buffer | undefined {
    const embedding = this.deleteVector(itemId);
    this.prepared('UPDATE items SET seq = ? WHERE id = ?').run(seq, itemId);
    return embedding;
  }

  /** Takes an item out for good: no key, no vector, no place; its id is never used again. Returns its vector as it was stored, if it had one. */
  private retireItem(itemId: number, seq: number): Buffer | undefined {
    const embedding = this.deleteVector(itemId);
    this.setPlace(itemId, null);
    this.prepared('UPDATE items SET key = NULL, seq = ? WHERE id = ?').run(seq, itemId);
    return embedding;
  }

  private deleteVector(itemId: number): Buffer | undefined {
    return this.prepared('DELETE FROM vectors WHERE item_id = ? RETURNING embedding').pluck().get(itemId) as Buffer | undefined;
  }

  /** Stores (or clears) an item's place and its R*Tree boxes; `newItem`: the item was just inserted, so it has none yet. */
  private setPlace(itemId: number, place: WindowPlace | null, newItem = false): void {
    // the R*Tree finds rows by id only for equality (a range would scan it): delete the parts stored
    const stored = newItem ? undefined : (this.prepared('SELECT parts FROM item_places WHERE item_id = ?').get(itemId) as { parts: number } | undefined);
    const deleteBox = this.prepared('DELETE FROM item_boxes WHERE id = ?');
    for (let part = 0; part < (stored?.parts ?? 0); part++) deleteBox.run(itemId * BOXES_PER_ITEM + part);
    if (!place) {
      if (stored) this.prepared('DELETE FROM item_places WHERE item_id = ?').run(itemId);
      return;
    }
    const kept = footprintBoxes(place);
    const insert = this.prepared('INSERT INTO item_boxes (id, west, east, south, north) VALUES (?, ?, ?, ?, ?)');
    kept.forEach((b, part) => insert.run(itemId * BOXES_PER_ITEM + part, b.west, b.east, b.south, b.north));
    this.prepared('INSERT INTO item_places (item_id, place, parts) VALUES (?, ?, ?) ON CONFLICT (item_id) DO UPDATE SET place = excluded.place, parts = excluded.parts').run(
      itemId,
      JSON.stringify(place),
      kept.length,
    );
  }

  private setSeq(seq: number): void {
    this.prepared("INSERT INTO meta (key, value) VALUES ('commit_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(seq));
  }

  itemIds(selection: ItemSelection): number[] {
    const { where, params } = selectionToSql(selection);
    // plucked: no row object per id (3M ids in 1.0 s against 3.0-4.1 s)
    return this.db.prepare(selectedIdsSql(where)).pluck().all(...params) as number[];
  }

  /** User fields by file name, then the file's own fields, per item. */
  getFields(ids: readonly number[]): Map<number, Record<string, FieldValue | FieldValue[]>> {
    const rows = this.prepared(
      `SELECT it.id AS id, uf.name AS name, uf.value_text AS text, uf.value_num AS num, 0 AS source, uf.rowid AS r
         FROM items it JOIN files f ON f.id = it.file_id JOIN fields uf ON uf.file_name = f.file_name
         WHERE it.id IN (SELECT value FROM json_each(@ids))
       UNION ALL
       SELECT it.id, ff.name, ff.value_text, ff.value_num, 1, ff.rowid
         FROM items it JOIN file_fields ff ON ff.file_id = it.file_id
         WHERE it.id IN (SELECT value FROM json_each(@ids))
       ORDER BY id, name, source, r`,
    ).all({ ids: jsonIds(ids) }) as ItemFieldRow[];
    return groupFieldRows(rows);
  }

  /**
   * Replaces the named fields of each record's file name, as commit `seq` (filters see a new
   * state); returns how many file names match no file.
   */
  importFields(records: readonly FieldRecord[], seq: number): number {
    const clear = this.prepared('DELETE FROM fields WHERE file_name = ? AND name = ?');
    const insert = this.prepared('INSERT OR IGNORE INTO fields (file_name, name, value_text, value_num) VALUES (?, ?, ?, ?)');
    const known = this.prepared('SELECT 1 FROM files WHERE file_name = ? LIMIT 1');
    return this.db.transaction(() => {
      let unmatched = 0;
      for (const record of records) {
        if (!known.get(record.fileName)) unmatched++;
        for (const [name, values] of record.fields) {
          clear.run(record.fileName, name);
          for (const value of values) insert.run(record.fileName, name, String(value), numericValue(value));
        }
      }
      this.setSeq(seq);
      return unmatched;
    })();
  }

  // repairs (verify)

  /** SQLite's own consistency check: 'ok' or what it found. */
  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  /** Deletes vectors of items that are retired, gone or of files that are not ok; returns how many. */
  deleteStrayVectors(): number {
    return this.prepared(
      "DELETE FROM vectors WHERE item_id NOT IN (SELECT it.id FROM items it JOIN files f ON f.id = it.file_id WHERE f.status = 'ok' AND it.key IS NOT NULL)",
    ).run().changes;
  }

  /** Live items of complete ok files that have no vector (which the invariant forbids; an incomplete file's wait for theirs). */
  itemsWithoutVector(): number[] {
    return (
      this.prepared(
        "SELECT it.id AS id FROM items it JOIN files f ON f.id = it.file_id LEFT JOIN vectors v ON v.item_id = it.id WHERE f.status = 'ok' AND f.needs_embedding = 0 AND it.key IS NOT NULL AND v.item_id IS NULL",
      ).all() as { id: number }[]
    ).map((r) => r.id);
  }

  /**
   * Queues for embedding, as commit `seq`, the ok whole-image files that have no live item (a
   * damaged items table lost it: such a file would never be searchable nor embedded again).
   * Tiled files may lose every window to nodata, so only whole-image files are queued.
   */
  queueWholeFilesWithoutItem(seq: number): number {
    const queued = this.prepared(
      "UPDATE files SET needs_embedding = 1, seq = ? WHERE status = 'ok' AND needs_embedding = 0 AND (plan IS NULL OR plan = 'whole') AND NOT EXISTS (SELECT 1 FROM items it WHERE it.file_id = files.id AND it.key IS NOT NULL)",
    ).run(seq).changes;
    if (queued > 0) this.setSeq(seq);
    return queued;
  }

  /**
   * Retires these items (their vectors are missing or invalid) and queues their files for
   * embedding by the next index run, which embeds the missing windows only, as commit `seq`.
   */
  queueForEmbedding(itemIds: readonly number[], seq: number): void {
    const mark = this.prepared('UPDATE files SET needs_embedding = 1, seq = ? WHERE id = (SELECT file_id FROM items WHERE id = ?)');
    this.db.transaction(() => {
      for (const id of itemIds) {
        mark.run(seq, id);
        this.retireItem(id, seq);
      }
      this.setSeq(seq);
    })();
  }

  close(): void {
    this.db.close();
  }

  /** Files with this status, by root and path: the first `limit` (all without one). */
  listFiles(status: FileStatus, limit?: number): FileRecord[] {
    return (this.prepared('SELECT * FROM files WHERE status = ? ORDER BY root, path LIMIT ?').all(status, limit ?? -1) as FileRow[]).map(toFileRecord);
  }

  /** The largest item id given out (0 before the first). */
  maxItemId(): number {
    return (this.prepared('SELECT max(id) AS top FROM items').get() as { top: number | null }).top ?? 0;
  }

  /** The first searchable item with an id of at least `id` (an index lookup). */
  firstSearchableItemFrom(id: number): number | undefined {
    const row = this.prepared("SELECT it.id AS id FROM items it JOIN files f ON f.id = it.file_id WHERE it.id >= ? AND it.key IS NOT NULL AND f.status = 'ok' ORDER BY it.id LIMIT 1").get(id) as
      | { id: number }
      | undefined;
    return row?.id;
  }

  /** Names of the fields present, sorted: user fields by file name and fields of one file (e.g. STAC properties). */
  fieldNames(): string[] {
    return (this.prepared(`SELECT name FROM (${FIELD_NAMES_SQL}) ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
  }
}
