/**
 * Catalog schemas as earlier rsclip versions wrote them, frozen: indexes they made must keep
 * opening (and upgrade) with every later version.
 */

/** rsclip 0.1 (schema version 1). */
export const SCHEMA_1 = `
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE images (
      id INTEGER PRIMARY KEY, root TEXT NOT NULL, path TEXT NOT NULL, file_name TEXT NOT NULL, bytes INTEGER NOT NULL,
      mtime_ms REAL NOT NULL, content_hash TEXT NOT NULL, width INTEGER, height INTEGER, format TEXT,
      status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'removed')), error TEXT, indexed_at INTEGER NOT NULL,
      seq INTEGER NOT NULL, UNIQUE (root, path)
    );
    CREATE INDEX images_content_hash ON images (content_hash) WHERE status = 'ok';
    CREATE INDEX images_file_name ON images (file_name);
    CREATE INDEX images_seq ON images (seq);
    CREATE TABLE vectors (image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE, embedding BLOB NOT NULL);
    CREATE TABLE fields (file_name TEXT NOT NULL, name TEXT NOT NULL, value_text TEXT NOT NULL, value_num REAL, UNIQUE (file_name, name, value_text));
    CREATE INDEX fields_name_text ON fields (name, value_text);
    CREATE INDEX fields_name_num ON fields (name, value_num);
  `;

/** Before scenes (schema version 2): schema 1 plus the explicit re-embedding flag. */
export const SCHEMA_2 = `${SCHEMA_1}
  ALTER TABLE images ADD COLUMN needs_embedding INTEGER NOT NULL DEFAULT 0;
`;
