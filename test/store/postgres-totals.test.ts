/**
 * The PostgreSQL back end keeps the same totals as the embedded catalog (files per status,
 * vectors, the latest change) with triggers: equal to the counts of the rows after every kind of
 * change, what countFiles, countItems and stats report, corrected by verify when they drift,
 * added to an index from before them when a writer opens it (readers count the rows meanwhile),
 * and kept by statement triggers on the files instead of the row trigger of an index made before
 * those. A count of the statements that changed what a selection reads versions what a store
 * keeps of the filtered selections it read (their sizes, and their items when few); verify
 * makes its triggers again when one is missing or disabled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { SELECTIONS_KEPT } from '../../src/store/postgres/postgres-store.js';
import { CHANGES_TOTAL, countedTotalsSql } from '../../src/store/postgres/schema.js';
import { axis, commitEveryKindOfChange, MODEL, newFile, POSTGRES_BACKENDS, withDatabase } from './backends.js';

type Totals = Record<string, number | null>;

const asTotals = (rows: { name: string; value: string | null }[]): Totals => Object.fromEntries(rows.map((r) => [r.name, r.value === null ? null : Number(r.value)]));

async function readTotals(location: string): Promise<{ stored: Totals; counted: Totals }> {
  return withDatabase(location, async (client, schema) => ({
    // the change count is a version, not a count of rows
    stored: asTotals((await client.query(`SELECT name, value FROM "${schema}".totals WHERE name <> $1`, [CHANGES_TOTAL])).rows),
    counted: asTotals((await client.query(countedTotalsSql(schema))).rows),
  }));
}

describe.each(POSTGRES_BACKENDS)('PostgreSQL totals: $name', (backend) => {
  beforeAll(() => backend.start!());
  afterAll(() => backend.stop!());

  it('equal the counts of the rows after every kind of change, are what the store reports and counts, and verify corrects a drift', async () => {
    const { location, dispose } = backend.newLocation();
    const store = await openIndex(location, { model: MODEL, create: true });
    try {
      let commits = 0;
      await commitEveryKindOfChange(store, async () => {
        commits += 1;
        const { stored, counted } = await readTotals(location);
        expect(stored, `after commit ${commits}`).toEqual(counted);
      });
      expect(commits).toBe(7);
      const { stored, counted } = await readTotals(location);
      expect(stored).toEqual(counted);
      expect(stored).toMatchObject({ files_ok: 2, files_error: 1, files_removed: 1, vectors: 2 });
      expect(await store.stats()).toMatchObject({ images: { ok: 2, error: 1, removed: 1 }, items: 2, vectors: 2, lastChange: new Date(stored.last_change_ms!).toISOString() });
      expect(await store.countFiles()).toBe(4);

      await withDatabase(location, (client, schema) => client.query(`UPDATE "${schema}".totals SET value = 999 WHERE name IN ('files_error', 'vectors')`));
      expect(await store.countFiles('error')).toBe(999);
      // a search counts its items from the totals too (less the excluded items the index holds), never by reading every vector
      const [first] = await store.listItemIds();
      expect(await store.countItems()).toBe(999);
      expect(await store.countItems({ excludeIds: [first!, first!, 10 ** 9] })).toBe(998);
      expect((await store.verify()).repaired).toEqual(["the index's totals (files_error, vectors) did not match its rows; counted again"]);
      expect(await store.countFiles('error')).toBe(1);
      expect((await store.verify()).repaired).toEqual([]);
    } finally {
      await store.close();
      await dispose();
    }
  });

  it('are counted from the rows in an index made before them, and added when a writer opens it', async () => {
    const { location, dispose } = backend.newLocation();
    try {
      const store = await openIndex(location, { model: MODEL, create: true });
      await commitEveryKindOfChange(store);
      await store.close();
      // the index as version 1 left it
      await withDatabase(location, (client, schema) =>
        client.query(
          `DROP TABLE "${schema}".totals; DROP FUNCTION "${schema}".files_totals CASCADE; DROP FUNCTION "${schema}".vectors_totals CASCADE; DROP FUNCTION "${schema}".count_change CASCADE;
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

  it("count a filtered selection once per version of the index's rows, moved by any client's change", async () => {
    const { location, dispose } = backend.newLocation();
    const writer = await openIndex(location, { model: MODEL, create: true });
    const reader = await openIndex(location, { readonly: true });
    try {
      await writer.commit(['a.png', 'b.png', 'c.png'].map((name, i) => ({ kind: 'put', file: newFile(name, { bytes: i < 2 ? 2000 : 500 }), vector: axis(i) })));
      const large = { filter: { minBytes: 1500 } };
      const labelled = { filter: { fields: { label: 'dune' } } };
      expect(await reader.countItems(large)).toBe(2);
      expect(await reader.countItems(labelled)).toBe(0);
      const [a, b] = await reader.listItemIds(large);
      // rows changed behind the change count's back: what was read of the selection is what the reader
      // answers (its count, and its items, which a search scores without the filter)
      await withDatabase(location, (client, schema) =>
        client.query(`ALTER TABLE "${schema}".files DISABLE TRIGGER files_changed; UPDATE "${schema}".files SET bytes = 100; ALTER TABLE "${schema}".files ENABLE TRIGGER files_changed`),
      );
      expect(await reader.countItems(large)).toBe(2);
      expect((await reader.search(axis(1), 5, large)).map((h) => h.id)).toEqual([b, a]);
      // any statement on a table a selection reads moves the version, whoever runs it
      await withDatabase(location, (client, schema) => client.query(`DELETE FROM "${schema}".fields WHERE false`));
      expect(await reader.countItems(large)).toBe(0);
      expect(await reader.search(axis(1), 5, large)).toEqual([]);
      await writer.commit([{ kind: 'put', file: newFile('d.png', { bytes: 3000 }), vector: axis(3) }]);
      expect(await reader.countItems(large)).toBe(1);
      await writer.importFields([{ fileName: 'd.png', fields: new Map([['label', ['dune']]]) }]);
      expect(await reader.countItems(labelled)).toBe(1);
      expect((await reader.search(axis(3), 5, labelled)).map((h) => h.id)).toEqual(await reader.listItemIds(labelled));
      // a search with no count before it, after a change: what was kept at the older version is not used
      await writer.commit([{ kind: 'put', file: newFile('e.png'), vector: axis(4) }]);
      await writer.importFields([{ fileName: 'e.png', fields: new Map([['label', ['dune']]]) }]);
      const [d, e] = await reader.listItemIds(labelled);
      expect((await reader.search(axis(4), 5, labelled)).map((h) => h.id)).toEqual([e, d]);
    } finally {
      await reader.close();
      await writer.close();
      await dispose();
    }
  });

  it('keep what they read of at most SELECTIONS_KEPT selections, reported by stats', async () => {
    const { location, dispose } = backend.newLocation();
    const store = await openIndex(location, { model: MODEL, create: true });
    try {
      await store.commit(['a.png', 'b.png'].map((name, i) => ({ kind: 'put', file: newFile(name, { bytes: 1000 * (i + 1) }), vector: axis(i) })));
      const caches = async () => ((await store.stats()).details as { caches: { selections: { entries: number; bytes: number } } }).caches.selections;
      for (let i = 0; i < SELECTIONS_KEPT.entries + 20; i++) expect(await store.countItems({ filter: { minBytes: i } })).toBe(2);
      const kept = await caches();
      expect(kept.entries).toBe(SELECTIONS_KEPT.entries);
      // each entry holds its key and both ids
      expect(kept.bytes).toBeGreaterThan(SELECTIONS_KEPT.entries * 16);
      expect(kept.bytes).toBeLessThanOrEqual(SELECTIONS_KEPT.bytes);
    } finally {
      await store.close();
      await dispose();
    }
  });

  it('have the change count made again by verify when one of its triggers is missing or disabled, the count moved', async () => {
    const { location, dispose } = backend.newLocation();
    const store = await openIndex(location, { model: MODEL, create: true });
    try {
      await store.commit([{ kind: 'put', file: newFile('a.png', { bytes: 2000 }), vector: axis(1) }]);
      const large = { filter: { minBytes: 1500 } };
      expect(await store.countItems(large)).toBe(1);
      await withDatabase(location, (client, schema) =>
        client.query(`ALTER TABLE "${schema}".files DISABLE TRIGGER files_changed; DROP TRIGGER items_changed ON "${schema}".items; UPDATE "${schema}".files SET bytes = 100`),
      );
      // out of date, as the triggers are there to prevent
      expect(await store.countItems(large)).toBe(1);
      expect((await store.verify()).repaired).toEqual(["the change count's triggers were missing or disabled (2 of 7); made again, and the count moved"]);
      expect(await store.countItems(large)).toBe(0);
      expect(await triggerNames(location, 'items')).toEqual(['items_changed']);
      await withDatabase(location, (client, schema) => client.query(`UPDATE "${schema}".files SET bytes = 3000`));
      expect(await store.countItems(large)).toBe(1);
      expect((await store.verify()).repaired).toEqual([]);
    } finally {
      await store.close();
      await dispose();
    }
  });

  it("count a filtered selection at every request in an index made before the change count, which a writer's open adds", async () => {
    const { location, dispose } = backend.newLocation();
    try {
      const store = await openIndex(location, { model: MODEL, create: true });
      await store.commit([{ kind: 'put', file: newFile('a.png', { bytes: 2000 }), vector: axis(1) }]);
      await store.close();
      await withDatabase(location, (client, schema) => client.query(`DROP FUNCTION "${schema}".count_change CASCADE; DELETE FROM "${schema}".totals WHERE name = 'changes'`));
      const large = { filter: { minBytes: 1500 } };
      const reader = await openIndex(location, { readonly: true });
      expect(await reader.countItems(large)).toBe(1);
      await withDatabase(location, (client, schema) => client.query(`UPDATE "${schema}".files SET bytes = 100`));
      expect(await reader.countItems(large)).toBe(0);
      await reader.close();

      const writer = await openIndex(location, { model: MODEL });
      expect(await triggerNames(location, 'items')).toEqual(['items_changed']);
      await writer.commit([{ kind: 'put', file: newFile('b.png', { bytes: 2000 }), vector: axis(2) }]);
      expect(await writer.countItems(large)).toBe(1);
      await writer.close();
    } finally {
      await dispose();
    }
  });

  it('are kept by statement triggers on the files once a writer opens an index that kept them by a row trigger', async () => {
    const { location, dispose } = backend.newLocation();
    try {
      const store = await openIndex(location, { model: MODEL, create: true });
      await store.commit([{ kind: 'put', file: newFile('a.png'), vector: axis(1) }]);
      await store.close();
      await withDatabase(location, (client, schema) => client.query(filesRowTriggerAsVersion2MadeIt(schema)));
      expect(await triggerNames(location)).toEqual(['files_totals', 'vectors_totals']);

      const writer = await openIndex(location, { model: MODEL });
      expect(await triggerNames(location)).toEqual(['files_deleted', 'files_inserted', 'files_updated', 'vectors_totals']);
      await commitEveryKindOfChange(writer);
      await writer.close();
      const { stored, counted } = await readTotals(location);
      expect(stored).toEqual(counted);
      expect(stored).toMatchObject({ files_ok: 2, files_error: 1, files_removed: 1, vectors: 2 });
    } finally {
      await dispose();
    }
  });
});

/** The triggers on the totals' tables but those of the change count, or all those of one table. */
async function triggerNames(location: string, table?: string): Promise<string[]> {
  return withDatabase(location, async (client, schema) => {
    const { rows } = await client.query<{ tgname: string }>(
      table
        ? 'SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = to_regclass($1) ORDER BY tgname'
        : "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (to_regclass($1), to_regclass($2)) AND tgname NOT LIKE '%\\_changed' ORDER BY tgname",
      table ? [`"${schema}".${table}`] : [`"${schema}".files`, `"${schema}".vectors`],
    );
    return rows.map((r) => r.tgname);
  });
}

/** The row trigger that kept the files' totals in schema version 2 before the statement triggers, frozen. */
function filesRowTriggerAsVersion2MadeIt(schema: string): string {
  const s = `"${schema}"`;
  return `
    DROP FUNCTION ${s}.files_totals CASCADE;
    CREATE FUNCTION ${s}.files_totals() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        UPDATE ${s}.totals SET value = value - 1 WHERE name = 'files_' || OLD.status;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        UPDATE ${s}.totals SET value = value + 1 WHERE name = 'files_' || NEW.status;
        UPDATE ${s}.totals SET value = greatest(value, NEW.indexed_at) WHERE name = 'last_change_ms';
      END IF;
      RETURN NULL;
    END $body$;
    CREATE TRIGGER files_totals AFTER INSERT OR DELETE OR UPDATE OF status, indexed_at ON ${s}.files FOR EACH ROW EXECUTE FUNCTION ${s}.files_totals();
  `;
}
