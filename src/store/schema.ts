/**
 * The catalog schema and its numbered migrations (rclip's `ensure_version` pattern):
 * each step runs once, in order, inside one transaction; a catalog from a newer rsclip
 * is refused rather than guessed at.
 */
import type Database from 'better-sqlite3';
import { RsclipError } from '../errors.js';

interface Migration {
  version: number;
  why: string;
  sql: string;
}

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
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

function currentVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Brings the catalog to SCHEMA_VERSION; refuses a newer one. Needs a writable handle if a step must run. */
export function migrate(db: Database.Database, file: string): void {
  const version = currentVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new RsclipError(
      'INDEX_INCOMPATIBLE',
      `index catalog ${file} has schema version ${version}; this rsclip reads up to ${SCHEMA_VERSION}`,
      { hint: 'update rsclip' },
    );
  }
  for (const step of MIGRATIONS) {
    if (step.version <= version) continue;
    db.transaction(() => {
      db.exec(step.sql);
      db.pragma(`user_version = ${step.version}`);
    })();
  }
}

export function needsMigration(db: Database.Database): boolean {
  return currentVersion(db) < SCHEMA_VERSION;
}
