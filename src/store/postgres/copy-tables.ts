/**
 * The tables an index copy moves, read and written the same way on both back ends: the
 * embedded catalog (better-sqlite3 on catalog.sqlite, at the current schema) and a PostgreSQL
 * schema. Rows keep their ids; retired items (NULL key) travel too, so that no id is ever
 * given out again on the other side either.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import type { WindowPlace } from '../../geo/footprint.js';
import { CATALOG_FILE } from '../embedded/catalog.js';
import { COPY_MARK } from '../index-meta.js';
import { BOXES_PER_ITEM, footprintBoxes } from '../embedded/catalog-filter.js';
import { decodeHalf, encodeHalf } from '../embedded/half-precision.js';
import { catalogVersion, migrate, SCHEMA_VERSION } from '../embedded/schema.js';
import { WriteLock } from '../embedded/write-lock.js';
import { catalogError } from '../embedded/write-failures.js';
import { insertPlaces } from './commit.js';
import type { Database as PgDatabase, Queryable } from './database.js';
import { CHANGES_TOTAL, q } from './schema.js';
import { sentToVector, sentVector, VectorArrays } from './vector-wire.js';

/** Keyed tables, copied in this order in pages of ascending key. */
export const KEYED_TABLES = ['files', 'items', 'vectors', 'item_places'] as const;
export type KeyedTable = (typeof KEYED_TABLES)[number];

const COLUMNS: Record<KeyedTable | 'fields' | 'file_fields', string[]> = {
  files: ['id', 'root', 'path', 'file_name', 'bytes', 'mtime_ms', 'content_hash', 'width', 'height', 'format', 'status', 'error', 'indexed_at', 'needs_embedding', 'plan', 'stretch', 'geo', 'stac', 'time_start', 'time_end'],
  items: ['id', 'file_id', 'key', 'x', 'y', 'width', 'height', 'scale'],
  vectors: ['item_id', 'embedding'],
  item_places: ['item_id', 'place'],
  fields: ['file_name', 'name', 'value_text', 'value_num'],
  file_fields: ['file_id', 'name', 'value_text', 'value_num'],
};
const KEY: Record<KeyedTable, string> = { files: 'id', items: 'id', vectors: 'item_id', item_places: 'item_id' };
/** PostgreSQL types of the columns, for unnest. */
const PG_TYPES: Record<string, string> = {
  id: 'bigint', file_id: 'bigint', item_id: 'bigint', bytes: 'bigint', indexed_at: 'bigint', mtime_ms: 'float8', time_start: 'float8', time_end: 'float8', value_num: 'float8',
  width: 'integer', height: 'integer', x: 'integer', y: 'integer', scale: 'integer', needs_embedding: 'boolean', embedding: 'vector',
};

/** A row as both sides hold it: needs_embedding a boolean, embedding a Float32Array. */
export type Row = Record<string, unknown>;

/** The meta keys an index copy carries (the rest belong to one back end: graph checkpoints, pgvector precision). */
export const COPIED_META = ['model_id', 'model_fingerprint', 'embedding_dim', 'metric', 'engine', 'hnsw_m', 'hnsw_ef_construction', 'hnsw_seed', 'vector_quantization', 'created_at', 'model_dir', 'model_variant', 'plan', 'decode_settings'];
/** Where a finished copy came from (the source's location as shown): running the same copy again finishes what is left. */
export const COPIED_FROM = 'copied_from';
/** The source's version (CopyEnd.version) when the copy began, kept once finished: a copy resumed or run again after the source changed is refused. */
export const COPIED_VERSION = 'copied_version';

export interface CopyEnd {
  readonly location: string;
  meta(): Promise<Map<string, string>>;
  /** A version of the rows that changes with every commit (the embedded catalog's commit count, PostgreSQL's change count). */
  version(): Promise<string>;
  /** The largest item id ever given out. */
  itemIdHighWater(): Promise<number>;
  page(table: KeyedTable, after: number, limit: number): Promise<Row[]>;
  all(table: 'fields' | 'file_fields'): Promise<Row[]>;
  maxKey(table: KeyedTable): Promise<number>;
  setMeta(entries: Record<string, string>): Promise<void>;
  insert(table: KeyedTable, rows: Row[]): Promise<void>;
  replaceAll(table: 'fields' | 'file_fields', rows: Row[]): Promise<void>;
  /** After every row: the id sequences continue after `highWater`, the derived indexes are built. */
  finish(highWater: number): Promise<void>;
  close(): Promise<void>;
}

// the embedded catalog

export class EmbeddedCopyEnd implements CopyEnd {
  private constructor(
    readonly location: string,
    private readonly db: Database.Database,
    private readonly lock: WriteLock,
  ) {}

  /** Opens the catalog in `dir` (creating an empty one for a target) under the index's write lock, so that nobody writes meanwhile. */
  static open(dir: string, role: 'source' | 'target'): EmbeddedCopyEnd {
    const resolved = path.resolve(dir);
    if (role === 'target') {
      try {
        mkdirSync(resolved, { recursive: true });
      } catch (cause) {
        throw new RsclipError('INDEX_UNWRITABLE', `cannot create the index directory ${resolved}: ${(cause as Error).message}`, { cause, hint: 'choose another --to, or fix the permissions' });
      }
    }
    const lock = WriteLock.acquire(resolved);
    try {
      const file = path.join(resolved, CATALOG_FILE);
      const db = new Database(file, { fileMustExist: role === 'source' });
      db.pragma('busy_timeout = 10000');
      if (role === 'target') {
        db.pragma('page_size = 16384');
        db.pragma('journal_mode = WAL');
        migrate(db, file);
      } else if (catalogVersion(db) !== SCHEMA_VERSION) {
        db.close();
        throw new RsclipError('INDEX_INCOMPATIBLE', `index ${resolved} uses an older schema`, { hint: `run \`rsclip doctor --index ${dir}\` once to upgrade it, then copy` });
      }
      return new EmbeddedCopyEnd(resolved, db, lock);
    } catch (error) {
      lock.release();
      // a full, read-only or failing disk, or a damaged catalog, is said as such
      const known = catalogError(path.join(resolved, CATALOG_FILE), error);
      if (known instanceof RsclipError) throw known;
      throw new RsclipError('INDEX_NOT_FOUND', `cannot open the index catalog in ${resolved}: ${(error as Error).message}`, { cause: error });
    }
  }

  async meta(): Promise<Map<string, string>> {
    return new Map((this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  }

  async version(): Promise<string> {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'commit_seq'").get() as { value: string } | undefined;
    return row?.value ?? '0';
  }

  async itemIdHighWater(): Promise<number> {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'items'").get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  async page(table: KeyedTable, after: number, limit: number): Promise<Row[]> {
    const rows = this.db.prepare(`SELECT ${COLUMNS[table].join(', ')} FROM ${table} WHERE ${KEY[table]} > ? ORDER BY ${KEY[table]} LIMIT ?`).all(after, limit) as Row[];
    return rows.map((r) => fromSqlite(r));
  }

  async all(table: 'fields' | 'file_fields'): Promise<Row[]> {
    return this.db.prepare(`SELECT ${COLUMNS[table].join(', ')} FROM ${table} ORDER BY rowid`).all() as Row[];
  }

  async maxKey(table: KeyedTable): Promise<number> {
    return (this.db.prepare(`SELECT coalesce(max(${KEY[table]}), 0) AS n FROM ${table}`).get() as { n: number }).n;
  }

  /** Runs a write of the copy's rows in one transaction; a full, read-only or failing disk is said as such. */
  private written(work: () => void): void {
    try {
      this.db.transaction(work)();
    } catch (error) {
      throw catalogError(path.join(this.location, CATALOG_FILE), error);
    }
  }

  async setMeta(entries: Record<string, string>): Promise<void> {
    const stmt = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.written(() => {
      for (const [key, value] of Object.entries(entries)) stmt.run(key, value);
      if (entries[COPY_MARK] === undefined) this.db.prepare('DELETE FROM meta WHERE key = ?').run(COPY_MARK);
    });
  }

  async insert(table: KeyedTable, rows: Row[]): Promise<void> {
    const columns = COLUMNS[table];
    // files and items carry the commit sequence the graph replays by: every row is in commit 1
    const seq = table === 'files' || table === 'items' ? ', seq' : '';
    const parts = table === 'item_places' ? ', parts' : '';
    const stmt = this.db.prepare(`INSERT INTO ${table} (${columns.join(', ')}${seq}${parts}) VALUES (${columns.map(() => '?').join(', ')}${seq ? ', 1' : ''}${parts ? ', ?' : ''})`);
    const box = this.db.prepare('INSERT INTO item_boxes (id, west, east, south, north) VALUES (?, ?, ?, ?, ?)');
    this.written(() => {
      for (const row of rows) {
        const values = columns.map((c) => toSqlite(c, row[c]));
        if (table !== 'item_places') {
          stmt.run(...values);
          continue;
        }
        const boxes = footprintBoxes(JSON.parse(row.place as string) as WindowPlace);
        stmt.run(...values, boxes.length);
        boxes.forEach((b, part) => box.run((row.item_id as number) * BOXES_PER_ITEM + part, b.west, b.east, b.south, b.north));
      }
    });
  }

  async replaceAll(table: 'fields' | 'file_fields', rows: Row[]): Promise<void> {
    const columns = COLUMNS[table];
    const stmt = this.db.prepare(`INSERT OR IGNORE INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
    this.written(() => {
      this.db.prepare(`DELETE FROM ${table}`).run();
      for (const row of rows) stmt.run(...columns.map((c) => row[c]));
    });
  }

  async finish(highWater: number): Promise<void> {
    this.written(() => {
      this.db.prepare("DELETE FROM sqlite_sequence WHERE name = 'items'").run();
      this.db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('items', ?)").run(highWater);
      // the graph file is built from the catalog at the first open
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('commit_seq', '1'), ('hnsw_seq', '-1') ON CONFLICT(key) DO UPDATE SET value = excluded.value").run();
    });
  }

  async close(): Promise<void> {
    this.db.close();
    this.lock.release();
  }
}

function fromSqlite(row: Row): Row {
  if ('needs_embedding' in row) return { ...row, needs_embedding: row.needs_embedding === 1 };
  // the embedded catalog keeps vectors at half precision (schema 4): exact in float32 on the other side
  if (row.embedding instanceof Buffer) return { ...row, embedding: decodeHalf(row.embedding) };
  return row;
}

function toSqlite(column: string, value: unknown): unknown {
  if (column === 'needs_embedding') return value ? 1 : 0;
  if (value instanceof Float32Array) return encodeHalf(value);
  return value;
}

// a PostgreSQL schema

export class PostgresCopyEnd implements CopyEnd {
  private readonly vectorArrays = new VectorArrays();

  constructor(
    readonly location: string,
    private readonly database: PgDatabase,
    private readonly schema: string,
    /** Builds the vector index (targets): the schema's dimension and engine are known once the meta is. */
    private readonly buildIndex: (db: Queryable) => Promise<void>,
  ) {}

  private run<T>(body: (db: Queryable) => Promise<T>, mode: 'read' | 'write' = 'read'): Promise<T> {
    return this.database.transaction(mode, body);
  }

  meta(): Promise<Map<string, string>> {
    return this.run(async (db) => new Map((await db.query<{ key: string; value: string }>('SELECT key, value FROM meta')).rows.map((r) => [r.key, r.value])));
  }

  version(): Promise<string> {
    return this.run(async (db) => String((await db.query<{ value: string | null }>('SELECT value FROM totals WHERE name = $1', [CHANGES_TOTAL])).rows[0]?.value ?? 0));
  }

  itemIdHighWater(): Promise<number> {
    return this.run(async (db) => {
      const { rows } = await db.query<{ high: number | null }>("SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass) AS high", [`${q(this.schema)}.items`]);
      return rows[0]!.high ?? 0;
    });
  }

  page(table: KeyedTable, after: number, limit: number): Promise<Row[]> {
    const columns = COLUMNS[table].map((c) => (c === 'embedding' ? `${sentVector('embedding')} AS embedding` : c));
    return this.run(async (db) => {
      const { rows } = await db.query(`SELECT ${columns.join(', ')} FROM ${table} WHERE ${KEY[table]} > $1 ORDER BY ${KEY[table]} LIMIT $2`, [after, limit]);
      return table === 'vectors' ? rows.map((r: Row) => ({ ...r, embedding: sentToVector(r.embedding as Buffer) })) : rows;
    });
  }

  all(table: 'fields' | 'file_fields'): Promise<Row[]> {
    return this.run(async (db) => (await db.query(`SELECT ${COLUMNS[table].join(', ')} FROM ${table} ORDER BY id`)).rows);
  }

  maxKey(table: KeyedTable): Promise<number> {
    return this.run(async (db) => (await db.query<{ n: number }>(`SELECT coalesce(max(${KEY[table]}), 0) AS n FROM ${table}`)).rows[0]!.n);
  }

  setMeta(entries: Record<string, string>): Promise<void> {
    const keys = Object.keys(entries);
    return this.run(async (db) => {
      await db.query('INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [keys, keys.map((k) => entries[k])]);
      if (entries[COPY_MARK] === undefined) await db.query('DELETE FROM meta WHERE key = $1', [COPY_MARK]);
    }, 'write');
  }

  insert(table: KeyedTable, rows: Row[]): Promise<void> {
    return this.run(async (db) => {
      if (table === 'item_places') {
        await insertPlaces(db, rows.map((r) => ({ id: r.item_id as number, place: JSON.parse(r.place as string) as WindowPlace })));
        return;
      }
      const columns = COLUMNS[table];
      const arrays: unknown[] = [];
      for (const c of columns) arrays.push(c === 'embedding' ? await this.vectorArrays.param(db, rows.map((r) => r[c] as Float32Array)) : rows.map((r) => r[c]));
      const unnest = columns.map((c, i) => `$${i + 1}::${PG_TYPES[c] ?? 'text'}[]`).join(', ');
      const overriding = table === 'files' || table === 'items' ? ' OVERRIDING SYSTEM VALUE' : '';
      await db.query(`INSERT INTO ${table} (${columns.join(', ')})${overriding} SELECT * FROM unnest(${unnest})`, arrays);
    }, 'write');
  }

  replaceAll(table: 'fields' | 'file_fields', rows: Row[]): Promise<void> {
    const columns = COLUMNS[table];
    return this.run(async (db) => {
      await db.query(`DELETE FROM ${table}`);
      const unnest = columns.map((c, i) => `$${i + 1}::${PG_TYPES[c] ?? 'text'}[]`).join(', ');
      await db.query(`INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${unnest}) ON CONFLICT DO NOTHING`, columns.map((c) => rows.map((r) => r[c])));
    }, 'write');
  }

  finish(highWater: number): Promise<void> {
    return this.run(async (db) => {
      if (highWater > 0) await db.query(`SELECT setval(pg_get_serial_sequence('${q(this.schema)}.items', 'id'), $1)`, [highWater]);
      await db.query(`SELECT setval(pg_get_serial_sequence('${q(this.schema)}.files', 'id'), greatest((SELECT max(id) FROM files), 1))`);
      await this.buildIndex(db);
    }, 'write');
  }

  close(): Promise<void> {
    return this.database.close();
  }
}
