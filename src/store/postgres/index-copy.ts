/**
 * `rsclip index copy`: an index moved between back ends (a directory <-> a PostgreSQL URL, or
 * directory to directory) with its files, items (same ids, retired ones included), vectors,
 * places, fields and meta, without embedding anything again, with the source's vector engine or
 * another one (`engine`: the graph is built anew either way). Both ends are locked for writing
 * while it runs. Resumable: the target is marked with its source until the copy is complete,
 * and a copy started again continues each table after the last row the target holds (pages
 * are written in transactions); the model is recorded last, so an unfinished target cannot be
 * opened as an index. Run again once finished, it copies nothing and builds what the last step
 * may have left (a directory's graph file). Either holds only while the source is the version it
 * was when the copy began (its commit or change count): after that, the copy is refused.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { storedVectorProblem } from '../../vector-math.js';
import { realPathOrResolved } from '../../path-inside.js';
import { CATALOG_FILE } from '../embedded/catalog.js';
import { openEmbeddedIndex } from '../embedded/embedded-store.js';
import { GRAPH_FILE } from '../embedded/graph-sync.js';
import { DEFAULT_ENGINE, ENGINE_META_KEYS, engineFromMeta, engineLabel, engineToMeta, hnswBuildOf, resolveEngine, type EngineChoice, type EngineSpec } from '../engines.js';
import { COPY_MARK } from '../index-meta.js';
import { Database, type Queryable } from './database.js';
import { readyPgvector } from './open.js';
import { COPIED_FROM, COPIED_META, COPIED_VERSION, EmbeddedCopyEnd, KEYED_TABLES, PostgresCopyEnd, type CopyEnd, type KeyedTable } from './copy-tables.js';
import { isPostgresLocation, parsePostgresLocation } from './location.js';
import { checkSchemaFree, createTablesSql, indexPrecisionFor, PG_SCHEMA_VERSION, q } from './schema.js';
import { buildVectorIndex } from './vector-index-build.js';

export interface CopyIndexOptions {
  /** Rows per page (one transaction each on the target). */
  pageSize?: number;
  /** After each page written. */
  onProgress?: (progress: { table: KeyedTable | 'fields'; rows: number }) => void;
  /** Before the graph file of a directory target is built from its vectors (minutes for millions). */
  onGraphBuild?: () => void;
  /**
   * The target's vector engine and build parameters (defaults as for a new index) instead of the
   * source's: its graph is built anew from the vectors either way. For a PostgreSQL target, M and
   * efc set pgvector's HNSW index, and the engine is what a copy back to a directory builds.
   */
  engine?: EngineChoice;
}

export interface CopySummary {
  from: string;
  to: string;
  /** Rows written by this run, per table (a resumed copy writes only what was missing). */
  rows: Record<KeyedTable | 'fields' | 'file_fields', number>;
  resumed: boolean;
  /** The target already held this very copy, finished by an earlier run (this one copied nothing). */
  alreadyCopied: boolean;
}

async function openPostgresEnd(location: string, role: 'source' | 'target', sourceMeta?: Map<string, string>): Promise<PostgresCopyEnd> {
  const where = parsePostgresLocation(location);
  const database = await Database.connect(where);
  try {
    await database.lockForWriting();
    const exists = await database.transaction('read', async (db) => (await db.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`${q(where.schema)}.meta`])).rows[0]!.found !== null);
    const dim = Number(sourceMeta?.get('embedding_dim'));
    const precision = indexPrecisionFor(dim);
    if (!exists) {
      if (role === 'source') throw new RsclipError('INDEX_NOT_FOUND', `no index at ${where.shown}`, { hint: 'check the URL and its ?schema=' });
      await database.transaction('write', async (db) => {
        await readyPgvector(db, where.shown);
        await checkSchemaFree(db, where.schema, where.shown);
        await db.query(createTablesSql(where.schema, dim));
        await db.query("INSERT INTO meta (key, value) VALUES ('pg_schema_version', $1), ('index_precision', $2)", [String(PG_SCHEMA_VERSION), precision]);
      });
    }
    const buildIndex = async (db: Queryable) => {
      const m = Number(sourceMeta?.get('hnsw_m') ?? hnswBuildOf(DEFAULT_ENGINE).M);
      const ef = Number(sourceMeta?.get('hnsw_ef_construction') ?? hnswBuildOf(DEFAULT_ENGINE).efConstruction);
      await buildVectorIndex(db, { schema: where.schema, dim, precision, m, efConstruction: ef });
    };
    return new PostgresCopyEnd(where.shown, database, where.schema, buildIndex);
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * Refuses a source's vector that no store would take now (a length other than the index's, NaN,
 * beyond half precision: a damaged catalog, or one written before vectors were checked), naming
 * the item, before any of its page is written: the target would refuse it less clearly, or keep it.
 */
function checkCopiedVectors(rows: Record<string, unknown>[], dim: number, source: string): void {
  for (const row of rows) {
    const vector = row.embedding;
    const problem = vector instanceof Float32Array ? storedVectorProblem(vector, dim) : 'no vector but something else';
    if (problem === undefined) continue;
    throw new RsclipError('INDEX_CORRUPT', `${source}: the stored vector of item ${String(row.item_id)} has ${problem}, which no index takes`, {
      hint: `\`rsclip doctor --index ${source}\` drops the vectors that cannot be searched (their files are embedded again at the next \`rsclip index\`); then copy again`,
    });
  }
}

async function openEnd(location: string, role: 'source' | 'target', sourceMeta?: Map<string, string>): Promise<CopyEnd> {
  if (isPostgresLocation(location)) return openPostgresEnd(location, role, sourceMeta);
  if (role === 'source' && !existsSync(path.join(location, CATALOG_FILE))) {
    throw new RsclipError('INDEX_NOT_FOUND', `no index at ${path.resolve(location)} (expected ${CATALOG_FILE} there)`, { hint: 'copy from an index directory or a postgres:// URL' });
  }
  return EmbeddedCopyEnd.open(location, role);
}

/** Copies the index at `from` into `to` (a new index, or one this very copy left unfinished or finished). */
export async function copyIndex(from: string, to: string, options: CopyIndexOptions = {}): Promise<CopySummary> {
  if (sameIndex(from, to)) throw new RsclipError('BAD_INPUT', `--from and --to are the same index: ${isPostgresLocation(to) ? parsePostgresLocation(to).shown : path.resolve(to)}`, { hint: 'copy to another directory or database' });
  const summary = await copyRows(from, to, options);
  if (!isPostgresLocation(to)) await buildGraphFile(to, options.onGraphBuild);
  return summary;
}

/** Whether two locations name one index: one directory (however written, links followed), or one database schema with the same server, user and database. */
function sameIndex(a: string, b: string): boolean {
  if (isPostgresLocation(a) !== isPostgresLocation(b)) return false;
  if (isPostgresLocation(a)) {
    const [x, y] = [parsePostgresLocation(a), parsePostgresLocation(b)];
    return x.schema === y.schema && x.connectionString === y.connectionString;
  }
  return realPathOrResolved(a) === realPathOrResolved(b);
}

/** The source's meta with the engine keys of `engine` in place of its own. */
function withEngine(meta: Map<string, string>, engine: EngineSpec | undefined): Map<string, string> {
  if (!engine) return meta;
  const kept = [...meta].filter(([key]) => !ENGINE_META_KEYS.includes(key));
  return new Map([...kept, ...Object.entries(engineToMeta(engine)).map(([key, value]) => [key, String(value)] as const)]);
}

/** The copy itself, under both ends' write locks: rows, then the meta that makes the target an index. */
async function copyRows(from: string, to: string, options: CopyIndexOptions): Promise<CopySummary> {
  const pageSize = options.pageSize ?? 2000;
  const source = await openEnd(from, 'source');
  try {
    const meta = await source.meta();
    if (!meta.has('model_fingerprint') || meta.has(COPY_MARK)) {
      throw new RsclipError('INDEX_CORRUPT', `index ${source.location} is not complete (${meta.has(COPY_MARK) ? `a copy from ${meta.get(COPY_MARK)} into it did not finish` : 'no model recorded'})`, {
        hint: meta.has(COPY_MARK) ? 'finish that copy first (run it again)' : 'copy a complete index',
      });
    }
    const askedEngine = options.engine && resolveEngine(options.engine);
    const targetMeta = withEngine(meta, askedEngine);
    const target = await openEnd(to, 'target', targetMeta);
    try {
      const before = await target.meta();
      const mark = before.get(COPY_MARK);
      // `from` as given: the mark of a copy started by a version that recorded it so
      const fromThisSource = (value: string | undefined) => value === source.location || value === from;
      const rows = { files: 0, items: 0, vectors: 0, item_places: 0, fields: 0, file_fields: 0 };
      // a copy continues, or stands as finished, only while the source is as it was when it began
      const sourceVersion = await source.version();
      const copiedVersion = before.get(COPIED_VERSION);
      const sourceChanged = (what: string) =>
        new RsclipError('BAD_INPUT', `${source.location} changed since ${what} into ${target.location} began (it was indexed or repaired meanwhile)`, {
          hint: 'copy into a new --to (or delete this one and copy again)',
        });
      if (before.has('model_fingerprint') && fromThisSource(before.get(COPIED_FROM))) {
        if (copiedVersion !== undefined && copiedVersion !== sourceVersion) throw sourceChanged('the finished copy');
        const finished = engineLabel(engineFromMeta(before, target.location));
        if (askedEngine && finished !== engineLabel(askedEngine)) {
          throw new RsclipError('BAD_INPUT', `${target.location} already holds the finished copy of ${source.location}, with the engine ${finished}, not ${engineLabel(askedEngine)}`, {
            hint: 'copy into a new --to for another engine',
          });
        }
        return { from: source.location, to: target.location, rows, resumed: true, alreadyCopied: true };
      }
      if (before.has('model_fingerprint') || (mark !== undefined && !fromThisSource(mark))) {
        const copying = mark !== undefined ? ` being copied from ${mark}` : '';
        throw new RsclipError('BAD_INPUT', `${target.location} already holds an index${copying}; a copy goes into a new index`, {
          hint: 'choose another --to (a new directory, or another ?schema= of the database)',
        });
      }
      if (mark !== undefined && copiedVersion !== undefined && copiedVersion !== sourceVersion) throw sourceChanged('the unfinished copy');
      // read first: it needs a privilege on the items' id sequence, which a read-only role may lack (better refused now than after every row)
      const highWater = Math.max(await source.itemIdHighWater(), await source.maxKey('items'));
      await target.setMeta({ [COPY_MARK]: source.location, [COPIED_VERSION]: sourceVersion });
      for (const table of KEYED_TABLES) {
        let after = await target.maxKey(table);
        for (;;) {
          const page = await source.page(table, after, pageSize);
          if (page.length === 0) break;
          if (table === 'vectors') checkCopiedVectors(page, Number(meta.get('embedding_dim')), source.location);
          await target.insert(table, page);
          rows[table] += page.length;
          options.onProgress?.({ table, rows: rows[table] });
          after = page[page.length - 1]![table === 'files' || table === 'items' ? 'id' : 'item_id'] as number;
        }
      }
      for (const table of ['fields', 'file_fields'] as const) {
        const all = await source.all(table);
        await target.replaceAll(table, all);
        rows[table] = all.length;
      }
      options.onProgress?.({ table: 'fields', rows: rows.fields });
      await target.finish(highWater);
      // the model last: only now is the target an index
      const copied = Object.fromEntries(COPIED_META.flatMap((key) => (targetMeta.has(key) ? [[key, targetMeta.get(key)!]] : [])));
      await target.setMeta({ ...copied, [COPIED_FROM]: source.location });
      return { from: source.location, to: target.location, rows, resumed: mark !== undefined, alreadyCopied: false };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Builds the graph file of a copied directory index, as its first writer would (in the graph
 * thread of a write-only store): otherwise every reader (`rsclip serve`) would build the graph
 * in memory at each start, and never save it.
 */
async function buildGraphFile(dir: string, onGraphBuild: CopyIndexOptions['onGraphBuild']): Promise<void> {
  // a finished copy run again has its graph file: opening checks it, and there is no build to announce
  if (!existsSync(path.join(dir, GRAPH_FILE))) onGraphBuild?.();
  await openEmbeddedIndex(dir, { writeOnly: true }).close();
}
