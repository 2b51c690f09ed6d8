/**
 * A new catalog's schema is made in one transaction: a first run that stops while creating it (a
 * full disk) leaves an empty catalog, never one part-way through the migrations, which every later
 * command took for a catalog of an older rsclip ("must be converted", and a writer warned that it
 * had converted it). The disk filling up is played by a page limit on the database file.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogVersion, hasMetaTable, migrate, SCHEMA_VERSION } from '../../src/store/embedded/schema.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-new-catalog-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A new catalog whose file may not grow past `pages` pages of 4 KiB. */
function cappedCatalog(name: string, pages: number): { db: Database.Database; file: string } {
  const file = path.join(work, `${name}.sqlite`);
  const db = new Database(file);
  db.pragma(`max_page_count = ${pages}`);
  return { db, file };
}

/** The fewest pages a whole new catalog needs. */
function pagesOfANewCatalog(): number {
  const { db, file } = cappedCatalog('whole', 1_000_000);
  migrate(db, file);
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.close();
  return pages;
}

describe('a new catalog', () => {
  it('is made whole or not at all when the disk fills up while its tables are created', () => {
    const needed = pagesOfANewCatalog();
    expect(needed).toBeGreaterThan(4);
    // every limit short of a whole catalog, so the failure comes at each step in turn
    for (let pages = 2; pages < needed; pages++) {
      const { db, file } = cappedCatalog(`capped-${pages}`, pages);
      expect(() => migrate(db, file), `${pages} pages`).toThrow(/full/);
      expect({ pages, version: catalogVersion(db), tables: hasMetaTable(db) }).toEqual({ pages, version: 0, tables: false });
      db.close();
    }
    const { db, file } = cappedCatalog('enough', needed);
    expect(migrate(db, file)).toBe(0);
    expect(catalogVersion(db)).toBe(SCHEMA_VERSION);
    db.close();
  });
});
