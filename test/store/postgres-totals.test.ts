/**
 * The PostgreSQL back end keeps the same totals as the embedded catalog (files per status,
 * vectors, the latest change) with row triggers: equal to the counts of the rows after every
 * kind of change, what countFiles and stats report, corrected by verify when they drift, and
 * added to an index from before them when a writer opens it (readers count the rows meanwhile).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { countedTotalsSql } from '../../src/store/postgres/schema.js';
import { axis, commitEveryKindOfChange, MODEL, newFile, PGLITE_BACKEND, withDatabase } from './backends.js';

beforeAll(() => PGLITE_BACKEND.start!());
afterAll(() => PGLITE_BACKEND.stop!());

type Totals = Record<string, number | null>;

const asTotals = (rows: { name: string; value: string | null }[]): Totals => Object.fromEntries(rows.map((r) => [r.name, r.value === null ? null : Number(r.value)]));

async function readTotals(location: string): Promise<{ stored: Totals; counted: Totals }> {
  return withDatabase(location, async (client, schema) => ({
    stored: asTotals((await client.query(`SELECT name, value FROM "${schema}".totals`)).rows),
    counted: asTotals((await client.query(countedTotalsSql(schema))).rows),
  }));
}

describe('PostgreSQL totals', () => {
  it('equal the counts of the rows after every kind of change, are what the store reports, and verify corrects a drift', async () => {
    const { location, dispose } = PGLITE_BACKEND.newLocation();
    const store = await openIndex(location, { model: MODEL, create: true });
    try {
      await commitEveryKindOfChange(store);
      const { stored, counted } = await readTotals(location);
      expect(stored).toEqual(counted);
      expect(stored).toMatchObject({ files_ok: 2, files_error: 1, files_removed: 1, vectors: 2 });
      expect(await store.stats()).toMatchObject({ images: { ok: 2, error: 1, removed: 1 }, items: 2, vectors: 2, lastChange: new Date(stored.last_change_ms!).toISOString() });
      expect(await store.countFiles()).toBe(4);

      await withDatabase(location, (client, schema) => client.query(`UPDATE "${schema}".totals SET value = 999 WHERE name IN ('files_error', 'vectors')`));
      expect(await store.countFiles('error')).toBe(999);
      expect((await store.verify()).repaired).toEqual(["the index's totals (files_error, vectors) did not match its rows; counted again"]);
      expect(await store.countFiles('error')).toBe(1);
      expect((await store.verify()).repaired).toEqual([]);
    } finally {
      await store.close();
      await dispose();
    }
  });

  it('are counted from the rows in an index made before them, and added when a writer opens it', async () => {
    const { location, dispose } = PGLITE_BACKEND.newLocation();
    try {
      const store = await openIndex(location, { model: MODEL, create: true });
      await commitEveryKindOfChange(store);
      await store.close();
      // the index as version 1 left it
      await withDatabase(location, (client, schema) =>
        client.query(
          `DROP TABLE "${schema}".totals; DROP FUNCTION "${schema}".files_totals CASCADE; DROP FUNCTION "${schema}".vectors_totals CASCADE;
           DROP INDEX "${schema}".files_failed; UPDATE "${schema}".meta SET value = '1' WHERE key = 'pg_schema_version'`,
        ),
      );
      const reader = await openIndex(location, { readonly: true });
      expect(reader.meta.schemaVersion).toBe(1);
      expect(await reader.stats()).toMatchObject({ images: { ok: 2, error: 1, removed: 1 }, vectors: 2 });
      await reader.close();

      const writer = await openIndex(location, { model: MODEL });
      expect(writer.meta.schemaVersion).toBe(2);
      await writer.commit([{ kind: 'put', file: newFile('e.png'), vector: axis(6) }]);
      await writer.close();
      const { stored, counted } = await readTotals(location);
      expect(stored).toEqual(counted);
      expect(stored).toMatchObject({ files_ok: 3, vectors: 3 });
    } finally {
      await dispose();
    }
  });
});
