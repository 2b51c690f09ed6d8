/**
 * The catalog schema and its numbered migrations (rclip's `ensure_version` pattern):
 * each step runs once, in order, inside one transaction (a new catalog's steps all in one);
 * a catalog from a newer rsclip is refused rather than guessed at. Readers (read-only opens) never migrate: they read an
 * older catalog as it is when every missing step is marked `readersUnaffected`, and refuse it
 * otherwise (conversionNeeded); writers convert it and say so.
 */
import type Database from 'better-sqlite3';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { float32BlobToHalf } from './half-precision.js';

interface Migration {
  version: number;
  why: string;
  sql: string;
  /** Readers never touch what this step adds, so they may open a catalog that lacks it. */
  readersUnaffected?: boolean;
}

/** The first version whose catalog keeps its totals (see `totals` below). */
const TOTALS_VERSION = 5;

/** The `totals` rows counted from the tables (name, value): what the triggers keep up to date. */
export const COUNTED_TOTALS_SQL = `
  SELECT 'files_' || s.status AS name, (SELECT count(*) FROM files f WHERE f.status = s.status) AS value
    FROM (SELECT 'ok' AS status UNION ALL SELECT 'error' UNION ALL SELECT 'removed') s
  UNION ALL SELECT 'vectors', (SELECT count(*) FROM vectors)
  UNION ALL SELECT 'last_change_ms', (SELECT max(indexed_at) FROM files)`;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    why: 'first schema: images keyed by (root, path), one float32 vector per ok image, user fields keyed by file name',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        root TEXT NOT NULL,
        path TEXT NOT NULL,
        file_name TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        mtime_ms REAL NOT NULL,
        content_hash TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        format TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'removed')),
        error TEXT,
        indexed_at INTEGER NOT NULL,
        -- commit sequence of the last change; the HNSW file records the sequence it covers
        seq INTEGER NOT NULL,
        UNIQUE (root, path)
      );
      CREATE INDEX images_content_hash ON images (content_hash) WHERE status = 'ok';
      CREATE INDEX images_file_name ON images (file_name);
      CREATE INDEX images_seq ON images (seq);
      CREATE TABLE vectors (
        image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
        embedding BLOB NOT NULL
      );
      CREATE TABLE fields (
        file_name TEXT NOT NULL,
        name TEXT NOT NULL,
        value_text TEXT NOT NULL,
        value_num REAL,
        UNIQUE (file_name, name, value_text)
      );
      CREATE INDEX fields_name_text ON fields (name, value_text);
      CREATE INDEX fields_name_num ON fields (name, value_num);
    `,
  },
  {
    version: 2,
    why: 'verify queues a file for embedding again with an explicit flag; it used to set bytes = -1 so that the size check happened to notice',
    sql: `
      ALTER TABLE images ADD COLUMN needs_embedding INTEGER NOT NULL DEFAULT 0;
      UPDATE images SET needs_embedding = 1 WHERE bytes = -1;
    `,
    readersUnaffected: true,
  },
  {
    version: 3,
    why:
      'scenes: a file has items (the whole image, or windows of a scene cut into tiles), each with its window, place and vector. ' +
      'Every existing image becomes one whole-image item with the same id, so graph labels, #id terms, URLs and cursors stay valid ' +
      'without a rebuild; item ids come from AUTOINCREMENT and retired items keep their rows, so an id is never given out twice. ' +
      'Footprints go into an R*Tree (one row per geometry part, id = item id * 8 + part, `parts` in item_places); files record their plan, stretch, georeference and STAC item.',
    sql: `
      ALTER TABLE images RENAME TO files;
      -- every existing image was embedded whole, as decoded: the plan 'whole'
      ALTER TABLE files ADD COLUMN plan TEXT;
      UPDATE files SET plan = 'whole';
      ALTER TABLE files ADD COLUMN stretch TEXT;
      ALTER TABLE files ADD COLUMN geo TEXT;
      ALTER TABLE files ADD COLUMN stac TEXT;
      ALTER TABLE files ADD COLUMN time_start REAL;
      ALTER TABLE files ADD COLUMN time_end REAL;
      CREATE INDEX files_time ON files (time_start, time_end) WHERE time_start IS NOT NULL;
      CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id INTEGER NOT NULL REFERENCES files (id),
        -- the window's key in the file's plan; NULL once the item is retired (its id is never reused)
        key TEXT,
        x INTEGER NOT NULL,
        y INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        scale INTEGER NOT NULL,
        -- commit sequence of the last change of the item or its vector (the graph replays by it)
        seq INTEGER NOT NULL,
        UNIQUE (file_id, key)
      );
      CREATE INDEX items_seq ON items (seq);
      INSERT INTO items (id, file_id, key, x, y, width, height, scale, seq)
        SELECT id, id, 'whole', 0, 0, coalesce(width, 0), coalesce(height, 0), 1, seq FROM files;
      -- footprint (GeoJSON), centre, native bounds and GSD, apart from items so that scans stay small
      CREATE TABLE item_places (item_id INTEGER PRIMARY KEY REFERENCES items (id), place TEXT NOT NULL, parts INTEGER NOT NULL);
      CREATE VIRTUAL TABLE item_boxes USING rtree (id, west, east, south, north);
      CREATE TABLE item_vectors (item_id INTEGER PRIMARY KEY REFERENCES items (id), embedding BLOB NOT NULL);
      INSERT INTO item_vectors (item_id, embedding) SELECT image_id, embedding FROM vectors;
      DROP TABLE vectors;
      ALTER TABLE item_vectors RENAME TO vectors;
      -- fields of one file (STAC properties), besides the user fields keyed by file name
      CREATE TABLE file_fields (
        file_id INTEGER NOT NULL REFERENCES files (id),
        name TEXT NOT NULL,
        value_text TEXT NOT NULL,
        value_num REAL,
        UNIQUE (file_id, name, value_text)
      );
      CREATE INDEX file_fields_name_text ON file_fields (name, value_text);
      CREATE INDEX file_fields_name_num ON file_fields (name, value_num);
    `,
  },
  {
    version: 4,
    why:
      'vectors at half precision (half-precision.ts): half the bytes per item, for a recall@10 against float32 exact search of 0.99 or more. ' +
      'Blobs of the float32 length are converted; any other blob is left as it was, for verify to find and queue for embedding again. ' +
      'The graph file keeps its float32 (or its own engine\'s) vectors until it is rebuilt.',
    sql: `
      UPDATE vectors SET embedding = rsclip_half_from_float32(embedding)
        WHERE length(embedding) = 4 * (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'embedding_dim');
    `,
  },
  {
    version: TOTALS_VERSION,
    why:
      'totals kept by triggers: files per status, vectors and the latest change, read in constant time (a count(*) over files took 0.7 s at 3M items, ' +
      'and /readyz and /api/stats ran it on every request, blocking the server). Readers of an older catalog count the rows instead. ' +
      'The failed files get an index of their own, in the order they are listed (the web page lists them; the whole table was read).',
    sql: `
      CREATE INDEX files_failed ON files (root, path) WHERE status = 'error';
      CREATE TABLE totals (name TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;
      INSERT INTO totals (name, value) ${COUNTED_TOTALS_SQL};
      CREATE TRIGGER files_totals_insert AFTER INSERT ON files BEGIN
        UPDATE totals SET value = value + 1 WHERE name = 'files_' || NEW.status;
        UPDATE totals SET value = max(coalesce(value, NEW.indexed_at), NEW.indexed_at) WHERE name = 'last_change_ms';
      END;
      CREATE TRIGGER files_totals_update AFTER UPDATE OF status, indexed_at ON files BEGIN
        UPDATE totals SET value = value - 1 WHERE name = 'files_' || OLD.status AND OLD.status <> NEW.status;
        UPDATE totals SET value = value + 1 WHERE name = 'files_' || NEW.status AND OLD.status <> NEW.status;
        UPDATE totals SET value = max(coalesce(value, NEW.indexed_at), NEW.indexed_at) WHERE name = 'last_change_ms';
      END;
      CREATE TRIGGER files_totals_delete AFTER DELETE ON files BEGIN
        UPDATE totals SET value = value - 1 WHERE name = 'files_' || OLD.status;
      END;
      CREATE TRIGGER vectors_totals_insert AFTER INSERT ON vectors BEGIN
        UPDATE totals SET value = value + 1 WHERE name = 'vectors';
      END;
      CREATE TRIGGER vectors_totals_delete AFTER DELETE ON vectors BEGIN
        UPDATE totals SET value = value - 1 WHERE name = 'vectors';
      END;
    `,
    readersUnaffected: true,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Whether the catalog has its tables (not a file its first run was killed while creating). */
export function hasMetaTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
}

/** The schema version the catalog is at. */
export function catalogVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function refuseNewer(version: number, file: string): void {
  if (version <= SCHEMA_VERSION) return;
  throw new RsclipError('INDEX_INCOMPATIBLE', `index catalog ${file} has schema version ${version}; this rsclip reads up to ${SCHEMA_VERSION}`, {
    hint: 'update rsclip',
  });
}

/**
 * Brings the catalog to `toVersion` (default SCHEMA_VERSION); refuses a newer one. Needs a writable
 * handle if a step must run. Returns the version it found (0: a catalog without tables yet).
 */
export function migrate(db: Database.Database, file: string, toVersion = SCHEMA_VERSION): number {
  const version = catalogVersion(db);
  refuseNewer(version, file);
  db.function('rsclip_half_from_float32', { deterministic: true }, (blob: unknown) => (blob instanceof Uint8Array ? float32BlobToHalf(blob) : blob));
  const steps = MIGRATIONS.filter((step) => step.version > version && step.version <= toVersion);
  const run = (step: Migration): void => {
    db.exec(step.sql);
    db.pragma(`user_version = ${step.version}`);
  };
  // a new catalog is made in one transaction: a first run stopped as it creates it (a full disk)
  // leaves no catalog part-way, which later commands would take for one of an older rsclip
  if (version === 0) db.transaction(() => steps.forEach(run))();
  else for (const step of steps) db.transaction(() => run(step))();
  return version;
}

/** Whether the catalog keeps a `totals` table (a reader may open an older one as it is). */
export function keepsTotals(db: Database.Database): boolean {
  return catalogVersion(db) >= TOTALS_VERSION;
}

/** Whether a reader needs a step the catalog lacks (readers cannot use it as it is). */
export function readersNeedUpgrade(db: Database.Database): boolean {
  // a catalog without tables (a first run killed as it created the file) is no old schema: it has no model recorded
  if (!hasMetaTable(db)) return false;
  const version = catalogVersion(db);
  return MIGRATIONS.some((step) => step.version > version && !step.readersUnaffected);
}

/**
 * A reader's refusal of a catalog that only a writer can convert: read-only opens never write
 * (an older rsclip still serving or searching the index could not read it afterwards).
 */
export function conversionNeeded(dir: string, version: number): RsclipError {
  return new RsclipError('INDEX_INCOMPATIBLE', `index ${dir} was made by an older rsclip (catalog schema ${version}) and must be converted to schema ${SCHEMA_VERSION} before it can be read; read-only commands never convert it`, {
    hint: `convert it with \`rsclip doctor --index ${dir}\` or any \`rsclip index\` run on it; rsclip versions from before the conversion cannot read it afterwards`,
  });
}

/** What a writer says once it has converted an older catalog (`from`: the version it found). */
export function convertedNotice(dir: string, from: number): string {
  return `converted the index ${dir} from schema ${from} to ${SCHEMA_VERSION}; rsclip versions from before this conversion cannot read it any more`;
}

/** Checks that a reader can use the catalog as it is: not newer, and missing no step readers need. */
export function checkReadable(db: Database.Database, file: string): void {
  refuseNewer(catalogVersion(db), file);
  if (readersNeedUpgrade(db)) throw conversionNeeded(path.dirname(file), catalogVersion(db));
}
