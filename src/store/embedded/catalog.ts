/**
 * catalog.sqlite: the truth of an embedded index. Owns the better-sqlite3 handle, the
 * statements and the row <-> record mapping, repairs included; knows nothing about graphs.
 * Table `images` holds the files (one item each, with the file's id), `vectors` the items'
 * embeddings, `fields` the user fields by file name, `meta` the index's settings.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { selectionToSql, sqlRegexp } from './catalog-filter.js';
import { catalogVersion, checkReadable, migrate } from './schema.js';
import { immutableUri } from './sqlite-uri.js';
import type { CatalogChange, FieldRecord, FieldValue, FileRecord, FileStatus, ItemSelection, KnownFile, NewFile, ReusableVector } from '../types.js';

export const CATALOG_FILE = 'catalog.sqlite';

interface FileRow {
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
  status: FileStatus;
  error: string | null;
  indexed_at: number;
}

function toRecord(row: FileRow): FileRecord {
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

function vectorToBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function blobToVector(blob: Buffer): Float32Array {
  // copy: the blob's buffer may be shared and unaligned
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** Ids bound as one JSON parameter: any number of them in one statement. */
const jsonIds = (ids: readonly number[]): string => JSON.stringify(ids);

export class Catalog {
  private readonly db: Database.Database;
  readonly file: string;
  /** Prepared statements of fixed SQL text (a bounded set: filters, whose text varies, are prepared per call). */
  private readonly statements = new Map<string, Database.Statement>();

  /** `immutable`: read a catalog on read-only media (no locks, no WAL; see sqlite-uri.ts). */
  constructor(dir: string, options: { readonly: boolean; immutable?: boolean }) {
    this.file = path.join(dir, CATALOG_FILE);
    try {
      this.db = new Database(options.immutable ? immutableUri(this.file) : this.file, { readonly: options.readonly, fileMustExist: options.readonly });
    } catch (cause) {
      throw new RsclipError('INDEX_CORRUPT', `cannot open ${this.file}: ${(cause as Error).message}`, { cause, hint: 'run `rsclip doctor --index <dir>`' });
    }
    try {
      this.db.pragma('busy_timeout = 10000');
      if (options.readonly) {
        checkReadable(this.db, this.file);
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
      this.db.function('regexp', { deterministic: true }, sqlRegexp);
    } catch (error) {
      this.db.close();
      if (error instanceof RsclipError) throw error;
      throw new RsclipError('INDEX_CORRUPT', `cannot read ${this.file}: ${(error as Error).message}`, { cause: error, hint: 'run `rsclip doctor --index <dir>`' });
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

  getMeta(): Map<string, string> {
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

  /** Sequence number of the last commit (any process). */
  commitSeq(): number {
    return this.metaNumber('commit_seq');
  }

  countFiles(status?: FileStatus): number {
    const row = status
      ? (this.prepared('SELECT count(*) AS n FROM images WHERE status = ?').get(status) as { n: number })
      : (this.prepared('SELECT count(*) AS n FROM images').get() as { n: number });
    return row.n;
  }

  countVectors(): number {
    return (this.prepared('SELECT count(*) AS n FROM vectors').get() as { n: number }).n;
  }

  /** Files in the order of `ids`; unknown ids are left out. */
  getFiles(ids: readonly number[]): FileRecord[] {
    const rows = this.prepared('SELECT * FROM images WHERE id IN (SELECT value FROM json_each(?))').all(jsonIds(ids)) as FileRow[];
    const byId = new Map(rows.map((row) => [row.id, toRecord(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** The file whose absolute path is `absolutePath` (roots may nest, so several rows can qualify: ok ones first). */
  findFileByAbsolutePath(absolutePath: string): FileRecord | undefined {
    const rows = this.db
      .prepare("SELECT * FROM images WHERE file_name = ? ORDER BY status = 'ok' DESC, id")
      .all(path.basename(absolutePath)) as FileRow[];
    return rows.map(toRecord).find((r) => r.absolutePath === absolutePath);
  }

  getVectors(ids: readonly number[]): Map<number, Float32Array> {
    const rows = this.db
      .prepare('SELECT image_id, embedding FROM vectors WHERE image_id IN (SELECT value FROM json_each(?))')
      .all(jsonIds(ids)) as { image_id: number; embedding: Buffer }[];
    return new Map(rows.map((row) => [row.image_id, blobToVector(row.embedding)]));
  }

  /** Up to `limit` vectors of ok files with ids above `afterId`, in id order (pages that survive other statements in between). */
  vectorPage(afterId: number, limit: number): [number, Float32Array][] {
    const rows = this.db
      .prepare("SELECT v.image_id AS id, v.embedding AS embedding FROM vectors v JOIN images i ON i.id = v.image_id WHERE i.status = 'ok' AND v.image_id > ? ORDER BY v.image_id LIMIT ?")
      .all(afterId, limit) as { id: number; embedding: Buffer }[];
    return rows.map((row) => [row.id, blobToVector(row.embedding)]);
  }

  /** Every stored vector in id order, whatever its file's status (for full scans inside one synchronous call). */
  *iterateVectors(): Generator<[number, Float32Array]> {
    const stmt = this.db.prepare('SELECT image_id, embedding FROM vectors ORDER BY image_id');
    for (const row of stmt.iterate() as Iterable<{ image_id: number; embedding: Buffer }>) {
      yield [row.image_id, blobToVector(row.embedding)];
    }
  }

  /** (id, seq) of every file that has a vector. */
  vectorSeqs(): { id: number; seq: number }[] {
    return this.prepared('SELECT i.id AS id, i.seq AS seq FROM images i JOIN vectors v ON v.image_id = i.id').all() as { id: number; seq: number }[];
  }

  /** Files changed after `seq`, with whether they now have a vector. */
  changedSince(seq: number): { id: number; hasVector: number }[] {
    return this.db
      .prepare('SELECT i.id AS id, (v.image_id IS NOT NULL) AS hasVector FROM images i LEFT JOIN vectors v ON v.image_id = i.id WHERE i.seq > ?')
      .all(seq) as { id: number; hasVector: number }[];
  }

  knownFiles(root: string): Map<string, KnownFile> {
    const rows = this.prepared('SELECT id, path, bytes, mtime_ms, content_hash, status, needs_embedding FROM images WHERE root = ?').all(root) as (Pick<
      FileRow,
      'id' | 'path' | 'bytes' | 'mtime_ms' | 'content_hash' | 'status'
    > & { needs_embedding: number })[];
    return new Map(
      rows.map((r) => [r.path, { id: r.id, bytes: r.bytes, mtimeMs: r.mtime_ms, contentHash: r.content_hash, status: r.status, needsEmbedding: r.needs_embedding === 1 }]),
    );
  }

  findVectorByContentHash(contentHash: string): ReusableVector | undefined {
    const row = this.db
      .prepare(
        "SELECT i.id AS id, v.embedding AS embedding, i.width AS width, i.height AS height, i.format AS format FROM images i JOIN vectors v ON v.image_id = i.id WHERE i.content_hash = ? AND i.status = 'ok' LIMIT 1",
      )
      .get(contentHash) as { id: number; embedding: Buffer; width: number | null; height: number | null; format: string | null } | undefined;
    return row && { itemId: row.id, vector: blobToVector(row.embedding), width: row.width, height: row.height, format: row.format };
  }

  /** Applies `changes` in one transaction under commit sequence `seq`; returns the ids written. */
  applyChanges(changes: readonly CatalogChange[], seq: number, now: number): number[] {
    const upsert = this.prepared(`
      INSERT INTO images (root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq)
      VALUES (@root, @path, @fileName, @bytes, @mtimeMs, @contentHash, @width, @height, @format, @status, @error, @now, @seq)
      ON CONFLICT (root, path) DO UPDATE SET
        file_name = excluded.file_name, bytes = excluded.bytes, mtime_ms = excluded.mtime_ms,
        content_hash = excluded.content_hash, width = excluded.width, height = excluded.height,
        format = excluded.format, status = excluded.status, error = excluded.error,
        indexed_at = excluded.indexed_at, seq = excluded.seq, needs_embedding = 0
      RETURNING id`);
    const putVector = this.prepared('INSERT INTO vectors (image_id, embedding) VALUES (?, ?) ON CONFLICT (image_id) DO UPDATE SET embedding = excluded.embedding');
    const dropVector = this.prepared('DELETE FROM vectors WHERE image_id = ?');
    const touch = this.prepared('UPDATE images SET bytes = ?, mtime_ms = ?, indexed_at = ? WHERE id = ?');
    const remove = this.prepared("UPDATE images SET status = 'removed', error = NULL, indexed_at = ?, seq = ?, needs_embedding = 0 WHERE id = ?");
    const row = (file: NewFile, status: FileStatus, error: string | null) => ({
      ...file,
      fileName: path.posix.basename(file.path),
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
            const { id } = upsert.get(row(change.file, 'ok', null)) as { id: number };
            putVector.run(id, vectorToBlob(change.vector));
            ids.push(id);
            break;
          }
          case 'fail': {
            const { id } = upsert.get(row(change.file, 'error', change.error)) as { id: number };
            dropVector.run(id);
            ids.push(id);
            break;
          }
          case 'touch':
            touch.run(change.bytes, change.mtimeMs, now, change.fileId);
            ids.push(change.fileId);
            break;
          case 'remove':
            remove.run(now, seq, change.fileId);
            dropVector.run(change.fileId);
            ids.push(change.fileId);
            break;
        }
      }
      this.setSeq(seq);
      return ids;
    })();
  }

  private setSeq(seq: number): void {
    this.prepared("INSERT INTO meta (key, value) VALUES ('commit_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(seq));
  }

  countItems(selection: ItemSelection): number {
    const { where, params } = selectionToSql(selection);
    return (this.db.prepare(`SELECT count(*) AS n FROM images i WHERE ${where}`).get(...params) as { n: number }).n;
  }

  itemIds(selection: ItemSelection): number[] {
    const { where, params } = selectionToSql(selection);
    return (this.db.prepare(`SELECT i.id AS id FROM images i WHERE ${where} ORDER BY i.id`).all(...params) as { id: number }[]).map((r) => r.id);
  }

  getFields(ids: readonly number[]): Map<number, Record<string, FieldValue | FieldValue[]>> {
    const out = new Map<number, Record<string, FieldValue | FieldValue[]>>();
    const rows = this.db
      .prepare(
        `SELECT i.id AS id, f.name AS name, f.value_text AS text, f.value_num AS num
         FROM images i JOIN fields f ON f.file_name = i.file_name
         WHERE i.id IN (SELECT value FROM json_each(?)) ORDER BY i.id, f.name, f.rowid`,
      )
      .all(jsonIds(ids)) as { id: number; name: string; text: string; num: number | null }[];
    for (const r of rows) {
      const record = out.get(r.id) ?? {};
      const value: FieldValue = r.num ?? r.text;
      const previous = record[r.name];
      record[r.name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
      out.set(r.id, record);
    }
    return out;
  }

  /**
   * Replaces the named fields of each record's file name, as commit `seq` (filters see a new
   * state); returns how many file names match no file.
   */
  importFields(records: readonly FieldRecord[], seq: number): number {
    const clear = this.prepared('DELETE FROM fields WHERE file_name = ? AND name = ?');
    const insert = this.prepared('INSERT OR IGNORE INTO fields (file_name, name, value_text, value_num) VALUES (?, ?, ?, ?)');
    const known = this.prepared('SELECT 1 FROM images WHERE file_name = ? LIMIT 1');
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
      this.setSeq(seq);
      return unmatched;
    })();
  }

  // repairs (verify)

  /** SQLite's own consistency check: 'ok' or what it found. */
  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  /** Deletes vectors of files that are not ok; returns how many. */
  deleteStrayVectors(): number {
    return this.prepared("DELETE FROM vectors WHERE image_id IN (SELECT id FROM images WHERE status != 'ok')").run().changes;
  }

  okFilesWithoutVector(): number[] {
    return (this.prepared("SELECT id FROM images WHERE status = 'ok' AND id NOT IN (SELECT image_id FROM vectors)").all() as { id: number }[]).map((r) => r.id);
  }

  /** Drops the vectors of these files and queues them for embedding by the next index run, as commit `seq`. */
  queueForEmbedding(ids: readonly number[], reason: string, seq: number): void {
    const mark = this.prepared("UPDATE images SET status = 'error', error = ?, needs_embedding = 1, seq = ? WHERE id = ?");
    const drop = this.prepared('DELETE FROM vectors WHERE image_id = ?');
    this.db.transaction(() => {
      for (const id of ids) {
        drop.run(id);
        mark.run(reason, seq, id);
      }
      this.setSeq(seq);
    })();
  }

  close(): void {
    this.db.close();
  }

  // added for issue 10 (hardening): failed files, field names

  /** Files with this status, by root and path. */
  listFiles(status: FileStatus): FileRecord[] {
    return (this.prepared('SELECT * FROM images WHERE status = ? ORDER BY root, path').all(status) as FileRow[]).map(toRecord);
  }

  /** Names of the user fields present, sorted. */
  fieldNames(): string[] {
    return (this.prepared('SELECT DISTINCT name FROM fields ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  }
}
