/**
 * catalog.sqlite: the truth of an index. Owns the better-sqlite3 handle, the prepared
 * statements and the row <-> record mapping; knows nothing about HNSW.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import { filterToSql, globMatches, GLOB_FUNCTION } from './catalog-filter.js';
import { migrate, needsMigration } from './schema.js';
import type { CatalogChange, CatalogFilter, FieldValue, ImageRecord, ImageStatus, KnownFile, NewImage } from './types.js';
import type { SidecarRecord } from './field-sidecar.js';

export const CATALOG_FILE = 'catalog.sqlite';

interface ImageRow {
  id: number;
  root: string;
  path: string;
  file_name: string;
  bytes: number;
  mtime_ms: number;
  content_hash: string;
  width: number | null;
  height: number | null;
  format: string | null;
  status: ImageStatus;
  error: string | null;
  indexed_at: number;
}

function toRecord(row: ImageRow): ImageRecord {
  return {
    id: row.id,
    root: row.root,
    path: row.path,
    absolutePath: path.join(row.root, ...row.path.split('/')),
    fileName: row.file_name,
    bytes: row.bytes,
    mtimeMs: row.mtime_ms,
    contentHash: row.content_hash,
    width: row.width,
    height: row.height,
    format: row.format,
    status: row.status,
    error: row.error,
    indexedAt: row.indexed_at,
  };
}

export function vectorToBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function blobToVector(blob: Buffer): Float32Array {
  // copy: the blob's buffer may be shared and unaligned
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

const IN_CHUNK = 500;

function chunks<T>(items: T[], size = IN_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class Catalog {
  readonly db: Database.Database;
  readonly file: string;

  constructor(dir: string, options: { readonly: boolean }) {
    this.file = path.join(dir, CATALOG_FILE);
    try {
      this.db = new Database(this.file, { readonly: options.readonly, fileMustExist: options.readonly });
    } catch (cause) {
      throw new RsclipError('INDEX_CORRUPT', `cannot open ${this.file}: ${(cause as Error).message}`, { cause });
    }
    try {
      this.db.pragma('busy_timeout = 10000');
      if (options.readonly) {
        if (needsMigration(this.db)) {
          throw new RsclipError('INDEX_INCOMPATIBLE', `index catalog ${this.file} uses an older schema and cannot be upgraded while opened read-only`, {
            hint: 'run `rsclip doctor --index <dir>` once to upgrade it',
          });
        }
        migrate(this.db, this.file);
      } else {
        // a 2 KB vector BLOB per row: with the default 4 KB pages only one fits per page (half of the
        // file wasted); 16 KB pages hold seven. Takes effect only when the file is created.
        this.db.pragma('page_size = 16384');
        this.db.pragma('journal_mode = WAL');
        // WAL + NORMAL: a crash of the process never loses a commit; power loss may lose the last ones but never corrupts
        this.db.pragma('synchronous = NORMAL');
        this.db.pragma('foreign_keys = ON');
        migrate(this.db, this.file);
      }
      this.db.function(GLOB_FUNCTION, { deterministic: true }, (pattern: unknown, p: unknown) =>
        globMatches(String(pattern), String(p)) ? 1 : 0,
      );
    } catch (error) {
      this.db.close();
      if (error instanceof RsclipError) throw error;
      throw new RsclipError('INDEX_CORRUPT', `cannot read ${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }

  getMeta(): Map<string, string> {
    const rows = this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  setMeta(entries: Record<string, string | number>): void {
    const stmt = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(entries)) stmt.run(key, String(value));
    })();
  }

  metaNumber(key: string): number {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  countImages(status?: ImageStatus): number {
    const row = status
      ? (this.db.prepare('SELECT count(*) AS n FROM images WHERE status = ?').get(status) as { n: number })
      : (this.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number });
    return row.n;
  }

  countVectors(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM vectors').get() as { n: number }).n;
  }

  getImage(id: number): ImageRecord | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return row && toRecord(row);
  }

  getImages(ids: number[]): ImageRecord[] {
    const byId = new Map<number, ImageRecord>();
    for (const part of chunks(ids)) {
      const rows = this.db.prepare(`SELECT * FROM images WHERE id IN (${part.map(() => '?').join(',')})`).all(...part) as ImageRow[];
      for (const row of rows) byId.set(row.id, toRecord(row));
    }
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  findImage(root: string, relativePath: string): ImageRecord | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE root = ? AND path = ?').get(root, relativePath) as ImageRow | undefined;
    return row && toRecord(row);
  }

  /** Images whose absolute path equals `absolutePath` (roots may nest, so several rows can qualify). */
  findImageByAbsolutePath(absolutePath: string): ImageRecord | undefined {
    const rows = this.db
      .prepare("SELECT * FROM images WHERE file_name = ? ORDER BY status = 'ok' DESC, id")
      .all(path.basename(absolutePath)) as ImageRow[];
    return rows.map(toRecord).find((r) => r.absolutePath === absolutePath);
  }

  getVector(id: number): Float32Array | undefined {
    const row = this.db.prepare('SELECT embedding FROM vectors WHERE image_id = ?').get(id) as { embedding: Buffer } | undefined;
    return row && blobToVector(row.embedding);
  }

  getVectors(ids: number[]): Map<number, Float32Array> {
    const out = new Map<number, Float32Array>();
    for (const part of chunks(ids)) {
      const rows = this.db
        .prepare(`SELECT image_id, embedding FROM vectors WHERE image_id IN (${part.map(() => '?').join(',')})`)
        .all(...part) as { image_id: number; embedding: Buffer }[];
      for (const row of rows) out.set(row.image_id, blobToVector(row.embedding));
    }
    return out;
  }

  *iterateVectors(): Generator<[number, Float32Array]> {
    const stmt = this.db.prepare('SELECT image_id, embedding FROM vectors ORDER BY image_id');
    for (const row of stmt.iterate() as Iterable<{ image_id: number; embedding: Buffer }>) {
      yield [row.image_id, blobToVector(row.embedding)];
    }
  }

  /** (id, seq) of every image that has a vector. */
  vectorSeqs(): { id: number; seq: number }[] {
    return this.db.prepare('SELECT i.id AS id, i.seq AS seq FROM images i JOIN vectors v ON v.image_id = i.id').all() as { id: number; seq: number }[];
  }

  /** Images changed after `seq`, with whether they now have a vector. */
  changedSince(seq: number): { id: number; hasVector: number }[] {
    return this.db
      .prepare('SELECT i.id AS id, (v.image_id IS NOT NULL) AS hasVector FROM images i LEFT JOIN vectors v ON v.image_id = i.id WHERE i.seq > ?')
      .all(seq) as { id: number; hasVector: number }[];
  }

  knownFiles(root: string): Map<string, KnownFile> {
    const rows = this.db
      .prepare('SELECT id, path, bytes, mtime_ms, content_hash, status FROM images WHERE root = ?')
      .all(root) as Pick<ImageRow, 'id' | 'path' | 'bytes' | 'mtime_ms' | 'content_hash' | 'status'>[];
    return new Map(rows.map((r) => [r.path, { id: r.id, bytes: r.bytes, mtimeMs: r.mtime_ms, contentHash: r.content_hash, status: r.status }]));
  }

  findVectorByContentHash(contentHash: string): { id: number; vector: Float32Array } | undefined {
    const row = this.db
      .prepare(
        "SELECT v.image_id AS id, v.embedding AS embedding FROM images i JOIN vectors v ON v.image_id = i.id WHERE i.content_hash = ? AND i.status = 'ok' LIMIT 1",
      )
      .get(contentHash) as { id: number; embedding: Buffer } | undefined;
    return row && { id: row.id, vector: blobToVector(row.embedding) };
  }

  /** Applies `changes` in one transaction under commit sequence `seq`; returns the ids written. */
  applyChanges(changes: CatalogChange[], seq: number, now: number): number[] {
    const upsert = this.db.prepare(`
      INSERT INTO images (root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq)
      VALUES (@root, @path, @fileName, @bytes, @mtimeMs, @contentHash, @width, @height, @format, @status, @error, @now, @seq)
      ON CONFLICT (root, path) DO UPDATE SET
        file_name = excluded.file_name, bytes = excluded.bytes, mtime_ms = excluded.mtime_ms,
        content_hash = excluded.content_hash, width = excluded.width, height = excluded.height,
        format = excluded.format, status = excluded.status, error = excluded.error,
        indexed_at = excluded.indexed_at, seq = excluded.seq
      RETURNING id`);
    const putVector = this.db.prepare('INSERT INTO vectors (image_id, embedding) VALUES (?, ?) ON CONFLICT (image_id) DO UPDATE SET embedding = excluded.embedding');
    const dropVector = this.db.prepare('DELETE FROM vectors WHERE image_id = ?');
    const touch = this.db.prepare('UPDATE images SET bytes = ?, mtime_ms = ?, indexed_at = ? WHERE id = ?');
    const remove = this.db.prepare("UPDATE images SET status = 'removed', error = NULL, indexed_at = ?, seq = ? WHERE id = ?");
    const setSeq = this.db.prepare("INSERT INTO meta (key, value) VALUES ('commit_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    const row = (image: NewImage, status: ImageStatus, error: string | null) => ({
      ...image,
      fileName: path.posix.basename(image.path),
      status,
      error,
      now,
      seq,
    });
    return this.db.transaction(() => {
      const ids: number[] = [];
      for (const change of changes) {
        switch (change.kind) {
          case 'put': {
            const { id } = upsert.get(row(change.image, 'ok', null)) as { id: number };
            putVector.run(id, vectorToBlob(change.vector));
            ids.push(id);
            break;
          }
          case 'fail': {
            const { id } = upsert.get(row(change.image, 'error', change.error)) as { id: number };
            dropVector.run(id);
            ids.push(id);
            break;
          }
          case 'touch':
            touch.run(change.bytes, change.mtimeMs, now, change.id);
            ids.push(change.id);
            break;
          case 'remove':
            remove.run(now, seq, change.id);
            dropVector.run(change.id);
            ids.push(change.id);
            break;
        }
      }
      setSeq.run(String(seq));
      return ids;
    })();
  }

  filterIds(filter: CatalogFilter): number[] {
    const { where, params } = filterToSql(filter);
    return (this.db.prepare(`SELECT i.id AS id FROM images i WHERE ${where} ORDER BY i.id`).all(...params) as { id: number }[]).map((r) => r.id);
  }

  getFields(ids: number[]): Map<number, Record<string, FieldValue | FieldValue[]>> {
    const out = new Map<number, Record<string, FieldValue | FieldValue[]>>();
    for (const part of chunks(ids)) {
      const rows = this.db
        .prepare(
          `SELECT i.id AS id, f.name AS name, f.value_text AS text, f.value_num AS num
           FROM images i JOIN fields f ON f.file_name = i.file_name
           WHERE i.id IN (${part.map(() => '?').join(',')}) ORDER BY i.id, f.name, f.rowid`,
        )
        .all(...part) as { id: number; name: string; text: string; num: number | null }[];
      for (const r of rows) {
        const record = out.get(r.id) ?? {};
        const value: FieldValue = r.num ?? r.text;
        const previous = record[r.name];
        record[r.name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
        out.set(r.id, record);
      }
    }
    return out;
  }

  /** Replaces the named fields of each record's file name; returns how many file names match no image. */
  importFields(records: SidecarRecord[]): number {
    const clear = this.db.prepare('DELETE FROM fields WHERE file_name = ? AND name = ?');
    const insert = this.db.prepare('INSERT OR IGNORE INTO fields (file_name, name, value_text, value_num) VALUES (?, ?, ?, ?)');
    const known = this.db.prepare('SELECT 1 FROM images WHERE file_name = ? LIMIT 1');
    return this.db.transaction(() => {
      let unmatched = 0;
      for (const record of records) {
        if (!known.get(record.fileName)) unmatched++;
        for (const [name, values] of record.fields) {
          clear.run(record.fileName, name);
          for (const value of values) {
            const num = typeof value === 'number' ? value : value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null;
            insert.run(record.fileName, name, String(value), num);
          }
        }
      }
      return unmatched;
    })();
  }

  close(): void {
    this.db.close();
  }
}
