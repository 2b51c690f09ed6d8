/**
 * Runs in the selection-scan thread (selection-scan.ts): the ids of the items a filter allows,
 * read through a read-only connection of its own to the catalog, with the commit they were
 * read at (both in one read transaction). Errors come back as values.
 */
import Database from 'better-sqlite3';
import { registerFilterFunctions, selectedIdsSql } from './catalog-filter.js';

export interface SelectionScanTask {
  /** What the store's catalog was opened from: the file, or its immutable URI. */
  source: string;
  where: string;
  params: unknown[];
}

/** A failure keeps SQLite's code (SQLITE_CORRUPT, SQLITE_IOERR...), which says what the store reports. */
export type SelectionScanResult = { ok: true; seq: number; ids: Uint32Array } | { ok: false; message: string; code: string | undefined };

const connections = new Map<string, Database.Database>();

function connection(source: string): Database.Database {
  let db = connections.get(source);
  if (!db) {
    db = new Database(source, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    registerFilterFunctions(db);
    connections.set(source, db);
  }
  return db;
}

export default function scanSelection(task: SelectionScanTask): SelectionScanResult {
  try {
    const db = connection(task.source);
    return db.transaction(() => {
      const seq = db.prepare("SELECT value FROM meta WHERE key = 'commit_seq'").pluck().get() as string | undefined;
      const ids = db.prepare(selectedIdsSql(task.where)).pluck().all(...task.params) as number[];
      return { ok: true as const, seq: Number(seq ?? 0), ids: Uint32Array.from(ids) };
    })();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, message: error instanceof Error ? error.message : String(error), code: typeof code === 'string' ? code : undefined };
  }
}
