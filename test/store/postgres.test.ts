/**
 * The PostgreSQL back end against the embedded one on the same data: exact search gives the
 * same ids and scores (to the half precision the embedded catalog stores vectors at),
 * pgvector's HNSW index (half precision, iterative scans) keeps recall@10 at 0.98 or more,
 * filtered or not; an unfiltered search, and one over a selection counted before, is one round
 * trip; a commit mixing new files (written set-based) with other changes gives the
 * same catalog; a bulk load drops the HNSW index and its end builds it; and `index copy` moves an
 * index both ways (and directory to directory) with its ids, retired ids, vectors, fields and
 * footprints exactly, resuming a copy that stopped half-way.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkGraphFile } from '../../src/store/engines.js';
import { parseFilterSpecs } from '../../src/store/filter.js';
import { numbered, selectionToSql, withLiterals } from '../../src/store/postgres/filter-sql.js';
import { copyIndex, openIndex, readIndexMeta, resolveEngine, type CatalogChange, type CommittedChange, type IndexStore, type NewItem } from '../../src/store/index.js';
import { seededRandom } from '../geo/random-footprints.js';
import type { RsclipError } from '../../src/errors.js';
import { expectRsclipError } from '../fixtures/errors.js';
import { dumpCatalog } from '../queue/catalog.js';
import { axis, DIM, MODEL, newFile, PGLITE_BACKEND, POSTGRES_BACKENDS, withDatabase } from './backends.js';

const rand = seededRandom(21);

function randomUnit(dim: number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => rand() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const hnswIndexExists = (location: string): Promise<boolean> =>
  withDatabase(location, async (client, schema) => (await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [`${schema}.vectors_hnsw`])).rows[0]!.exists);
const dropHnswIndex = (location: string): Promise<unknown> => withDatabase(location, (client, schema) => client.query(`DROP INDEX ${schema}.vectors_hnsw`));

/** A 1-degree footprint at this longitude. */
const place = (lon: number) => ({
  footprint: { type: 'Polygon' as const, coordinates: [[[lon, 10], [lon + 1, 10], [lon + 1, 11], [lon, 11], [lon, 10]]] as [number, number][][] },
  bbox: [lon, 10, lon + 1, 11] as [number, number, number, number],
  center: [lon + 0.5, 10.5] as [number, number],
  nativeBounds: [0, 0, 1, 1] as [number, number, number, number],
  gsd: 10,
});

let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'rsclip-pg-'));
  await PGLITE_BACKEND.start!();
});
afterAll(async () => {
  await PGLITE_BACKEND.stop!();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(POSTGRES_BACKENDS)('$name against the embedded back end on the same data', (backend) => {
  const DIM = 64;
  const model = { ...MODEL, embeddingDim: DIM };
  const N = 3000;
  const stores: IndexStore[] = [];
  let embedded: IndexStore;
  let postgres: IndexStore;
  let pgLocation: string;

  beforeAll(async () => {
    // PGlite is started for the whole file
    if (backend !== PGLITE_BACKEND) await backend.start!();
    embedded = await openIndex(path.join(tmp, `same-data-${POSTGRES_BACKENDS.indexOf(backend)}`), { model, create: true });
    pgLocation = backend.newLocation().location;
    postgres = await openIndex(pgLocation, { model, create: true });
    stores.push(embedded, postgres);
    const changes: CatalogChange[] = Array.from({ length: N }, (_, i) => ({ kind: 'put', file: newFile(`${i % 3 === 0 ? 'a' : 'b'}/img${i}.jpg`, { bytes: i }), vector: randomUnit(DIM) }));
    for (let i = 0; i < N; i += 500) {
      const batch = changes.slice(i, i + 500);
      expect(await postgres.commit(batch)).toEqual(await embedded.commit(batch));
    }
    // a load this large into an empty index drops pgvector's HNSW index; the end of the load builds it
    expect(await hnswIndexExists(pgLocation)).toBe(false);
    await postgres.flush();
    expect(await hnswIndexExists(pgLocation)).toBe(true);
  }, 300_000);
  afterAll(async () => {
    for (const store of stores) await store.close();
    if (backend !== PGLITE_BACKEND) await backend.stop!();
  });

  it('gives the same exact results, filtered or not, and recall@10 of at least 0.98 through the HNSW index', async () => {
    const selections = [{}, { filter: { folder: 'a' } }, { filter: { minBytes: 1500 } }, { excludeIds: [1, 2, 3] }];
    for (const selection of selections) {
      let found = 0;
      let same = 0;
      const queries = 40;
      for (let i = 0; i < queries; i++) {
        const query = randomUnit(DIM);
        const want = await embedded.search(query, 10, { ...selection, exact: true });
        const exact = await postgres.search(query, 10, { ...selection, exact: true });
        // rank by rank the same score to the embedded catalog's half precision; ids may swap only within such a tie
        exact.forEach((r, n) => expect(Math.abs(r.score - want[n]!.score)).toBeLessThan(1e-3));
        same += exact.filter((r) => want.some((w) => w.id === r.id)).length;
        const ann = await postgres.search(query, 10, selection);
        expect(ann).toHaveLength(10);
        found += ann.filter((r) => want.some((w) => w.id === r.id)).length;
      }
      expect(same / (queries * 10), JSON.stringify(selection)).toBeGreaterThanOrEqual(0.99);
      expect(found / (queries * 10), JSON.stringify(selection)).toBeGreaterThanOrEqual(0.98);
    }
    expect(await postgres.countItems({ filter: { folder: 'a' } })).toBe(await embedded.countItems({ filter: { folder: 'a' } }));
  }, 300_000);

  it('answers an unfiltered search, and one over a selection counted before, in one round trip; a search that fails there leaves its connection clean', async () => {
    const query = randomUnit(DIM);
    const folder = { filter: { folder: 'a' } };
    // a request counts its selection before it searches (1,000 items: scored exactly, by their keys)
    expect(await postgres.countItems(folder)).toBe(1000);
    const send = pg.Client.prototype.query;
    const sent = vi.spyOn(pg.Client.prototype, 'query');
    try {
      const found = await postgres.search(query, 10, { ef: 40 });
      expect(sent).toHaveBeenCalledTimes(1);
      expect(found).toHaveLength(10);
      sent.mockClear();
      const inFolder = await postgres.search(query, 10, folder);
      expect(sent).toHaveBeenCalledTimes(1);
      const want = await embedded.search(query, 10, { ...folder, exact: true });
      expect(inFolder).toHaveLength(10);
      inFolder.forEach((r, n) => expect(Math.abs(r.score - want[n]!.score)).toBeLessThan(1e-3));
      sent.mockClear();
      // a NaN query, which the store refuses before sending it, made to reach the server all the
      // same: pgvector refuses it there, and the script's implicit transaction ends with its error
      await expectRsclipError(postgres.search(query.map((x, i) => (i === 0 ? Number.NaN : x)), 10), 'BAD_QUERY', /NaN at position 0/);
      expect(sent).not.toHaveBeenCalled();
      const withNaN = (sql: string) => sql.replace(/'\[[^,\]]+/, "'[NaN");
      sent.mockImplementationOnce(function (this: pg.Client, query: unknown, ...rest: unknown[]) {
        const changed = typeof query === 'string' ? withNaN(query) : { ...(query as pg.QueryConfig), text: withNaN((query as pg.QueryConfig).text) };
        return (send as (...args: unknown[]) => unknown).call(this, changed, ...rest);
      } as typeof send);
      await expect(postgres.search(query, 10)).rejects.toThrow(/NaN/);
      expect(sent).toHaveBeenCalledTimes(1);
    } finally {
      sent.mockRestore();
    }
    // every pooled connection answers again (one left in an aborted transaction would refuse)
    const answers = await Promise.all(Array.from({ length: 8 }, () => postgres.search(query, 10)));
    for (const answer of answers) expect(answer.map((r) => r.id)).toEqual(answers[0]!.map((r) => r.id));
  });

  it('answers a search over a larger selection counted before in one round trip, through the graph; once the index changed, it reads the selection again', async () => {
    // more items than are scored exactly (2,000), so the graph orders them: 2,500 of the 3,000, and
    // all of them through a glob (a regular expression with backslashes) and a list of formats
    const large = { filter: { minBytes: 500 } };
    const selections = [large, { filter: { pathGlob: 'img*.jpg', formats: ['jpeg', 'png'] } }];
    const sent = vi.spyOn(pg.Client.prototype, 'query');
    try {
      for (const selection of selections) {
        expect(await postgres.countItems(selection)).toBe(await embedded.countItems(selection));
        let found = 0;
        for (let i = 0; i < 10; i++) {
          const query = randomUnit(DIM);
          sent.mockClear();
          const ann = await postgres.search(query, 10, selection);
          expect(sent).toHaveBeenCalledTimes(1);
          const want = await embedded.search(query, 10, { ...selection, exact: true });
          expect(ann).toHaveLength(10);
          found += ann.filter((r) => want.some((w) => w.id === r.id)).length;
        }
        expect(found / 100, JSON.stringify(selection)).toBeGreaterThanOrEqual(0.95);
      }
      // a new item of the selection at the query: what was kept is stale, and the search finds it through a fresh reading
      const query = randomUnit(DIM);
      const change: CatalogChange[] = [{ kind: 'put', file: newFile('b/new.jpg', { bytes: 2999 }), vector: query }];
      const [committed] = await postgres.commit(change);
      expect([committed]).toEqual(await embedded.commit(change));
      sent.mockClear();
      const [first] = await postgres.search(query, 10, large);
      expect(sent.mock.calls.length).toBeGreaterThan(1);
      expect(first).toEqual({ id: committed!.itemIds[0], score: expect.closeTo(1, 3) });
    } finally {
      sent.mockRestore();
    }
  });

  it('writes the values of a selection into its SQL as literals that the server reads back exactly', async () => {
    const texts = ["it's", 'back\\slash', "both \\' and ''", '', 'ünïcødé ✓', '$1 ? ;--'];
    const ids = [0, -1, 2 ** 53 - 1];
    const numbers = [0.1, -2.5e-7, 1e21, 1_700_000_000_000];
    const sql = withLiterals('SELECT ?::text[] AS texts, ?::bigint[] AS ids, ?::bigint[] AS none, ARRAY[?, ?, ?, ?]::float8[] AS numbers, ?::text AS one', [texts, ids, [], ...numbers, texts[2]]);
    const { rows } = await withDatabase(pgLocation, (client) => client.query(sql!));
    expect(rows[0]).toEqual({ texts, ids: ids.map(String), none: [], numbers, one: texts[2] });
    // values the conditions never bind, and a count that does not match, have no literal form
    expect(withLiterals('?', [Number.NaN])).toBeUndefined();
    expect(withLiterals('?', [{}])).toBeUndefined();
    expect(withLiterals('? = ?', ['a'])).toBeUndefined();
  });

  it('selects with every kind of filter written in as literals what it selects with the values bound', async () => {
    const specs = [
      ['folder=a'],
      ['path=img1*.jpg'],
      ["path=it's \\*.jpg"],
      ['format=jpeg,png', 'minBytes=500', 'maxBytes=2500', 'minWidth=100', 'minHeight=100'],
      ['after=2023-11-01', 'before=2024-01-01T00:00:00Z'],
      ['since=2020-01-01', 'until=2030-01-01'],
      ['bbox=12.3,41.8,12.6,42.0'],
      ['label=river|lake', 'year=2010..2015', "field.owner=o'brien"],
    ];
    const places = [1, 5, 9, 2999];
    const from = 'vectors v JOIN items it ON it.id = v.item_id JOIN files f ON f.id = it.file_id';
    await withDatabase(pgLocation, async (client, schema) => {
      await client.query(`SET search_path TO "${schema}", public`);
      for (const spec of specs) {
        for (const selection of [{ filter: parseFilterSpecs(spec) }, { filter: parseFilterSpecs(spec), excludeIds: [3, 6] }]) {
          const { where, params } = await selectionToSql(selection, () => Promise.resolve(places));
          const bound = await client.query(numbered(`SELECT count(*)::int AS n, coalesce(sum(it.id), 0)::bigint AS ids FROM ${from} WHERE ${where}`), params);
          const literal = await client.query(`SELECT count(*)::int AS n, coalesce(sum(it.id), 0)::bigint AS ids FROM ${from} WHERE ${withLiterals(where, params)!}`);
          expect(literal.rows[0], spec.join(' ')).toEqual(bound.rows[0]);
        }
      }
      // not only empty answers compared: a folder with a size, and a place, select rows of the data
      for (const [spec, n] of [[['folder=a', 'minBytes=500'], 833], [['bbox=12.3,41.8,12.6,42.0'], places.length]] as const) {
        const { where, params } = await selectionToSql({ filter: parseFilterSpecs(spec) }, () => Promise.resolve(places));
        expect((await client.query(numbered(`SELECT count(*)::int AS n FROM ${from} WHERE ${where}`), params)).rows[0]).toEqual({ n });
      }
    });
  });

  it("keeps 512-d vectors in the table's rows, not its TOAST table, and has an older index keep those it writes from then on there", async () => {
    const wide = { ...MODEL, embeddingDim: 512 };
    const { location, dispose } = backend.newLocation();
    const put = (name: string): CatalogChange => ({ kind: 'put', file: newFile(`${name}.jpg`), vector: randomUnit(512) });
    const storage = () =>
      withDatabase(location, async (client, schema) => (await client.query<{ s: string }>("SELECT attstorage AS s FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'embedding'", [`${schema}.vectors`])).rows[0]!.s);
    const toastChunks = () =>
      withDatabase(location, async (client, schema) => {
        const [{ toast }] = (await client.query<{ toast: string }>('SELECT reltoastrelid::regclass::text AS toast FROM pg_class WHERE oid = to_regclass($1)', [`${schema}.vectors`])).rows as [{ toast: string }];
        return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${toast}`)).rows[0]!.n);
      });
    try {
      const writer = await openIndex(location, { model: wide, create: true });
      await writer.commit([put('a'), put('b')]);
      expect([await storage(), await toastChunks()]).toEqual(['p', 0]);
      // as an index made before: its vectors go out of line
      await withDatabase(location, (client, schema) => client.query(`ALTER TABLE ${schema}.vectors ALTER COLUMN embedding SET STORAGE EXTERNAL`));
      await writer.commit([put('c')]);
      const outOfLine = await toastChunks();
      expect(outOfLine).toBeGreaterThan(0);
      await writer.close();
      await (await openIndex(location, { readonly: true })).close();
      expect(await storage()).toBe('e');
      const next = await openIndex(location, { model: wide });
      expect(await storage()).toBe('p');
      const [added] = await next.commit([put('d')]);
      expect(await toastChunks()).toBe(outOfLine);
      const id = added!.itemIds[0]!;
      const vector = (await next.getVectors([id])).get(id)!;
      expect((await next.search(vector, 1, { exact: true }))[0]!.id).toBe(id);
      await next.close();
    } finally {
      await dispose();
    }
  });

  it('stores the vectors of a commit bit for bit (they travel in binary), the smallest and largest included', async () => {
    const special = [-0, 1.4e-45, -1.1754942e-38, 65504, -65504, 0.1, 1 / 3, -1e-7];
    const vector = Float32Array.from({ length: DIM }, (_, i) => special[i % special.length]! / (1 + Math.floor(i / special.length)));
    const bits = (v: Float32Array) => [...new Uint32Array(v.buffer, v.byteOffset, v.length)];
    const { location, dispose } = backend.newLocation();
    try {
      const writer = await openIndex(location, { model, create: true });
      const [put] = await writer.commit([{ kind: 'put', file: newFile('bits.jpg'), vector }]);
      const id = put!.itemIds[0]!;
      expect(bits((await writer.getVectors([id])).get(id)!)).toEqual(bits(vector));
      await writer.close();
    } finally {
      await dispose();
    }
  });
});

describe('a commit of new files, set-based', () => {
  it('gives what the embedded back end gives when it mixes new files with failures, repeats of a path and updates', async () => {
    const tile = (i: number, lon: number): NewItem => ({ key: `t${i}`, window: { x: i * 100, y: 0, width: 100, height: 100, scale: 1 }, place: place(lon), vector: axis(i) });
    // the third commit removes a.png, by the id the second gave it
    const commits: ((second: CommittedChange[]) => CatalogChange[])[] = [
      () => [{ kind: 'put', file: newFile('old.png'), vector: axis(0) }],
      () => [
        { kind: 'put', file: newFile('a.png', { fields: { label: 'farm' } }), vector: axis(1) },
        { kind: 'fail', file: newFile('b.png'), error: 'truncated PNG' },
        { kind: 'put', file: newFile('b.png'), vector: axis(2) },
        { kind: 'put', file: newFile('scene.tif', { plan: 'tiles', fields: { cloud: 3 } }), items: [tile(0, 10), tile(1, 11)], complete: false },
        { kind: 'put', file: newFile('scene.tif', { plan: 'tiles', fields: { cloud: 3 } }), items: [tile(2, 12)], complete: true },
        { kind: 'put', file: newFile('old.png', { contentHash: 'changed' }), vector: axis(3) },
        { kind: 'put', file: newFile('c.png', { fields: { label: ['dune', 'sand'] } }), vector: axis(4) },
      ],
      (second) => [
        { kind: 'remove', fileId: second[0]!.fileId },
        { kind: 'put', file: newFile('d.png'), vector: axis(5) },
      ],
    ];
    const dumps = [];
    for (const location of [path.join(tmp, 'mixed'), PGLITE_BACKEND.newLocation().location]) {
      const store = await openIndex(location, { model: MODEL, create: true });
      let second: CommittedChange[] = [];
      for (const [n, commit] of commits.entries()) {
        const changes = commit(second);
        const committed = await store.commit(changes);
        expect(committed.map((c) => c.itemIds.length)).toEqual(changes.map((c) => (c.kind !== 'put' ? 0 : 'items' in c ? c.items.length : 1)));
        if (n === 1) second = committed;
      }
      const ids = await store.listItemIds();
      const fields = await store.getFields(ids);
      const fieldsByItem = Object.fromEntries((await store.getItems(ids)).map((item) => [`${item.file.path}#${item.key}`, fields.get(item.id)]));
      await store.close();
      dumps.push({ catalog: await dumpCatalog(location), fieldsByItem });
    }
    expect(dumps[1]).toEqual(dumps[0]);
    expect(dumps[0]!.catalog.itemCount).toBe(7);
  });
});

describe("a bulk load defers pgvector's HNSW index", () => {
  const puts = (from: number, count: number, prefix: string): CatalogChange[] =>
    Array.from({ length: count }, (_, i) => ({ kind: 'put', file: newFile(`${prefix}/img${from + i}.jpg`), vector: randomUnit(DIM) }));

  it('drops it in the first commit into an empty index, and once a writer has added as many vectors as the index held (at least 1,000); searches exactly meanwhile, and builds it at flush or close', async () => {
    const { location, dispose } = PGLITE_BACKEND.newLocation();
    try {
      const writer = await openIndex(location, { model: MODEL, create: true });
      expect(await hnswIndexExists(location)).toBe(true);
      await writer.commit(puts(0, 900, 'a'));
      expect(await hnswIndexExists(location)).toBe(false);
      // without the index, searches scan every vector: the exact answer, filtered or not
      const reader = await openIndex(location, { readonly: true });
      for (const selection of [{}, { filter: { minBytes: 1000 } }]) {
        const query = randomUnit(DIM);
        expect(await reader.search(query, 10, selection)).toEqual(await reader.search(query, 10, { ...selection, exact: true }));
      }
      await reader.close();
      await writer.flush();
      expect(await hnswIndexExists(location)).toBe(true);
      // counted afresh after the build: 500 more than the 900 held keep it, 1,000 more drop it again
      await writer.commit(puts(900, 500, 'b'));
      expect(await hnswIndexExists(location)).toBe(true);
      await writer.commit(puts(1400, 500, 'b'));
      expect(await hnswIndexExists(location)).toBe(false);
      await writer.close();
      expect(await hnswIndexExists(location)).toBe(true);

      // a few vectors added to a larger index keep it
      const updater = await openIndex(location, { model: MODEL });
      await updater.commit(puts(1900, 1200, 'c'));
      expect(await hnswIndexExists(location)).toBe(true);
      await updater.close();
    } finally {
      await dispose();
    }
  }, 120_000);

  it('a writer killed while the index was dropped leaves it missing: the next writer builds it at its flush or close', async () => {
    const { location, dispose } = PGLITE_BACKEND.newLocation();
    try {
      const first = await openIndex(location, { model: MODEL, create: true });
      await first.commit(puts(0, 1000, 'a'));
      await first.close();
      // what a killed writer leaves: the rows, no HNSW index
      await dropHnswIndex(location);
      const flushed = await openIndex(location, { model: MODEL });
      await flushed.flush();
      expect(await hnswIndexExists(location)).toBe(true);
      await flushed.close();
      await dropHnswIndex(location);
      const closed = await openIndex(location, { model: MODEL });
      await closed.commit(puts(1000, 10, 'b'));
      expect(await hnswIndexExists(location)).toBe(false);
      await closed.close();
      expect(await hnswIndexExists(location)).toBe(true);
      // found missing, it is a repair for verify (rsclip doctor); dropped by the writer's own bulk load, it is not;
      // an index of that name in public (another application's) is neither taken for it nor dropped
      await dropHnswIndex(location);
      await withDatabase(location, (client) => client.query('CREATE TABLE public.rsclip_test_other (v int); CREATE INDEX vectors_hnsw ON public.rsclip_test_other (v)'));
      try {
        const verified = await openIndex(location, { model: MODEL });
        await verified.commit(puts(1010, 10, 'c'));
        expect((await verified.verify()).repaired).toEqual(['the HNSW index was missing; built again']);
        expect(await hnswIndexExists(location)).toBe(true);
        await verified.close();
        expect(await withDatabase(location, async (client) => (await client.query<{ exists: boolean }>("SELECT to_regclass('public.vectors_hnsw') IS NOT NULL AS exists")).rows[0]!.exists)).toBe(true);
      } finally {
        await withDatabase(location, (client) => client.query('DROP TABLE public.rsclip_test_other'));
      }
    } finally {
      await dispose();
    }
  }, 120_000);
});

describe('index copy', () => {
  /** An index with every kind of row: failed and removed files, a scene with places and a retired item, fields of both kinds. */
  async function fill(store: IndexStore): Promise<void> {
    const tile = (i: number): NewItem => ({ key: `s1:${i * 100},0`, window: { x: i * 100, y: 0, width: 224, height: 224, scale: 1 }, place: place(i * 3 - 170), vector: axis(i, 0.3) });
    const stac = { item: 'S2A_1', collection: 's2', start: '2023-06-01T10:30:00Z', end: '2023-06-01T10:30:00Z' };
    const [, removed] = await store.commit([
      { kind: 'put', file: newFile('a.jpg'), vector: axis(0) },
      { kind: 'put', file: newFile('b.jpg'), vector: axis(1) },
      { kind: 'fail', file: newFile('bad.jpg'), error: 'truncated JPEG' },
      { kind: 'put', file: newFile('scene.tif', { plan: 'tiles:a', stac, fields: { platform: 'sentinel-2a', cloud: 12.5 } }), items: [0, 1, 2, 3].map(tile), complete: true },
    ]);
    await store.commit([{ kind: 'remove', fileId: removed!.fileId }]);
    // another plan retires two tiles for good
    await store.commit([{ kind: 'put', file: newFile('scene.tif', { plan: 'tiles:b', stac, fields: { platform: 'sentinel-2a' } }), items: [tile(1), tile(3), tile(5)], complete: true }]);
    await store.importFields([{ fileName: 'a.jpg', fields: new Map([['label', ['dune', 'sand']], ['year', [2019]]]) }]);
  }

  async function snapshot(store: IndexStore) {
    const ids = await store.listItemIds();
    const vectors = await store.getVectors(ids);
    return {
      ids,
      items: await store.getItems(ids),
      vectors: ids.map((id) => [...vectors.get(id)!]),
      fields: await store.getFields(ids),
      fieldNames: await store.fieldNames(),
      files: { ok: await store.listFiles('ok'), error: await store.listFiles('error'), removed: await store.listFiles('removed') },
      places: await store.listItemIds({ filter: { bbox: { kind: 'bbox', west: -168, south: 10.2, east: -160, north: 10.4 } } }),
      // what the totals say (PostgreSQL's are kept by triggers, which the copy's inserts fire)
      totals: await (async () => {
        const { images, items, vectors, lastChange } = await store.stats();
        return { images, items, vectors, lastChange, files: await store.countFiles() };
      })(),
      // the schema version and the HNSW index's precision belong to each back end
      meta: { ...store.meta, schemaVersion: 0, precision: undefined },
    };
  }

  /** A directory's graph file is there and covers the last commit: readers load it rather than build the graph at every start. */
  function expectGraphFileCurrent(dir: string): void {
    expect(existsSync(path.join(dir, 'vectors.hnsw'))).toBe(true);
    const db = new Database(path.join(dir, 'catalog.sqlite'), { readonly: true });
    const meta = new Map((db.prepare("SELECT key, value FROM meta WHERE key IN ('commit_seq', 'hnsw_seq')").all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    db.close();
    expect(meta.get('hnsw_seq')).toBe(meta.get('commit_seq'));
  }

  /** A filled embedded index at `tmp/name`, and its snapshot. */
  async function filledOrigin(name: string): Promise<{ origin: string; expected: Awaited<ReturnType<typeof snapshot>> }> {
    const origin = path.join(tmp, name);
    const source = await openIndex(origin, { model: MODEL, create: true });
    await fill(source);
    const expected = await snapshot(source);
    await source.close();
    return { origin, expected };
  }

  it('moves an index to PostgreSQL and back, and between directories, exactly, ids never given out twice', async () => {
    const { origin, expected } = await filledOrigin('origin');
    const highest = Math.max(...expected.ids);
    expect(expected.places).toHaveLength(2);

    const pgUrl = PGLITE_BACKEND.newLocation().location;
    const back = path.join(tmp, 'back');
    const copied = path.join(tmp, 'copied');
    for (const [from, to] of [[origin, pgUrl], [pgUrl, back], [origin, copied]] as const) {
      const summary = await copyIndex(from, to);
      expect(summary).toMatchObject({ resumed: false, rows: { files: 4, items: 7 } });
      if (!to.startsWith('postgres')) expectGraphFileCurrent(to);
      const store = await openIndex(to, { readonly: true });
      expect(await snapshot(store)).toEqual(expected);
      expect((await store.search(axis(3, 0.3), 1))[0]!.id).toBe(expected.ids[expected.ids.length - 2]);
      await store.close();
    }
    // the copies continue the numbering after every id the source ever gave out (retired ones too)
    for (const to of [pgUrl, back]) {
      const writer = await openIndex(to, { model: MODEL });
      const [added] = await writer.commit([{ kind: 'put', file: newFile('new.jpg'), vector: axis(7) }]);
      expect(added!.itemIds[0]).toBe(highest + 1);
      await writer.close();
    }
    // the same copy again finds it finished; a copy from elsewhere is refused
    expect(await copyIndex(origin, copied)).toMatchObject({ alreadyCopied: true, rows: { files: 0, items: 0, vectors: 0 } });
    await expectRsclipError(copyIndex(pgUrl, copied), 'BAD_INPUT', /already holds an index/);
  }, 120_000);

  it('continues a copy that stopped half-way, and an unfinished copy is no index', async () => {
    const { origin, expected } = await filledOrigin('origin-2');
    for (const to of [PGLITE_BACKEND.newLocation().location, path.join(tmp, 'halfway')]) {
      let pages = 0;
      const stopAt = new Error('stopped');
      await expect(
        copyIndex(origin, to, {
          pageSize: 2,
          onProgress: () => {
            if (++pages === 3) throw stopAt;
          },
        }),
      ).rejects.toBe(stopAt);
      // named as the copy it is, on both back ends, with the command that finishes it (not "drop the schema and index again")
      const unfinished = new RegExp(`^index .* is an unfinished copy of ${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: an \`rsclip index copy\` into it stopped before it finished$`);
      await expectRsclipError(openIndex(to, { readonly: true }), 'INDEX_CORRUPT', unfinished);
      await expectRsclipError(openIndex(to, { model: MODEL, create: true }), 'INDEX_CORRUPT', unfinished);
      await expectRsclipError(readIndexMeta(to), 'INDEX_CORRUPT', unfinished);
      const hint = await readIndexMeta(to).catch((error: RsclipError) => error.hint);
      expect(hint).toBe(`run \`rsclip index copy --from ${origin} --to ${to.startsWith('postgres') ? `'${to}'` : to}\` again: it goes on where it stopped`);
      const summary = await copyIndex(origin, to, { pageSize: 2 });
      expect(summary.resumed).toBe(true);
      if (!to.startsWith('postgres')) expectGraphFileCurrent(to);
      expect(summary.rows.files).toBe(0); // the files were all written before it stopped
      const store = await openIndex(to, { readonly: true });
      expect(await snapshot(store)).toEqual(expected);
      await store.close();
    }
  }, 120_000);

  it('refuses to make an index, or a copy, in a schema that holds tables of its tables\' names, leaving them alone', async () => {
    const { origin } = await filledOrigin('origin-occupied');
    const { location, dispose } = PGLITE_BACKEND.newLocation();
    try {
      await withDatabase(location, (client, schema) => client.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.files (id int PRIMARY KEY, name text); INSERT INTO ${schema}.files VALUES (1, 'mine')`));
      const refusal = /^schema "\w+" of .* holds tables that are not an rsclip index but have its tables' names \(files\)$/;
      await expectRsclipError(openIndex(location, { model: MODEL, create: true }), 'BAD_INPUT', refusal);
      await expectRsclipError(copyIndex(origin, location), 'BAD_INPUT', refusal);
      expect(await withDatabase(location, async (client, schema) => (await client.query(`SELECT name FROM ${schema}.files`)).rows)).toEqual([{ name: 'mine' }]);
    } finally {
      await dispose();
    }
  }, 120_000);

  it('refuses to continue, or to call finished, a copy whose source changed since it began', async () => {
    const { origin } = await filledOrigin('origin-changing');
    const change = async (name: string) => {
      const writer = await openIndex(origin, { model: MODEL });
      await writer.commit([{ kind: 'put', file: newFile(name), vector: axis(6) }]);
      await writer.close();
    };
    for (const to of [PGLITE_BACKEND.newLocation().location, path.join(tmp, 'changing-halfway')]) {
      let pages = 0;
      await expect(copyIndex(origin, to, { pageSize: 2, onProgress: () => { if (++pages === 3) throw new Error('stopped'); } })).rejects.toThrow('stopped');
      await change(`during-${pages}-${to.length}.jpg`);
      await expectRsclipError(copyIndex(origin, to), 'BAD_INPUT', /changed since the unfinished copy into .* began/);
    }
    for (const to of [PGLITE_BACKEND.newLocation().location, path.join(tmp, 'changing-finished')]) {
      await copyIndex(origin, to);
      expect(await copyIndex(origin, to)).toMatchObject({ alreadyCopied: true });
      await change(`after-${to.length}.jpg`);
      await expectRsclipError(copyIndex(origin, to), 'BAD_INPUT', /changed since the finished copy into .* began/);
    }
  }, 120_000);

  it('copies into another vector engine when asked: the same rows and answers, the new engine recorded and built', async () => {
    const { origin, expected } = await filledOrigin('origin-engine');
    const engine = { name: 'hnswlib', M: 24, efConstruction: 300 } as const;
    const dir = path.join(tmp, 'other-engine');
    const pgUrl = PGLITE_BACKEND.newLocation().location;
    const withoutEngine = (shot: Awaited<ReturnType<typeof snapshot>>) => ({ ...shot, meta: { ...shot.meta, engine: undefined } });
    for (const to of [dir, pgUrl]) {
      await copyIndex(origin, to, { engine });
      const store = await openIndex(to, { readonly: true });
      const copied = await snapshot(store);
      expect(copied.meta.engine).toEqual(resolveEngine(engine));
      expect(withoutEngine(copied)).toEqual(withoutEngine(expected));
      expect((await store.search(axis(3, 0.3), 1))[0]!.id).toBe(expected.ids[expected.ids.length - 2]);
      await store.close();
    }
    // the directory's graph file is hnswlib's, at its last commit; pgvector's index has the new M and efc
    expectGraphFileCurrent(dir);
    expect(() => checkGraphFile(resolveEngine(engine), path.join(dir, 'vectors.hnsw'), DIM)).not.toThrow();
    const indexDef = await withDatabase(pgUrl, async (client, schema) => (await client.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'vectors_hnsw'", [schema])).rows[0]!.indexdef);
    expect(indexDef).toMatch(/m='?24'?, ef_construction='?300'?/);
    // a finished copy is not made again with another engine
    await expectRsclipError(copyIndex(origin, dir, { engine: { name: 'usearch' } }), 'BAD_INPUT', /with the engine hnswlib:M24:efc300, not usearch:f16:M16:efc200/);
    expect(await copyIndex(origin, dir, { engine })).toMatchObject({ alreadyCopied: true });
  }, 120_000);

  it("builds pgvector's index within pgvector's bounds for an engine beyond them, created or copied", async () => {
    const { origin } = await filledOrigin('origin-wide-engine');
    const engine = { name: 'hnswlib', M: 128, efConstruction: 4096 } as const;
    const copied = PGLITE_BACKEND.newLocation().location;
    await copyIndex(origin, copied, { engine });
    const created = PGLITE_BACKEND.newLocation().location;
    await (await openIndex(created, { model: MODEL, create: true, engine: { name: 'hnswlib', M: 40, efConstruction: 50 } })).close();
    const indexDef = (url: string) => withDatabase(url, async (client, schema) => (await client.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'vectors_hnsw'", [schema])).rows[0]!.indexdef);
    expect(await indexDef(copied)).toMatch(/m='?100'?, ef_construction='?1000'?/);
    // ef_construction at least twice m
    expect(await indexDef(created)).toMatch(/m='?40'?, ef_construction='?80'?/);
    const store = await openIndex(copied, { readonly: true });
    expect(store.meta.engine).toEqual(resolveEngine(engine));
    await store.close();
  }, 120_000);

  it('finishes a copy into a directory that stopped before its graph file was built, when run again', async () => {
    const { origin, expected } = await filledOrigin('origin-3');
    const to = path.join(tmp, 'graph-unbuilt');
    const stopAt = new Error('stopped');
    await expect(
      copyIndex(origin, to, {
        onGraphBuild: () => {
          throw stopAt;
        },
      }),
    ).rejects.toBe(stopAt);
    expect(existsSync(path.join(to, 'vectors.hnsw'))).toBe(false);
    let building = 0;
    const summary = await copyIndex(origin, to, { onGraphBuild: () => building++ });
    expect(summary).toMatchObject({ alreadyCopied: true, resumed: true, rows: { files: 0, items: 0, vectors: 0 } });
    expect(building).toBe(1);
    expectGraphFileCurrent(to);
    const store = await openIndex(to, { readonly: true });
    expect(await snapshot(store)).toEqual(expected);
    await store.close();
  }, 120_000);
});

// PGlite is one session (pglite-socket shares it among its clients): two writers need a real server
const SERVERS = POSTGRES_BACKENDS.filter((backend) => backend !== PGLITE_BACKEND);
describe.skipIf(SERVERS.length === 0)('the write lock on a PostgreSQL server with pgvector [needs one]', () => {
  it.each(SERVERS)('lets one writer in at a time, and readers in meanwhile: $name', async (backend) => {
    await backend.start!();
    const { location, dispose } = backend.newLocation();
    try {
      const writer = await openIndex(location, { model: MODEL, create: true });
      await expectRsclipError(openIndex(location, { model: MODEL }), 'INDEX_LOCKED');
      await expectRsclipError(copyIndex(location, `${location}_copy`), 'INDEX_LOCKED');
      const reader = await openIndex(location, { readonly: true });
      await writer.close();
      await (await openIndex(location, { model: MODEL })).close();
      await reader.close();
    } finally {
      await dispose();
      await backend.stop!();
    }
  });
});
