/**
 * The PostgreSQL back end of IndexStore: the catalog, the vectors (pgvector, an HNSW index over
 * them in half precision) and the footprints in one schema of a database that any number of
 * readers (`rsclip serve` on many machines, read replicas) share; one writer at a time holds
 * the index's advisory lock. Every call reads the database as it is: readers see a commit as
 * soon as it is made.
 *
 * Search: a narrow selection, or `exact`, is scored exactly over the full-precision vectors;
 * otherwise pgvector's HNSW index is walked with iterative index scans (relaxed order, then
 * re-ranked by the exact score), so a filter does not shorten the list; should the scan still
 * stop short (hnsw.max_scan_tuples), the query is answered exactly instead. Neither choice
 * counts the whole selection: each reads it only as far as the choice needs (LIMIT n + 1), or
 * uses what this store read of it since the index last changed (countItems keeps its size, and
 * its items when few: an exact search then scores those by their keys, without the filter).
 * An unfiltered search, and one over a kept selection (its items by their keys; a larger one's
 * WHERE clause with its values written in, through the graph), is one round trip (a script with
 * its settings; the statement checks that the index is still at the kept version).
 */
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { RsclipError } from '../../errors.js';
import { MicroBatcher } from '../../micro-batcher.js';
import type { WindowPlace } from '../../geo/footprint.js';
import { compilePlace, type CompiledPlace, type Place } from '../../geo/place.js';
import { bestFirst, checkVector, type ScoredId } from '../../vector-math.js';
import { hnswBuildOf } from '../engines.js';
import type {
  CatalogChange,
  CommittedChange,
  FieldImportSummary,
  FieldRecord,
  FieldValue,
  FileRecord,
  FileStatus,
  IndexStats,
  IndexStore,
  ItemRecord,
  ItemSelection,
  KnownFile,
  OpenIndexOptions,
  ReusableFile,
  SearchOptions,
  StoreDescription,
  VerifyReport,
} from '../types.js';
import { DEFAULT_EF } from '../graph-index.js';
import { spreadItemSample } from '../item-sample.js';
import { checkPutVectors, checkSearchArgs } from '../argument-checks.js';
import { applyChanges } from './commit.js';
import type { Database, Queryable } from './database.js';
import { selectionKey, type SqlCondition } from '../filter-compiler.js';
import { allButExcluded, numbered, restricts, selectionToSql, withLiterals } from './filter-sql.js';
import { connectPostgresIndex, setMeta, type PostgresIndexMeta } from './open.js';
import { FIELD_NAMES_SQL, fileItemsSql, filesCounted, filesInArchive, groupFieldRows, isoTime, ITEM_COLUMNS, numericValue, ROOTS_SQL, toFileRecord, toIndexTotals, toItemRecord, toKnownFile, totalsRecounted, type FileRow, type IndexTotals, type ItemFieldRow, type ItemRow, type TotalRow } from '../catalog-rows.js';
import { exactSelectionLimit } from '../exact-selection.js';
import { CHANGE_TRIGGERS, CHANGES_TOTAL, changeCountSql, countedTotalsSql, indexedVector, PG_TOTALS_VERSION, q, vectorIndexName } from './schema.js';
import { findReusableFiles, MAX_LOOKUPS_PER_QUERY, type ReusableLookup } from './reusable-files.js';
import { VectorIndexUpkeep } from './vector-index-upkeep.js';
import { sentToVector, sentVector, VectorArrays, vectorToText } from './vector-wire.js';

/**
 * hnsw.ef_search when the caller gives none: pgvector's graph at hnswlib's default (64) kept
 * recall@10 at 0.97 on 3,000 random 64-d vectors (test/store/postgres.test.ts), at 128 at 0.9975.
 */
const DEFAULT_EF_SEARCH = 2 * DEFAULT_EF;
/** pgvector's largest hnsw.ef_search. */
const MAX_EF_SEARCH = 1000;
/** Vectors per page while iterating every vector. */
const VECTOR_PAGE = 1000;
const FROM_SELECTED = 'vectors v JOIN items it ON it.id = v.item_id JOIN files f ON f.id = it.file_id';
/** Filtered selections a store keeps what it read of (per process), and the bytes that may take (keys, item ids and WHERE clauses). */
export const SELECTIONS_KEPT = { entries: 256, bytes: 64 * 1024 * 1024 };
/**
 * The planner cannot estimate most filters (globs, id lists, places) and, guessing a few rows,
 * would score the whole selection and sort it: exact search. A selection searched through the
 * graph is known to be large, so the graph's order is what it must use (a sort stays possible,
 * only costed out).
 */
const GRAPH_ORDER_ONLY = 'SET LOCAL enable_sort = off';
/** Longest WHERE clause kept to be sent with every search of its selection (a place's item ids are part of it). */
const MAX_GRAPH_WHERE = 64 * 1024;

/** What a store read of a filtered selection at one version of the index's rows: its size, and its items where a search scores them exactly. */
interface KeptSelection {
  /** The index's change count when it was read (schema.ts changeCountSql). */
  version: number;
  count: number;
  ids?: number[];
  /** `ids` as a condition with the ids written in, for the one-round-trip search: written at its first search, once. */
  idsWhere?: string;
  /**
   * A selection searched through the graph (more items than are scored exactly): its WHERE
   * clause with the values written in, which a search sends with the query in one script.
   */
  graphWhere?: string;
}

export async function openPostgresIndex(location: string, options: OpenIndexOptions = {}): Promise<PostgresStore> {
  const { database, meta } = await connectPostgresIndex(location, options);
  return new PostgresStore(meta, database, options.readonly ?? false);
}

export class PostgresStore implements IndexStore {
  private closed = false;
  /** The tail of the chain that runs writes one at a time. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly compiledPlaces = new Map<string, CompiledPlace>();
  private readonly vectorIndex: VectorIndexUpkeep;
  private readonly vectorArrays = new VectorArrays();
  /** Filtered selections by their selectionKey, each as last read. */
  private readonly keptSelections = new LRUCache<string, KeptSelection>({
    max: SELECTIONS_KEPT.entries,
    maxSize: SELECTIONS_KEPT.bytes,
    sizeCalculation: (kept, key) => 2 * (key.length + (kept.idsWhere?.length ?? 0) + (kept.graphWhere?.length ?? 0)) + 8 * (kept.ids?.length ?? 0) + 16,
  });
  private readonly reusableFiles = new MicroBatcher<ReusableLookup, ReusableFile | undefined>(
    (group) => {
      this.assertOpen();
      return findReusableFiles(this.database, group);
    },
    { maxBatch: MAX_LOOKUPS_PER_QUERY },
  );

  constructor(
    readonly meta: PostgresIndexMeta,
    private readonly database: Database,
    readonly readonly: boolean,
  ) {
    const { M, efConstruction } = hnswBuildOf(meta.engine);
    this.vectorIndex = new VectorIndexUpkeep({ schema: database.location.schema, dim: meta.embeddingDim, precision: meta.precision, m: M, efConstruction });
  }

  describe(): StoreDescription {
    return { backend: 'postgres', location: this.database.location.shown };
  }

  private assertOpen(): void {
    if (this.closed) throw new RsclipError('INDEX_CLOSED', `index ${this.database.location.shown} is closed`, { hint: 'open it again' });
  }

  private assertWritable(what: string): void {
    this.assertOpen();
    if (this.readonly) throw new RsclipError('INDEX_READ_ONLY', `cannot ${what}: index ${this.database.location.shown} was opened read-only`, { hint: 'open it without readonly' });
  }

  private read<T>(body: (db: Queryable) => Promise<T>, settings?: string[]): Promise<T> {
    this.assertOpen();
    return this.database.transaction('read', body, settings);
  }

  /** Runs `body` in a write transaction after every write queued before it. */
  private write<T>(what: string, body: (db: Queryable) => Promise<T>): Promise<T> {
    const run = this.writes.then(() => {
      this.assertWritable(what);
      return this.database.transaction('write', body);
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async rows<T>(db: Queryable, sql: string, params: unknown[] = []): Promise<T[]> {
    return (await db.query(sql, params)).rows as T[];
  }

  /**
   * One read statement outside a transaction: one round trip where a read transaction takes
   * three (a search request's count, items and fields are each one statement). Its SQL names the
   * tables with their schema (`this.schema`): no transaction sets the search_path.
   */
  private async readOne<T>(sql: string, params: unknown[]): Promise<T[]> {
    this.assertOpen();
    return (await this.database.readStatement(sql, params)).rows as T[];
  }

  /** A statement with schema-qualified names: in the transaction `db`, or on its own (readOne). */
  private statement<T>(db: Queryable | undefined, sql: string, params: unknown[]): Promise<T[]> {
    return db ? this.rows<T>(db, sql, params) : this.readOne<T>(sql, params);
  }

  /** The index's schema, quoted: the prefix of the tables' names in statements outside a transaction. */
  private get schema(): string {
    return q(this.database.location.schema);
  }

  // places: GiST box candidates, then the exact test of the embedded back end

  private compiled(place: Place): CompiledPlace {
    const key = JSON.stringify(place);
    let compiled = this.compiledPlaces.get(key);
    if (!compiled) {
      compiled = compilePlace(place);
      if (this.compiledPlaces.size >= 16) this.compiledPlaces.delete(this.compiledPlaces.keys().next().value!);
      this.compiledPlaces.set(key, compiled);
    }
    return compiled;
  }

  private async placeIds(db: Queryable, place: Place): Promise<number[]> {
    const compiled = this.compiled(place);
    if (compiled.boxes.length === 0) return [];
    const query = (op: string) => compiled.boxes.map(() => `box ${op} box(point(?, ?), point(?, ?))`).join(' OR ');
    const params = compiled.boxes.flatMap((b) => [b.west, b.south, b.east, b.north]);
    // a footprint whose box lies inside a bbox place surely meets it
    const inside = place.kind === 'bbox' ? query('<@') : 'false';
    const candidates = await this.rows<{ id: number; inside: boolean }>(
      db,
      numbered(`SELECT item_id AS id, bool_or(${inside}) AS inside FROM item_boxes WHERE ${query('&&')} GROUP BY item_id`),
      place.kind === 'bbox' ? [...params, ...params] : params,
    );
    const matched = candidates.filter((c) => c.inside).map((c) => c.id);
    const toTest = candidates.filter((c) => !c.inside).map((c) => c.id);
    if (toTest.length > 0) {
      for (const row of await this.rows<{ id: number; place: string }>(db, 'SELECT item_id AS id, place FROM item_places WHERE item_id = ANY($1::bigint[])', [toTest])) {
        if (compiled.matches((JSON.parse(row.place) as WindowPlace).footprint)) matched.push(row.id);
      }
    }
    return matched;
  }

  private selection(db: Queryable, selection: ItemSelection): Promise<SqlCondition> {
    return selectionToSql(selection, (place) => this.placeIds(db, place));
  }

  // reading

  /** The index's totals: kept by triggers, or counted in an index from before them. */
  private async totals(db: Queryable): Promise<IndexTotals> {
    return toIndexTotals(await this.rows<TotalRow>(db, this.meta.schemaVersion >= PG_TOTALS_VERSION ? 'SELECT name, value FROM totals' : countedTotalsSql(this.database.location.schema)));
  }

  countFiles(status?: FileStatus): Promise<number> {
    return this.read(async (db) => filesCounted(await this.totals(db), status));
  }

  findFileByPath(absolutePath: string): Promise<FileRecord | undefined> {
    const resolved = path.resolve(absolutePath);
    return this.read(async (db) => {
      const rows = await this.rows<FileRow>(db, "SELECT * FROM files WHERE file_name = $1 ORDER BY status = 'ok' DESC, id", [path.basename(resolved)]);
      return rows.map(toFileRecord).find((r) => r.absolutePath === resolved);
    });
  }

  async countItems(selection: ItemSelection = {}): Promise<number> {
    // every item less a few, or a filter's selection read since the index last changed: one statement
    if (allButExcluded(selection)) return this.countAllButExcluded(undefined, selection);
    return (await this.keptSelection(undefined, selection))?.count ?? this.read((db) => this.count(db, selection));
  }

  private async count(db: Queryable, selection: ItemSelection): Promise<number> {
    return allButExcluded(selection) ? this.countAllButExcluded(db, selection) : (await this.readSelection(db, selection)).count;
  }

  /**
   * Every searchable item less the excluded ones the index holds, in one statement (`db`: as
   * `statement`'s): the totals' count of vectors, where the index keeps totals. A search counts
   * what it may return, and counting the rows cost every request a scan of the vectors (ad hoc,
   * 100k 512-d items on a local server: 101 ms p50, 362 ms with two ids excluded).
   */
  private async countAllButExcluded(db: Queryable | undefined, selection: ItemSelection): Promise<number> {
    const s = this.schema;
    const total = this.meta.schemaVersion >= PG_TOTALS_VERSION ? `(SELECT value FROM ${s}.totals WHERE name = 'vectors')` : `(SELECT count(*) FROM ${s}.vectors)`;
    const sql = `SELECT ${total} - (SELECT count(*) FROM ${s}.vectors WHERE item_id = ANY($1::bigint[])) AS n`;
    return (await this.statement<{ n: number }>(db, sql, [[...new Set(selection.excludeIds ?? [])]]))[0]!.n;
  }

  /**
   * A filtered selection's size, and its items when few enough to be scored exactly: read once
   * per version of the index's rows, then kept. The items are read only as far as the exact
   * threshold (the size of a larger selection is counted then).
   */
  private async readSelection(db: Queryable, selection: ItemSelection): Promise<Omit<KeptSelection, 'version'>> {
    const version = await this.changeCount(db);
    const kept = this.keptAt(version, selection);
    if (kept) return kept;
    const { where, params } = await this.selection(db, selection);
    const threshold = await this.exactThreshold(db);
    const ids = (await this.rows<{ id: number }>(db, numbered(`SELECT it.id FROM ${FROM_SELECTED} WHERE ${where} LIMIT ?`), [...params, threshold + 1])).map((r) => r.id);
    if (ids.length <= threshold) return this.keep(selection, version, { count: ids.length, ids });
    const [{ n }] = (await this.rows<{ n: number }>(db, numbered(`SELECT count(*) AS n FROM ${FROM_SELECTED} WHERE ${where}`), params)) as [{ n: number }];
    const graphWhere = withLiterals(where, params, MAX_GRAPH_WHERE);
    return this.keep(selection, version, { count: n, ...(graphWhere ? { graphWhere } : {}) });
  }

  /** `read` kept as the selection at `version` (an index without a change count keeps nothing). */
  private keep(selection: ItemSelection, version: number | undefined, read: Omit<KeptSelection, 'version'>): Omit<KeptSelection, 'version'> {
    if (version !== undefined) this.keptSelections.set(selectionKey(selection), { version, ...read });
    return read;
  }

  /** Selections of at most this many items are scored exactly; the planner's estimate of the index's size is enough to choose. */
  private async exactThreshold(db: Queryable): Promise<number> {
    const [{ total }] = (await this.rows<{ total: number }>(db, "SELECT greatest(reltuples, 0)::float8 AS total FROM pg_class WHERE oid = to_regclass('vectors')")) as [{ total: number }];
    return exactSelectionLimit(total);
  }

  /**
   * The index's change count, the version of what is kept of a selection (`db`: as `statement`'s):
   * counting a filter's selection scans it, at every request (`bench/postgres.ts`, a third of 100k
   * items on a local server: a filtered search with its count took 58-62 ms p50, 11-12 ms with the
   * count kept); reading the change count is one row. Undefined in an index without one (until a
   * writer opens it).
   */
  private async changeCount(db: Queryable | undefined): Promise<number | undefined> {
    if (this.meta.schemaVersion < PG_TOTALS_VERSION) return undefined;
    const [row] = await this.statement<{ value: number }>(db, `SELECT value FROM ${this.schema}.totals WHERE name = $1`, [CHANGES_TOTAL]);
    return row?.value;
  }

  /** What this store read of a filtered selection at this version of the index, if it did. */
  private keptAt(version: number | undefined, selection: ItemSelection): KeptSelection | undefined {
    const kept = version === undefined ? undefined : this.keptSelections.get(selectionKey(selection));
    return kept?.version === version ? kept : undefined;
  }

  /** What this store read of a filtered selection since the index last changed, if it did (`db`: as `statement`'s). */
  private async keptSelection(db: Queryable | undefined, selection: ItemSelection): Promise<KeptSelection | undefined> {
    return this.keptAt(await this.changeCount(db), selection);
  }

  /** Whether more than `n` rows are selected by `from` (a FROM clause with its WHERE): reads at most n + 1 of them, never counts them all. */
  private async selectsMoreThan(db: Queryable, from: string, params: unknown[], n: number): Promise<boolean> {
    const [row] = await this.rows<{ n: number }>(db, numbered(`SELECT count(*) AS n FROM (SELECT 1 FROM ${from} LIMIT ?) s`), [...params, n + 1]);
    return row!.n > n;
  }

  listItemIds(selection: ItemSelection = {}): Promise<number[]> {
    return this.read(async (db) => {
      const { where, params } = await this.selection(db, selection);
      return (await this.rows<{ id: number }>(db, numbered(`SELECT it.id FROM ${FROM_SELECTED} WHERE ${where} ORDER BY it.id`), params)).map((r) => r.id);
    });
  }

  async getItems(ids: readonly number[]): Promise<ItemRecord[]> {
    const s = this.schema;
    const rows = await this.readOne<ItemRow>(
      `SELECT f.*, ${ITEM_COLUMNS}, p.place AS item_place
       FROM ${s}.items it JOIN ${s}.files f ON f.id = it.file_id LEFT JOIN ${s}.item_places p ON p.item_id = it.id
       WHERE it.id = ANY($1::bigint[]) AND it.key IS NOT NULL`,
      [ids],
    );
    const byId = new Map(rows.map((row) => [row.item_id, toItemRecord(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  fileItems(fileId: number): Promise<ItemRecord[]> {
    return this.read(async (db) => {
      const rows = await this.rows<ItemRow>(db, fileItemsSql('$1'), [fileId]);
      return rows.map(toItemRecord);
    });
  }

  fileItemKeys(fileId: number): Promise<Set<string>> {
    return this.read(async (db) => {
      const rows = await this.rows<{ key: string }>(db, 'SELECT it.key FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = $1 AND it.key IS NOT NULL', [fileId]);
      return new Set(rows.map((r) => r.key));
    });
  }

  async getVectors(ids: readonly number[]): Promise<Map<number, Float32Array>> {
    const rows = await this.readOne<{ id: number; embedding: Buffer }>(`SELECT item_id AS id, ${sentVector('embedding')} AS embedding FROM ${this.schema}.vectors WHERE item_id = ANY($1::bigint[])`, [ids]);
    return new Map(rows.map((r) => [r.id, sentToVector(r.embedding)]));
  }

  async *vectors(): AsyncIterable<[number, Float32Array]> {
    let after = 0;
    for (;;) {
      const page = await this.read((db) =>
        this.rows<{ id: number; embedding: Buffer }>(db, `SELECT item_id AS id, ${sentVector('embedding')} AS embedding FROM vectors WHERE item_id > $1 ORDER BY item_id LIMIT $2`, [after, VECTOR_PAGE]),
      );
      for (const row of page) yield [row.id, sentToVector(row.embedding)];
      if (page.length < VECTOR_PAGE) return;
      after = page[page.length - 1]!.id;
    }
  }

  async getFields(ids: readonly number[]): Promise<Map<number, Record<string, FieldValue | FieldValue[]>>> {
    const s = this.schema;
    const rows = await this.readOne<ItemFieldRow>(
      `SELECT * FROM (
       SELECT it.id AS id, uf.name AS name, uf.value_text AS text, uf.value_num AS num, 0 AS source, uf.id AS r
         FROM ${s}.items it JOIN ${s}.files f ON f.id = it.file_id JOIN ${s}.fields uf ON uf.file_name = f.file_name
         WHERE it.id = ANY($1::bigint[])
       UNION ALL
       SELECT it.id, ff.name, ff.value_text, ff.value_num, 1, ff.id
         FROM ${s}.items it JOIN ${s}.file_fields ff ON ff.file_id = it.file_id
         WHERE it.id = ANY($1::bigint[])
       ) u ORDER BY id, name COLLATE "C", source, r`,
      [ids],
    );
    return groupFieldRows(rows);
  }

  fieldNames(): Promise<string[]> {
    return this.read(async (db) => (await this.rows<{ name: string }>(db, `SELECT name FROM (${FIELD_NAMES_SQL}) n ORDER BY name COLLATE "C"`)).map((r) => r.name));
  }

  listFiles(status: FileStatus, limit?: number): Promise<FileRecord[]> {
    return this.read(async (db) =>
      (await this.rows<FileRow>(db, 'SELECT * FROM files WHERE status = $1 ORDER BY root COLLATE "C", path COLLATE "C" LIMIT $2', [status, limit ?? null])).map(toFileRecord),
    );
  }

  sampleItemIds(k: number): Promise<number[]> {
    // only searchable items have a vector: both lookups use its primary key
    return this.read(async (db) => {
      const [{ top }] = (await this.rows<{ top: number | null }>(db, 'SELECT max(item_id) AS top FROM vectors')) as [{ top: number | null }];
      return spreadItemSample(k, top ?? 0, async (id) => (await this.rows<{ id: number }>(db, 'SELECT item_id AS id FROM vectors WHERE item_id >= $1 ORDER BY item_id LIMIT 1', [id]))[0]?.id);
    });
  }

  async search(query: Float32Array, k: number, options: SearchOptions = {}): Promise<ScoredId[]> {
    checkVector(query, this.meta.embeddingDim, 'BAD_QUERY');
    checkSearchArgs(k, options.ef);
    if (k === 0) return [];
    const q = vectorToText(query);
    const ef = Math.min(MAX_EF_SEARCH, Math.max(options.ef ?? DEFAULT_EF_SEARCH, k));
    const settings = [`SET LOCAL hnsw.ef_search = ${ef}`, 'SET LOCAL hnsw.iterative_scan = relaxed_order'];
    if (!restricts(options) && !options.exact) return this.searchEverything(q, k, ef, settings);
    const found = restricts(options) ? await this.searchKeptSelection(q, k, ef, options, settings) : undefined;
    if (found) return found;
    return this.read(async (db) => {
      const narrowed = restricts(options);
      const scoreOrdered = (from: string, params: unknown[]) => this.rows<ScoredId>(db, numbered(exactScoresSql(from, '?', '?')), [q, ...params, q, k]);
      // a filtered selection read since the index last changed (a search request counts it first): its few items scored by their keys
      const kept = narrowed && !allButExcluded(options) ? await this.keptSelection(db, options) : undefined;
      if (kept?.ids) return scoreOrdered('vectors v WHERE v.item_id = ANY(?::bigint[])', [kept.ids]);
      const { where, params } = await this.selection(db, options);
      const from = narrowed ? `${FROM_SELECTED} WHERE ${where}` : 'vectors v';
      const selectionParams = narrowed ? params : [];
      const exact = () => scoreOrdered(from, selectionParams);
      if (options.exact) return exact();
      // past here the selection is narrowed (an unfiltered search that is not exact is searchEverything's).
      // All but a few named items: counted from the totals; a filter: its size kept, or read only as far as the choice needs
      const threshold = await this.exactThreshold(db);
      const counted = allButExcluded(options) ? await this.count(db, options) : kept?.count;
      const large = counted === undefined ? await this.selectsMoreThan(db, from, selectionParams, threshold) : counted > threshold;
      if (!large) return exact();
      await db.query(GRAPH_ORDER_ONLY);
      const candidates = await this.rows<ScoredId>(db, numbered(this.graphCandidatesSql(from, '?', '?')), [q, ...selectionParams, q, ef]);
      // the scan ran out (hnsw.max_scan_tuples) before it found the k allowed items that exist: exactly instead
      if (candidates.length < k && (await this.selectsMoreThan(db, from, selectionParams, candidates.length))) return exact();
      return bestFirst(candidates, k);
    }, settings);
  }

  /**
   * An unfiltered search through the graph in one round trip (the settings and the query as one
   * script, the query vector a literal). Should the graph's scan find fewer than k items, the
   * index is asked whether it holds more (then it is scored exactly), as `search` does for a filter.
   */
  private async searchEverything(q: string, k: number, ef: number, settings: string[]): Promise<ScoredId[]> {
    this.assertOpen();
    checkWhole(k, ef);
    const candidates = await this.database.readScript<ScoredId>([...settings, this.graphCandidatesSql('vectors v', `'${q}'`, String(ef))]);
    if (candidates.length >= k) return bestFirst(candidates, k);
    const [more] = await this.database.readScript<{ n: number }>([`SELECT count(*) AS n FROM (SELECT 1 FROM vectors LIMIT ${candidates.length + 1}) s`]);
    return more!.n > candidates.length ? this.database.readScript<ScoredId>([exactScoresSql('vectors v', `'${q}'`, String(k))]) : bestFirst(candidates);
  }

  /**
   * A filtered search over a selection read since the index last changed, in one round trip, on
   * condition that the index is still at the version it was read at (the statement checks it):
   * a few items scored exactly by their keys, or a larger selection's graph candidates
   * (`settings`: the graph scan's). Undefined when nothing is kept of the selection, or when no
   * whole answer came back (the index changed since, so that no row came; the graph's scan found
   * fewer than k), which the transaction of `search` then answers.
   */
  private async searchKeptSelection(q: string, k: number, ef: number, selection: ItemSelection, settings: string[]): Promise<ScoredId[] | undefined> {
    this.assertOpen();
    const key = selectionKey(selection);
    let kept = allButExcluded(selection) ? undefined : this.keptSelections.get(key);
    if (!kept?.ids?.length && !kept?.graphWhere) return undefined;
    checkWhole(k, ef);
    const unchanged = `EXISTS (SELECT 1 FROM totals WHERE name = '${CHANGES_TOTAL}' AND value = ${kept.version})`;
    if (kept.ids?.length) {
      if (kept.idsWhere === undefined) {
        // written once (50,000 ids take about 12 ms), kept as a new entry so that the cache counts its size
        kept = { ...kept, idsWhere: withLiterals('v.item_id = ANY(?::bigint[])', [kept.ids])! };
        this.keptSelections.set(key, kept);
      }
      const found = await this.database.readScript<ScoredId>([exactScoresSql(`vectors v WHERE ${kept.idsWhere} AND ${unchanged}`, `'${q}'`, String(k))]);
      return found.length > 0 ? found : undefined;
    }
    const candidates = await this.database.readScript<ScoredId>([...settings, GRAPH_ORDER_ONLY, this.graphCandidatesSql(`${FROM_SELECTED} WHERE (${kept.graphWhere}) AND ${unchanged}`, `'${q}'`, String(ef))]);
    return candidates.length >= k ? bestFirst(candidates, k) : undefined;
  }

  /**
   * The graph's `limit` candidates among `from`'s vectors (`v`) nearest to `vector` (a literal or
   * a placeholder, used twice), with their exact scores: the half-precision index orders, the
   * full-precision vectors score, so re-ranking them costs half precision no recall.
   */
  private graphCandidatesSql(from: string, vector: string, limit: string): string {
    const indexed = indexedVector(this.meta.precision, this.meta.embeddingDim, 'v.embedding');
    const cast = this.meta.precision === 'halfvec' ? `::halfvec(${this.meta.embeddingDim})` : '::vector';
    return `SELECT v.item_id AS id, 1 - (v.embedding <=> ${vector}::vector) AS score FROM ${from} ORDER BY ${indexed} <=> ${vector}::vector${cast} LIMIT ${limit}`;
  }

  stats(): Promise<IndexStats> {
    return this.read(async (db) => {
      const totals = await this.totals(db);
      const [counts] = await this.rows<{ bytes: number; index_bytes: number; pgvector: string }>(
        db,
        `SELECT (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r')::bigint AS bytes,
                coalesce(pg_relation_size(to_regclass($2)), 0) AS index_bytes,
                (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector`,
        [`"${this.database.location.schema}"`, vectorIndexName(this.database.location.schema)],
      );
      return {
        location: this.database.location.shown,
        images: totals.files,
        items: totals.vectors,
        vectors: totals.vectors,
        lastChange: isoTime(totals.lastChangeMs),
        details: {
          engine: { name: 'pgvector hnsw', pgvector: counts!.pgvector, precision: this.meta.precision, ...hnswBuildOf(this.meta.engine) },
          bytesOnServer: { tables: counts!.bytes, hnsw: counts!.index_bytes },
          caches: { selections: { entries: this.keptSelections.size, bytes: this.keptSelections.calculatedSize } },
        },
      };
    });
  }

  // writing

  knownFiles(root: string): Promise<Map<string, KnownFile>> {
    return this.read(async (db) => {
      this.assertWritable('list known files');
      const rows = await this.rows<FileRow>(db, 'SELECT id, path, bytes, mtime_ms, indexed_at, content_hash, status, needs_embedding, width, height, plan, stretch FROM files WHERE root = $1', [path.resolve(root)]);
      return new Map(rows.map((r) => [r.path, toKnownFile(r)]));
    });
  }

  roots(): Promise<string[]> {
    return this.read(async (db) => {
      this.assertWritable('list archive roots');
      return (await this.rows<{ root: string }>(db, ROOTS_SQL)).map((r) => r.root);
    });
  }

  findReusableFile(contentHash: string, plan: string | null): Promise<ReusableFile | undefined> {
    this.assertOpen();
    return this.reusableFiles.add({ contentHash, plan });
  }

  commit(changes: readonly CatalogChange[]): Promise<CommittedChange[]> {
    return this.write('commit', async (db) => {
      await this.vectorIndex.beforeCommit(db, checkPutVectors(changes, this.meta.embeddingDim));
      return applyChanges(db, this.vectorArrays, changes, Date.now());
    });
  }

  recordPlan(plan: string): Promise<void> {
    return this.write('record the plan', (db) => setMeta(db, { plan }));
  }

  recordDecodeSettings(settings: string): Promise<void> {
    return this.write('record decoding settings', (db) => setMeta(db, { decode_settings: settings }));
  }

  importFields(records: readonly FieldRecord[]): Promise<FieldImportSummary> {
    return this.write('import fields', async (db) => {
      let unmatched = 0;
      for (const record of records) {
        if ((await this.rows(db, 'SELECT 1 FROM files WHERE file_name = $1 LIMIT 1', [record.fileName])).length === 0) unmatched++;
        for (const [name, values] of record.fields) {
          await db.query('DELETE FROM fields WHERE file_name = $1 AND name = $2', [record.fileName, name]);
          if (values.length === 0) continue;
          await db.query('INSERT INTO fields (file_name, name, value_text, value_num) SELECT $1, $2, * FROM unnest($3::text[], $4::float8[]) ON CONFLICT DO NOTHING', [
            record.fileName,
            name,
            values.map(String),
            values.map(numericValue),
          ]);
        }
      }
      const names = new Set<string>();
      for (const r of records) for (const name of r.fields.keys()) names.add(name);
      return { records: records.length, fields: [...names].sort(), unmatched };
    });
  }

  /** Commits are durable when made; the HNSW index is built if a bulk load dropped it (vector-index-upkeep.ts) or it is missing. */
  flush(): Promise<void> {
    return this.write('flush', (db) => this.vectorIndex.build(db));
  }

  verify(): Promise<VerifyReport> {
    return this.write('verify', async (db) => {
      const repaired: string[] = [];
      const stray = await db.query("DELETE FROM vectors v WHERE NOT EXISTS (SELECT 1 FROM items it JOIN files f ON f.id = it.file_id WHERE it.id = v.item_id AND f.status = 'ok' AND it.key IS NOT NULL)");
      if ((stray.rowCount ?? 0) > 0) repaired.push(`${stray.rowCount} vectors of images that are not ok deleted`);
      // live items of complete ok files without a vector: retired, and their files queued for embedding
      // again (an incomplete file's, of a version being committed in batches, wait for theirs)
      const missing = await this.rows<{ id: number }>(
        db,
        "SELECT it.id FROM items it JOIN files f ON f.id = it.file_id WHERE f.status = 'ok' AND NOT f.needs_embedding AND it.key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.item_id = it.id)",
      );
      if (missing.length > 0) {
        const ids = missing.map((r) => r.id);
        await db.query('UPDATE files SET needs_embedding = true WHERE id IN (SELECT file_id FROM items WHERE id = ANY($1::bigint[]))', [ids]);
        await db.query('DELETE FROM item_boxes WHERE item_id = ANY($1::bigint[])', [ids]);
        await db.query('DELETE FROM item_places WHERE item_id = ANY($1::bigint[])', [ids]);
        await db.query('UPDATE items SET key = NULL WHERE id = ANY($1::bigint[])', [ids]);
        repaired.push(`${ids.length} items of ok images had no vector; they are re-embedded by the next \`rsclip index\``);
      }
      const indexName = vectorIndexName(this.database.location.schema);
      const [index] = await this.rows<{ valid: boolean | null }>(db, 'SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)) AS valid', [indexName]);
      // this writer's own bulk load dropped it: the build its flush would do, not a repair
      if (index!.valid === null && this.vectorIndex.droppedForBulkLoad) await this.vectorIndex.build(db);
      else if (index!.valid !== true) {
        await db.query(`DROP INDEX IF EXISTS ${indexName}`);
        await this.vectorIndex.build(db);
        repaired.push(`the HNSW index was ${index!.valid === null ? 'missing' : 'invalid'}; built again`);
      }
      const [{ enabled }] = (await this.rows<{ enabled: number }>(
        db,
        "SELECT count(*) AS enabled FROM pg_trigger WHERE tgrelid = ANY($1::regclass[]) AND tgname = ANY($2::text[]) AND tgenabled <> 'D'",
        [CHANGE_TRIGGERS.map((c) => c.table), CHANGE_TRIGGERS.map((c) => c.trigger)],
      )) as [{ enabled: number }];
      const [changeCount] = await this.rows(db, 'SELECT 1 FROM totals WHERE name = $1', [CHANGES_TOTAL]);
      if (enabled < CHANGE_TRIGGERS.length || !changeCount) {
        await db.query(changeCountSql(this.database.location.schema));
        repaired.push(`the change count's triggers were missing or disabled (${CHANGE_TRIGGERS.length - enabled} of ${CHANGE_TRIGGERS.length}); made again, and the count moved`);
      }
      const counted = await this.rows<TotalRow>(db, countedTotalsSql(this.database.location.schema));
      const stored = new Map((await this.rows<TotalRow>(db, 'SELECT name, value FROM totals')).map((r) => [r.name, r.value]));
      const wrong = counted.filter((c) => stored.get(c.name) !== c.value);
      for (const c of wrong) await db.query('UPDATE totals SET value = $2 WHERE name = $1', [c.name, c.value]);
      if (wrong.length > 0) repaired.push(totalsRecounted(wrong.map((c) => c.name)));
      const totals = toIndexTotals(counted);
      return { ok: true, checked: { images: filesInArchive(totals), vectors: totals.vectors, hnswLabels: totals.vectors }, repaired, unrepaired: [] };
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const done = this.writes.then(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        if (this.vectorIndex.deferred) await this.database.transaction('write', (db) => this.vectorIndex.build(db));
      } finally {
        await this.database.close();
      }
    });
    this.writes = done.catch(() => undefined);
    return done;
  }
}

/** `from`'s vectors (`v`) scored exactly against `vector` (a literal or a placeholder, used twice), the best `limit`. */
function exactScoresSql(from: string, vector: string, limit: string): string {
  return `SELECT v.item_id AS id, 1 - (v.embedding <=> ${vector}::vector) AS score FROM ${from} ORDER BY v.embedding <=> ${vector}::vector, v.item_id LIMIT ${limit}`;
}

/** Numbers written into a script's SQL: whole ones only, as the parameters they replace would be. */
function checkWhole(...numbers: number[]): void {
  for (const n of numbers) if (!Number.isSafeInteger(n)) throw new RsclipError('BAD_QUERY', `k and ef must be whole numbers, got ${n}`);
}
