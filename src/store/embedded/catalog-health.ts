/**
 * The health of catalog.sqlite, checked before anything is written into it:
 * - writers run SQLite's quick_check when they open, and the full check of the files table (a
 *   damaged unique index let the indexer write duplicate rows); `doctor` runs integrity_check;
 * - a damaged catalog is refused for writing, with a message that says how to repair it;
 * - repair (`doctor --repair`): REINDEX rebuilds every index from its table; when the tables
 *   themselves are damaged, every row that can still be read is copied into a new catalog (one
 *   row per file path, the newest kept), which replaces the old one; the old files are kept
 *   next to it as `catalog.sqlite.damaged-<time>`. Files whose rows were lost are indexed again
 *   by the next `rsclip index`, and the graph file is rebuilt from the new catalog.
 * The caller holds the write lock.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { RsclipError } from '../../errors.js';
import './sqlite-uri.js';
import { migrate } from './schema.js';

/** Problems quoted in a message. */
const QUOTED_PROBLEMS = 3;
/** Rows read per statement while salvaging. */
const SALVAGE_WINDOW = 1024;

export type CatalogCheck = 'quick' | 'full';

export interface CatalogRepair {
  /** What was done, in words (empty when the catalog was healthy). */
  repaired: string[];
}

/** Problems one PRAGMA reports, or undefined when it says ok. */
function problemsOf(db: Database.Database, pragma: string): string[] | undefined {
  const problems = (db.pragma(pragma, { simple: false }) as Record<string, string>[]).map((row) => Object.values(row)[0]!);
  return problems.length === 1 && problems[0] === 'ok' ? undefined : problems;
}

/**
 * SQLite's check of the catalog file: 'ok', or its first problems in one line. `quick` is
 * quick_check (every page, without matching index entries to rows) plus the full check of the
 * images table, whose unique (root, path) index keeps one row per file: a damaged entry there
 * passes quick_check yet lets duplicate rows in. `full` is integrity_check.
 */
export function checkCatalogFile(file: string, check: CatalogCheck): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 10_000 });
    const problems =
      check === 'quick'
        ? (problemsOf(db, `quick_check(${QUOTED_PROBLEMS + 1})`) ?? problemsOf(db, 'integrity_check(images)'))
        : problemsOf(db, `integrity_check(${QUOTED_PROBLEMS + 1})`);
    return problems ? summarise(problems) : 'ok';
  } catch (error) {
    return `cannot be read (${(error as Error).message})`;
  } finally {
    db?.close();
  }
}

function summarise(problems: string[]): string {
  const shown = problems.slice(0, QUOTED_PROBLEMS).join('; ');
  return problems.length > QUOTED_PROBLEMS ? `${shown}; ...` : shown;
}

export function damagedCatalog(file: string, problem: string, check: CatalogCheck): RsclipError {
  return new RsclipError('INDEX_CORRUPT', `${file} is damaged (SQLite ${check === 'quick' ? 'quick_check' : 'integrity_check'}: ${problem}); nothing was written into it`, {
    hint: 'run `rsclip doctor --repair --index <dir>` to rebuild what can be rebuilt',
  });
}

/** Repairs a damaged catalog in place (see the module comment); a healthy one is left untouched. */
export function repairCatalog(file: string): CatalogRepair {
  const before = checkCatalogFile(file, 'full');
  if (before === 'ok') return { repaired: [] };
  const repaired: string[] = [];
  if (reindex(file)) {
    const after = checkCatalogFile(file, 'full');
    if (after === 'ok') return { repaired: [`catalog indexes were damaged (${before}); rebuilt with REINDEX`] };
    repaired.push(`REINDEX was not enough (${after})`);
  }
  const salvaged = salvage(file);
  repaired.push(
    `catalog tables were damaged (${before}); ${salvaged.images} file rows, ${salvaged.vectors} vectors and ${salvaged.fields} field values copied into a new catalog` +
      (salvaged.unreadable ? ', rows on unreadable pages lost' : '') +
      (salvaged.dropped > 0 ? `, ${salvaged.dropped} duplicate or invalid rows dropped` : '') +
      `; files without a row or a vector are indexed again by the next \`rsclip index\`; the damaged catalog was kept as ${salvaged.keptAs}`,
  );
  return { repaired };
}

function reindex(file: string): boolean {
  const db = new Database(file, { timeout: 10_000 });
  try {
    db.exec('REINDEX');
    return true;
  } catch {
    // a unique index cannot be rebuilt over duplicate rows, a damaged table cannot be read: salvage
    return false;
  } finally {
    db.close();
  }
}

interface SalvageCounts {
  images: number;
  vectors: number;
  fields: number;
  /** Rows read but not kept: an older duplicate of a path, or a value that breaks a constraint. */
  dropped: number;
  /** Some pages could not be read: their rows are gone. */
  unreadable: boolean;
  keptAs: string;
}

function columnsOf(db: Database.Database, table: string): string[] {
  try {
    return (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
  } catch {
    return [];
  }
}

/**
 * Every readable row of `table` in rowid order. A read that fails is retried one row at a time;
 * a row that cannot be read is stepped over with growing strides until the reads succeed again.
 */
function* readableRows(db: Database.Database, table: string, columns: string[], damage: { unreadable: boolean }): Generator<Record<string, unknown>> {
  const page = db.prepare(`SELECT rowid AS _rowid_, ${columns.join(', ')} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`);
  let after = 0;
  let carefulRows = 0;
  let stride = 1;
  while (after < Number.MAX_SAFE_INTEGER) {
    let rows: Record<string, unknown>[];
    try {
      rows = page.all(after, carefulRows > 0 ? 1 : SALVAGE_WINDOW) as Record<string, unknown>[];
    } catch {
      damage.unreadable = true;
      if (carefulRows > 0) {
        after += stride;
        stride *= 2;
      }
      carefulRows = SALVAGE_WINDOW;
      continue;
    }
    if (rows.length === 0) return;
    yield* rows;
    after = rows[rows.length - 1]!._rowid_ as number;
    stride = 1;
    carefulRows = Math.max(0, carefulRows - rows.length);
  }
}

function salvage(file: string): SalvageCounts {
  const rebuilt = `${file}.rebuild-${process.pid}`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${rebuilt}${suffix}`, { force: true });
  const source = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
  const target = new Database(rebuilt);
  const damage = { unreadable: false };
  const counts = { images: 0, vectors: 0, fields: 0, dropped: 0 };
  try {
    target.pragma('page_size = 16384');
    target.pragma('journal_mode = WAL');
    migrate(target, rebuilt);
    /** Copies the readable rows of `table` (the columns both catalogs have); `keep` writes one and says whether it was kept. */
    const copy = (table: 'meta' | 'images' | 'vectors' | 'fields', keep: (row: Record<string, unknown>) => boolean): void => {
      const wanted = columnsOf(target, table);
      const present = columnsOf(source, table).filter((c) => wanted.includes(c));
      if (present.length === 0) return;
      target.transaction(() => {
        for (const row of readableRows(source, table, present, damage)) {
          let kept: boolean;
          try {
            kept = keep(row);
          } catch {
            kept = false; // a value SQLite reads but that breaks a constraint
          }
          if (kept && table !== 'meta') counts[table]++;
          else if (!kept) counts.dropped++;
        }
      })();
    };
    const meta = target.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (@key, @value)');
    copy('meta', (row) => meta.run(row).changes > 0);
    // one row per (root, path): the newest commit wins (a damaged unique index let duplicates in)
    const image = target.prepare(`
      INSERT INTO images (id, root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq)
      VALUES (@id, @root, @path, @file_name, @bytes, @mtime_ms, @content_hash, @width, @height, @format, @status, @error, @indexed_at, @seq)
      ON CONFLICT (root, path) DO UPDATE SET id = excluded.id, file_name = excluded.file_name, bytes = excluded.bytes,
        mtime_ms = excluded.mtime_ms, content_hash = excluded.content_hash, width = excluded.width, height = excluded.height,
        format = excluded.format, status = excluded.status, error = excluded.error, indexed_at = excluded.indexed_at, seq = excluded.seq
      WHERE excluded.seq > images.seq`);
    const needsEmbedding = target.prepare('UPDATE images SET needs_embedding = ? WHERE id = ?');
    copy('images', (row) => {
      const kept = image.run({ ...row, id: row._rowid_ }).changes > 0;
      if (kept && typeof row.needs_embedding === 'number') needsEmbedding.run(row.needs_embedding, row._rowid_);
      return kept;
    });
    const vector = target.prepare("INSERT INTO vectors (image_id, embedding) SELECT @image_id, @embedding WHERE EXISTS (SELECT 1 FROM images WHERE id = @image_id AND status = 'ok')");
    copy('vectors', (row) => vector.run(row).changes > 0);
    const field = target.prepare('INSERT OR IGNORE INTO fields (file_name, name, value_text, value_num) VALUES (@file_name, @name, @value_text, @value_num)');
    copy('fields', (row) => field.run(row).changes > 0);
    // rows were dropped: the graph file no longer matches; it is rebuilt from this catalog
    target.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('hnsw_seq', '-1'), ('hnsw_next_seq', '-1')").run();
    // files that kept their row but lost their vector: embedded again by the next index run
    target.exec("UPDATE images SET needs_embedding = 1 WHERE status = 'ok' AND id NOT IN (SELECT image_id FROM vectors)");
    target.pragma('wal_checkpoint(TRUNCATE)');
  } catch (error) {
    target.close();
    source.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${rebuilt}${suffix}`, { force: true });
    throw new RsclipError('INDEX_CORRUPT', `${file} is too damaged to rebuild (${(error as Error).message})`, {
      cause: error,
      hint: 'index the archive again into an empty --index folder',
    });
  }
  target.close();
  source.close();
  const keptAs = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(`${file}${suffix}`)) renameSync(`${file}${suffix}`, `${keptAs}${suffix}`);
  }
  renameSync(rebuilt, file);
  rmSync(`${rebuilt}-wal`, { force: true });
  rmSync(`${rebuilt}-shm`, { force: true });
  return { ...counts, unreadable: damage.unreadable, keptAs };
}

