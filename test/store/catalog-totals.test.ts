/**
 * The embedded catalog keeps its totals (files per status, vectors, the latest change) in a table
 * that triggers maintain, so that /readyz, /api/stats and the server's start read them in constant
 * time instead of counting millions of rows. They must equal the counts of the rows after every
 * kind of change, be what the store reports, be corrected by verify when they drift, and be
 * counted for catalogs made before them.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { COUNTED_TOTALS_SQL, SCHEMA_VERSION } from '../../src/store/embedded/schema.js';
import { openIndex } from '../../src/store/index.js';
import { axis, commitEveryKindOfChange, MODEL, newFile } from './backends.js';

let parent: string;
let location: string;

beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-totals-'));
  location = path.join(parent, 'index');
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

type Totals = Record<string, number | null>;

/** The catalog's stored totals and the same totals counted from its rows. */
function readTotals(): { stored: Totals; counted: Totals } {
  const db = new Database(path.join(location, CATALOG_FILE), { readonly: true });
  try {
    const asRecord = (rows: unknown[]) => Object.fromEntries((rows as { name: string; value: number | null }[]).map((r) => [r.name, r.value]));
    return { stored: asRecord(db.prepare('SELECT name, value FROM totals').all()), counted: asRecord(db.prepare(COUNTED_TOTALS_SQL).all()) };
  } finally {
    db.close();
  }
}

describe('the embedded catalog totals', () => {
  it('equal the counts of the rows after every kind of change, and are what stats reports', async () => {
    const store = await openIndex(location, { model: MODEL, create: true });
    expect(await store.stats()).toMatchObject({ images: { ok: 0, error: 0, removed: 0 }, items: 0, vectors: 0, lastChange: null });
    await commitEveryKindOfChange(store);
    const stats = await store.stats();
    await store.close();

    const { stored, counted } = readTotals();
    expect(stored).toEqual(counted);
    expect(stored).toMatchObject({ files_ok: 2, files_error: 1, files_removed: 1, vectors: 2 });
    expect(stats).toMatchObject({ images: { ok: 2, error: 1, removed: 1 }, items: 2, vectors: 2, lastChange: new Date(stored.last_change_ms!).toISOString() });
  });

  it('are read as stored (no count of the rows), and verify counts them again when they drifted', async () => {
    const store = await openIndex(location, { model: MODEL, create: true });
    await commitEveryKindOfChange(store);
    await store.close();
    const db = new Database(path.join(location, CATALOG_FILE));
    db.prepare("UPDATE totals SET value = 999 WHERE name IN ('files_ok', 'vectors')").run();
    db.close();

    const reader = await openIndex(location, { readonly: true });
    expect(await reader.countFiles('ok')).toBe(999);
    expect(await reader.countFiles()).toBe(999 + 1 + 1);
    await reader.close();

    const writer = await openIndex(location, { model: MODEL });
    const report = await writer.verify();
    expect(report.repaired).toEqual(["the index's totals (files_ok, vectors) did not match its rows; counted again"]);
    expect(await writer.countFiles('ok')).toBe(2);
    expect((await writer.stats()).vectors).toBe(2);
    expect((await writer.verify()).repaired).toEqual([]);
    await writer.close();
  });

  it('are counted from the rows in a catalog made before them, read as it is, and kept once it is upgraded', async () => {
    const store = await openIndex(location, { model: MODEL, create: true });
    await commitEveryKindOfChange(store);
    await store.close();
    // the catalog as schema 4 left it: no totals table, no triggers, no index of the failed files
    const db = new Database(path.join(location, CATALOG_FILE));
    db.exec('DROP TABLE totals; DROP INDEX files_failed');
    for (const { name } of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger'").all() as { name: string }[]) db.exec(`DROP TRIGGER ${name}`);
    db.pragma('user_version = 4');
    db.close();

    const reader = await openIndex(location, { readonly: true });
    expect(reader.meta.schemaVersion).toBe(4);
    expect(await reader.stats()).toMatchObject({ images: { ok: 2, error: 1, removed: 1 }, vectors: 2 });
    await reader.close();

    const writer = await openIndex(location, { model: MODEL });
    expect(writer.meta.schemaVersion).toBe(SCHEMA_VERSION);
    await writer.commit([{ kind: 'put', file: newFile('e.png'), vector: axis(6) }]);
    await writer.close();
    const { stored, counted } = readTotals();
    expect(stored).toEqual(counted);
    expect(stored).toMatchObject({ files_ok: 3, vectors: 3 });
  });
});
