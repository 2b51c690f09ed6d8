/**
 * The health of catalog.sqlite, checked before anything is written into it:
 * - writers run SQLite's quick_check when they open, and the full check of the tables whose
 *   unique indexes keep one row per key (`files`: one row per path, `items`: one item per window
 *   of a file; `images` in catalogs made before scenes): a damaged entry there passes quick_check
 *   yet let the indexer write duplicate rows; `doctor` runs integrity_check;
 * - a damaged catalog is refused for writing, with a message that says how to repair it;
 * - repair (`doctor --repair`): REINDEX rebuilds every index from its table; when the tables
 *   themselves are damaged, every row that can still be read (through SQLite, and from leaf pages
 *   a damaged root or inner page cut off from their table: orphan-pages.ts; a file cut short is
 *   read through a copy padded to the length its header declares) is copied into a new catalog of
 *   the same schema version (one row per file path, the newest kept; items keep their ids and the
 *   id sequence keeps its high mark, so no id is given out twice), the footprint R*Tree is rebuilt
 *   from the places, and the new catalog is migrated and replaces the old one; the old files are
 *   kept next to it as `catalog.sqlite.damaged-<time>`. Items that lost their vector are retired
 *   and their files, like files that lost every item, are embedded again by the next
 *   `rsclip index`; the graph file is rebuilt from the new catalog. A rebuild that runs out of
 *   room says so, with the room it needs, and leaves the damaged catalog as it was.
 * The caller holds the write lock.
 */
import Database from 'better-sqlite3';
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, readSync, renameSync, rmSync, statfsSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import type { WindowPlace } from '../../geo/footprint.js';
import './sqlite-uri.js';
import { BOXES_PER_ITEM, footprintBoxes } from './catalog-filter.js';
import { catalogVersion, migrate, SCHEMA_VERSION } from './schema.js';
import { asTableRow, orphanRows, tableColumns, unreachedPages } from './orphan-pages.js';
import { isDiskFull } from './write-failures.js';

/** Problems quoted in a message. */
const QUOTED_PROBLEMS = 3;
/** Rows read per statement while salvaging. */
const SALVAGE_WINDOW = 1024;
/** Tables whose unique indexes decide what the indexer writes (those a catalog has are checked in full by writers). */
const KEYED_TABLES = ['images', 'files', 'items'];

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

function tablesOf(db: Database.Database): Set<string> {
  return new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
}

/**
 * SQLite's check of the catalog file: 'ok', or its first problems in one line. `quick` is
 * quick_check (every page, without matching index entries to rows) plus the full check of the
 * keyed tables (see KEYED_TABLES). `full` is integrity_check.
 */
export function checkCatalogFile(file: string, check: CatalogCheck): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 10_000 });
    let problems: string[] | undefined;
    if (check === 'quick') {
      problems = problemsOf(db, `quick_check(${QUOTED_PROBLEMS + 1})`);
      const tables = tablesOf(db);
      for (const table of KEYED_TABLES) if (!problems && tables.has(table)) problems = problemsOf(db, `integrity_check(${table})`);
    } else problems = problemsOf(db, `integrity_check(${QUOTED_PROBLEMS + 1})`);
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
    hint: `run \`rsclip doctor --repair --index ${path.dirname(file)}\` to rebuild what can be rebuilt`,
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
    `catalog tables were damaged (${before}); ${salvaged.files} file rows, ${salvaged.items} items, ${salvaged.vectors} vectors and ${salvaged.fields} field values copied into a new catalog` +
      (salvaged.unreachedRows > 0 ? ` (${salvaged.unreachedRows} of these rows read from pages their table no longer reached)` : '') +
      (salvaged.unreadable ? ', rows on unreadable pages lost' : '') +
      (salvaged.dropped > 0 ? `, ${salvaged.dropped} duplicate or invalid rows dropped` : '') +
      (salvaged.cutShort ? `; the file was cut short (${salvaged.cutShort.bytes} of the ${salvaged.cutShort.declared} bytes its header declares): the missing pages were read as blank` : '') +
      (salvaged.modelRecordLost ? "; the record of the vectors' model could not be read and is lost" : '') +
      `; files without a row or a vector are indexed again by the next \`rsclip index\`; the damaged catalog was kept as ${salvaged.keptAs}`,
  );
  return { repaired };
}

/**
 * The catalog's invariant (every live item of an ok file has a vector) after rows were lost:
 * items without a vector are retired, and their files, like ok files left without any item, are
 * embedded again by the next index run.
 */
function retireItemsWithoutVector(db: Database.Database): void {
  db.exec(`
    UPDATE files SET needs_embedding = 1 WHERE status = 'ok' AND (
      id IN (SELECT it.file_id FROM items it WHERE it.key IS NOT NULL AND it.id NOT IN (SELECT item_id FROM vectors))
      OR NOT EXISTS (SELECT 1 FROM items it WHERE it.file_id = files.id AND it.key IS NOT NULL));
    UPDATE items SET key = NULL WHERE key IS NOT NULL AND id NOT IN (SELECT item_id FROM vectors) AND file_id IN (SELECT id FROM files WHERE status = 'ok');
  `);
}

/** The R*Tree of footprints from the places (its own pages are never copied); returns how many places were unreadable and dropped. */
function rebuildFootprintBoxes(db: Database.Database): number {
  const page = db.prepare('SELECT item_id, place FROM item_places WHERE item_id > ? ORDER BY item_id LIMIT ?');
  const box = db.prepare('INSERT INTO item_boxes (id, west, east, south, north) VALUES (?, ?, ?, ?, ?)');
  const parts = db.prepare('UPDATE item_places SET parts = ? WHERE item_id = ?');
  const drop = db.prepare('DELETE FROM item_places WHERE item_id = ?');
  let dropped = 0;
  let after = 0;
  for (;;) {
    const rows = page.all(after, SALVAGE_WINDOW) as { item_id: number; place: string }[];
    if (rows.length === 0) return dropped;
    db.transaction(() => {
      for (const row of rows) {
        let boxes;
        try {
          boxes = footprintBoxes(JSON.parse(row.place) as WindowPlace);
        } catch {
          drop.run(row.item_id);
          dropped++;
          continue;
        }
        boxes.forEach((b, part) => box.run(row.item_id * BOXES_PER_ITEM + part, b.west, b.east, b.south, b.north));
        parts.run(boxes.length, row.item_id);
      }
    })();
    after = rows[rows.length - 1]!.item_id;
  }
}

/** AUTOINCREMENT's high mark for items: never below what the damaged catalog had given out (lost rows' ids are not given out again). */
function keepItemIdMark(source: Database.Database, target: Database.Database): void {
  let mark = 0;
  try {
    mark = (source.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'items'").get() as { seq: number } | undefined)?.seq ?? 0;
  } catch {
    // an unreadable sequence: the largest id copied is the best that is known
  }
  const current = (target.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'items'").get() as { seq: number } | undefined)?.seq;
  if (current === undefined) target.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('items', ?)").run(mark);
  else if (mark > current) target.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'items'").run(mark);
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
  files: number;
  items: number;
  vectors: number;
  fields: number;
  /** Rows read but not kept: an older duplicate of a path, or a value that breaks a constraint. */
  dropped: number;
  /** Rows kept from leaf pages their table no longer reached (a damaged root or inner page). */
  unreachedRows: number;
  /** Some pages could not be read: their rows are gone. */
  unreadable: boolean;
  /** The file was shorter than its header declares (a copy that stopped): its length and the declared one. */
  cutShort: { bytes: number; declared: number } | undefined;
  /** Vectors were copied but no model record was readable. */
  modelRecordLost: boolean;
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
 * a row that cannot be read, or reads back out of order, is stepped over with growing strides
 * until the reads succeed again.
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
    let stepped = false;
    for (const row of rows) {
      const rowid = row._rowid_ as number;
      // a damaged cell can read back with a rowid at or below the one before it (0, say): not a row, and no place to walk back to
      if (!(Number.isSafeInteger(rowid) && rowid > after)) {
        damage.unreadable = true;
        continue;
      }
      yield row;
      after = rowid;
      stepped = true;
    }
    if (!stepped) {
      after += stride;
      stride *= 2;
      continue;
    }
    stride = 1;
    carefulRows = Math.max(0, carefulRows - rows.length);
  }
}

/**
 * The schema version of a damaged catalog: its own, or what its tables say when the header
 * field cannot be trusted.
 */
function sourceVersion(db: Database.Database): number {
  const version = catalogVersion(db);
  if (version >= 1 && version <= SCHEMA_VERSION) return version;
  if (tablesOf(db).has('files')) return SCHEMA_VERSION;
  return columnsOf(db, 'images').includes('needs_embedding') ? 2 : 1;
}

/** `INSERT INTO table (cols) VALUES (@cols)`, with `tail` (a WHERE of a SELECT form, an upsert clause). */
function insertSql(table: string, columns: string[], tail = ''): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.map((c) => `@${c}`).join(', ')} ${tail}`;
}

/** The length the header of a catalog declares (page size times page count), or undefined where the header cannot be trusted. */
function declaredLength(file: string): number | undefined {
  const header = Buffer.alloc(100);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, header, 0, 100, 0) < 100) return undefined;
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return undefined;
  const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16);
  // the page count is valid only while the change counter matches the version that wrote it
  if (header.readUInt32BE(92) !== header.readUInt32BE(24)) return undefined;
  return pageSize * header.readUInt32BE(28);
}

/**
 * Where a catalog cut short (a copy that stopped) is read from: a copy of it (and of its WAL)
 * padded with blank pages to the length its header declares, which SQLite reads up to the missing
 * pages instead of refusing the file as malformed; the file itself when it is whole.
 */
function readableSource(file: string, padded: string): { source: string; cutShort: SalvageCounts['cutShort'] } {
  const bytes = statSync(file).size;
  const declared = declaredLength(file);
  if (declared === undefined || declared <= bytes) return { source: file, cutShort: undefined };
  copyFileSync(file, padded);
  truncateSync(padded, declared);
  if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${padded}-wal`);
  return { source: padded, cutShort: { bytes, declared } };
}

function removeCatalogFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}

/**
 * Rebuilt catalog and write-ahead log against the damaged catalog's size, at the peak: measured
 * 3.7 (a 500-file catalog of 0.6 MiB rebuilt only with 2.2 MiB free), the log holding the new
 * catalog's pages again, and more for the R*Tree and the migration.
 */
const REBUILD_PEAK_FACTOR = 4;

/** About how much room a rebuild of `file` takes at its peak: the new catalog with its log, and the padded copy of one cut short. */
function roomNeeded(file: string, cutShort: SalvageCounts['cutShort']): number {
  const size = (name: string) => statSync(name, { throwIfNoEntry: false })?.size ?? 0;
  return REBUILD_PEAK_FACTOR * (size(file) + size(`${file}-wal`)) + (cutShort ? cutShort.declared : 0);
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function freeBytes(dir: string): number | undefined {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Whether a rebuild failed for want of room: SQLite says the disk is full, or (writing the WAL
 * index of a full tmpfs, say) reports an I/O error while less is free than the rebuild needs.
 */
function outOfRoom(error: unknown, needed: number, free: number | undefined): boolean {
  if (isDiskFull(error)) return true;
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_IOERR') && free !== undefined && free < needed;
}

/** A rebuild that ran out of room: what it needs, what is free, and that nothing was changed or left behind. */
function noRoomToRebuild(file: string, needed: number, free: number | undefined, cause: unknown): RsclipError {
  return new RsclipError(
    'INDEX_UNWRITABLE',
    `cannot rebuild ${file}: no space left on the device (the rebuild needs up to about ${mib(needed)}${free === undefined ? '' : `, ${mib(free)} free now`}); the damaged catalog was left as it was and nothing was left behind`,
    {
      cause,
      hint: `free some space (or copy the index to a larger disk) and run \`rsclip doctor --repair --index ${path.dirname(file)}\` again`,
    },
  );
}

function salvage(file: string): SalvageCounts {
  const rebuilt = `${file}.rebuild-${process.pid}`;
  // the writer's lock is held: any other rebuild is one a killed repair left
  const prefix = `${path.basename(file)}.rebuild-`;
  for (const name of readdirSync(path.dirname(file))) if (name.startsWith(prefix)) rmSync(path.join(path.dirname(file), name), { force: true });
  const padded = `${rebuilt}.padded`;
  const damage = { unreadable: false };
  const counts = { files: 0, items: 0, vectors: 0, fields: 0, dropped: 0, unreachedRows: 0 };
  /** The source and the target, closed whatever happens. */
  const opened: Database.Database[] = [];
  const closeAll = () => opened.forEach((db) => db.close());
  let cutShort: SalvageCounts['cutShort'];
  let modelRecordLost = false;
  try {
    const read = readableSource(file, padded);
    cutShort = read.cutShort;
    const source = new Database(read.source, { readonly: true, fileMustExist: true, timeout: 10_000 });
    opened.push(source);
    const target = new Database(rebuilt);
    opened.push(target);
    target.pragma('page_size = 16384');
    target.pragma('journal_mode = WAL');
    // the rows are copied into the schema they were written in, then migrated like any catalog
    const version = sourceVersion(source);
    migrate(target, rebuilt, version);
    // rows on pages their table no longer reaches, read from the file (not while a WAL may hold newer pages)
    const unreached = statSync(`${read.source}-wal`, { throwIfNoEntry: false })?.size ? [] : unreachedPages(source);
    /**
     * Copies the readable rows of `table` (the columns both catalogs have) with `sql(columns)`,
     * then the rows of its shape on unreached pages with `orphanSql(columns)` (default: `sql`);
     * a row is kept when the statement wrote it, and counted under `counted`.
     */
    const copy = (table: string, sql: (columns: string[]) => string, counted?: keyof typeof counts, orphanSql = sql): void => {
      const wanted = columnsOf(target, table);
      const present = columnsOf(source, table).filter((c) => wanted.includes(c));
      if (present.length === 0) return;
      const statement = target.prepare(sql(present));
      const orphanStatement = target.prepare(orphanSql(present));
      const columns = tableColumns(source, table);
      const keep = (insert: Database.Statement, row: Record<string, unknown>): boolean => {
        let kept: boolean;
        try {
          kept = insert.run(row).changes > 0;
        } catch {
          kept = false; // a value SQLite reads but that breaks a constraint
        }
        if (kept && counted) counts[counted]++;
        else if (!kept) counts.dropped++;
        return kept;
      };
      target.transaction(() => {
        for (const row of readableRows(source, table, present, damage)) keep(statement, row);
        for (const orphan of orphanRows(read.source, unreached)) {
          const row = asTableRow(orphan, columns);
          if (row && keep(orphanStatement, row)) counts.unreachedRows++;
        }
      })();
    };
    copy('meta', (c) => `INSERT OR REPLACE INTO meta (${c.join(', ')}) VALUES (${c.map((n) => `@${n}`).join(', ')})`);
    // one row per (root, path): the newest commit wins (a damaged unique index let duplicates in)
    const files = version >= 3 ? 'files' : 'images';
    copy(
      files,
      (c) =>
        insertSql(files, c, `WHERE true ON CONFLICT (root, path) DO UPDATE SET ${c.map((n) => `${n} = excluded.${n}`).join(', ')} WHERE excluded.seq > ${files}.seq`),
      'files',
    );
    if (version >= 3) {
      // retired items (no key) are kept too: ids stay as they were
      copy('items', (c) => insertSql('items', c, 'WHERE EXISTS (SELECT 1 FROM files WHERE id = @file_id) ON CONFLICT DO NOTHING'), 'items');
      const live = "SELECT 1 FROM items it JOIN files f ON f.id = it.file_id WHERE it.id = @item_id AND it.key IS NOT NULL AND f.status = 'ok'";
      // a blob of an unreached page's row (an R*Tree node has the same shape) is a vector only at the length of the others
      const sameLength = 'length(@embedding) = coalesce((SELECT length(embedding) FROM vectors LIMIT 1), length(@embedding))';
      copy('vectors', (c) => insertSql('vectors', c, `WHERE EXISTS (${live})`), 'vectors', (c) => insertSql('vectors', c, `WHERE EXISTS (${live}) AND ${sameLength}`));
    } else {
      copy('vectors', (c) => insertSql('vectors', c, "WHERE EXISTS (SELECT 1 FROM images WHERE id = @image_id AND status = 'ok')"), 'vectors');
    }
    copy('fields', (c) => `INSERT OR IGNORE INTO fields (${c.join(', ')}) VALUES (${c.map((n) => `@${n}`).join(', ')})`, 'fields');
    migrate(target, rebuilt);
    retireItemsWithoutVector(target);
    if (version >= 3) {
      copy('item_places', (c) => insertSql('item_places', c, 'WHERE EXISTS (SELECT 1 FROM items WHERE id = @item_id AND key IS NOT NULL)'));
      counts.dropped += rebuildFootprintBoxes(target);
      copy('file_fields', (c) => insertSql('file_fields', c, 'WHERE EXISTS (SELECT 1 FROM files WHERE id = @file_id) ON CONFLICT DO NOTHING'), 'fields');
      keepItemIdMark(source, target);
    }
    // rows were dropped: the graph file no longer matches; it is rebuilt from this catalog
    target.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('hnsw_seq', '-1'), ('hnsw_next_seq', '-1')").run();
    // a lost commit sequence goes on from the newest row (the graph replays by it)
    target.exec(`
      INSERT INTO meta (key, value) SELECT 'commit_seq', coalesce(max(seq), 0) FROM (SELECT max(seq) AS seq FROM files UNION ALL SELECT max(seq) FROM items) WHERE true
        ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE CAST(excluded.value AS INTEGER) > CAST(meta.value AS INTEGER)`);
    modelRecordLost = counts.vectors > 0 && target.prepare("SELECT 1 FROM meta WHERE key = 'model_fingerprint'").get() === undefined;
    target.pragma('wal_checkpoint(TRUNCATE)');
  } catch (error) {
    closeAll();
    removeCatalogFiles(rebuilt);
    removeCatalogFiles(padded);
    const needed = roomNeeded(file, cutShort);
    const free = freeBytes(path.dirname(file));
    if (outOfRoom(error, needed, free)) throw noRoomToRebuild(file, needed, free, error);
    throw new RsclipError('INDEX_CORRUPT', `${file} is too damaged to rebuild (${(error as Error).message})`, {
      cause: error,
      hint: 'index the archive again into an empty --index folder',
    });
  }
  closeAll();
  removeCatalogFiles(padded);
  const keptAs = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(`${file}${suffix}`)) renameSync(`${file}${suffix}`, `${keptAs}${suffix}`);
  }
  renameSync(rebuilt, file);
  rmSync(`${rebuilt}-wal`, { force: true });
  rmSync(`${rebuilt}-shm`, { force: true });
  return { ...counts, unreadable: damage.unreadable, cutShort, modelRecordLost, keptAs };
}

