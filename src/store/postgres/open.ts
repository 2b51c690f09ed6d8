/**
 * Opening a PostgreSQL index: its schema's meta (the same keys as the embedded catalog's), the
 * pgvector extension (0.8 or later, for iterative index scans), creation, the model binding and
 * the write lock.
 */
import { RsclipError } from '../../errors.js';
import { checkModelOption } from '../argument-checks.js';
import { engineToMeta, hnswBuildOf, resolveEngine } from '../engines.js';
import { indexMetaFromEntries } from '../index-meta.js';
import { assertModelMatches, mayTakeModel, tookModelNotice } from '../model-binding.js';
import type { IndexMeta, OpenIndexOptions } from '../types.js';
import { Database, type Queryable } from './database.js';
import { locationInCommand, parsePostgresLocation } from './location.js';
import { CHANGES_TOTAL, changeCountSql, checkSchemaFree, createTablesSql, FILES_ROW_TRIGGER, filesPathIndexSql, filesStatementTriggersSql, indexPrecisionFor, inlineVectorsSql, PG_SCHEMA_VERSION, q, vectorIndexSql, version2Sql, type IndexPrecision } from './schema.js';

export interface PostgresIndexMeta extends IndexMeta {
  precision: IndexPrecision;
}

async function schemaExists(db: Queryable, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`${q(schema)}.meta`]);
  return rows[0]!.found !== null;
}

async function readMetaRows(db: Queryable): Promise<Map<string, string>> {
  const { rows } = await db.query<{ key: string; value: string }>('SELECT key, value FROM meta');
  return new Map(rows.map((r) => [r.key, r.value]));
}

export async function setMeta(db: Queryable, entries: Record<string, string | number>): Promise<void> {
  const keys = Object.keys(entries);
  await db.query('INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [keys, keys.map((k) => String(entries[k]))]);
}

function toMeta(m: Map<string, string>, location: string): PostgresIndexMeta | undefined {
  const version = Number(m.get('pg_schema_version'));
  if (version > PG_SCHEMA_VERSION) {
    throw new RsclipError('INDEX_INCOMPATIBLE', `index ${location} has schema version ${version}; this rsclip reads up to ${PG_SCHEMA_VERSION}`, { hint: 'update rsclip' });
  }
  const common = indexMetaFromEntries(m, location, version);
  return common && { ...common, precision: m.get('index_precision') === 'vector' ? 'vector' : 'halfvec' };
}

/** Whether the index holds no file and no item (so no vector of any model): a first run that stopped before its first commit. */
async function nothingCommitted(db: Queryable, schema: string): Promise<boolean> {
  const { rows } = await db.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${q(schema)}.files) AND NOT EXISTS (SELECT 1 FROM ${q(schema)}.items) AS empty`);
  return rows[0]!.empty;
}

/** The pgvector extension in the database, made if absent; a server without it, or a user who may not make it, is told so. */
async function createPgvector(db: Queryable, location: string): Promise<void> {
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message;
    // 0A000: the server has no vector.control (not installed there)
    if (code === '0A000') {
      throw new RsclipError('INDEX_INCOMPATIBLE', `PostgreSQL at ${location} lacks the pgvector extension: ${message}`, {
        cause: error,
        hint: 'install pgvector (0.8 or later) on the database server, e.g. the postgresql-<version>-pgvector package of the PostgreSQL apt repository, then run the command again',
      });
    }
    if (code === '42501') {
      throw new RsclipError('INDEX_UNWRITABLE', `PostgreSQL at ${location} refused to create the pgvector extension: ${message}`, {
        cause: error,
        hint: 'have the database owner (or a superuser) run `CREATE EXTENSION vector;` in this database once, then run the command again',
      });
    }
    throw error;
  }
}

/** The pgvector extension made where it is absent, and checked to be recent enough: before an index's tables are created. */
export async function readyPgvector(db: Queryable, location: string): Promise<void> {
  await createPgvector(db, location);
  await checkPgvector(db, location);
}

async function checkPgvector(db: Queryable, location: string): Promise<void> {
  const { rows } = await db.query<{ version: string | null }>("SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS version");
  const version = rows[0]!.version;
  if (version === null) {
    throw new RsclipError('INDEX_INCOMPATIBLE', `PostgreSQL at ${location} lacks the pgvector extension`, { hint: 'install pgvector (0.8 or later) on the server; rsclip creates the extension when it creates an index' });
  }
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major === 0 && minor < 8) {
    throw new RsclipError('INDEX_INCOMPATIBLE', `PostgreSQL at ${location} has pgvector ${version}; rsclip needs 0.8.0 or later (iterative index scans)`, { hint: 'ALTER EXTENSION vector UPDATE (after installing a newer pgvector)' });
  }
}

/**
 * Brings the tables of an older index up to PG_SCHEMA_VERSION, has the vectors it writes from
 * now on kept in the table's rows (an index made before inlineVectorsSql; its older rows stay out
 * of line until copied), its files' totals kept by statement triggers instead of a row trigger,
 * the change count of changeCountSql and the files' path index (none of which changes what a
 * reader may rely on, so none changes the version). A writer's open; readers read an older index
 * as it is.
 */
async function upgradeTables(db: Queryable, schema: string): Promise<void> {
  const meta = await readMetaRows(db);
  const version = Number(meta.get('pg_schema_version') ?? PG_SCHEMA_VERSION);
  if (version < 2) await db.query(version2Sql(schema));
  if (version < PG_SCHEMA_VERSION) await setMeta(db, { pg_schema_version: PG_SCHEMA_VERSION });
  const rowTrigger = await db.query("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('files') AND tgname = $1", [FILES_ROW_TRIGGER]);
  if (rowTrigger.rows.length > 0) await db.query(filesStatementTriggersSql(schema));
  const changeCount = await db.query('SELECT 1 FROM totals WHERE name = $1', [CHANGES_TOTAL]);
  if (changeCount.rows.length === 0) await db.query(changeCountSql(schema));
  const pathIndex = await db.query("SELECT 1 FROM pg_class WHERE oid = to_regclass('files_path')");
  if (pathIndex.rows.length === 0) await db.query(filesPathIndexSql(schema));
  const inline = inlineVectorsSql(schema, Number(meta.get('embedding_dim')));
  const storage = await db.query<{ attstorage: string }>("SELECT attstorage FROM pg_attribute WHERE attrelid = to_regclass('vectors') AND attname = 'embedding'");
  if (inline && storage.rows[0]?.attstorage !== 'p') await db.query(inline);
}

/** The meta of the index at a PostgreSQL URL, or undefined when there is none. */
export async function readPostgresMeta(location: string): Promise<PostgresIndexMeta | undefined> {
  const where = parsePostgresLocation(location);
  const database = await Database.connect(where);
  try {
    return await database.transaction('read', async (db) => ((await schemaExists(db, where.schema)) ? toMeta(await readMetaRows(db), where.shown) : undefined));
  } finally {
    await database.close();
  }
}

/** Connects to the index at a PostgreSQL URL (creating it when asked): its database handle and meta. */
export async function connectPostgresIndex(location: string, options: OpenIndexOptions): Promise<{ database: Database; meta: PostgresIndexMeta }> {
  const where = parsePostgresLocation(location);
  const readonly = options.readonly ?? false;
  const database = await Database.connect(where);
  try {
    const exists = await database.transaction('read', (db) => schemaExists(db, where.schema));
    if (!exists && (readonly || !options.create)) {
      throw new RsclipError('INDEX_NOT_FOUND', `no index at ${where.shown} (no schema "${where.schema}" with rsclip's tables)`, { hint: `build one with \`rsclip index <archive dir> --index ${locationInCommand(location)}\`` });
    }
    // before anything is written: an index created without its model could not be opened again
    checkModelOption(options, exists);
    if (!readonly) await database.lockForWriting();
    const model = options.model;
    if (!exists) {
      if (!model) throw new RsclipError('BAD_INPUT', 'create needs options.model (a ModelInfo, e.g. encoder.info)');
      // pgvector's HNSW is built with the engine's M and ef_construction; the engine itself is what an embedded copy would use
      const engine = resolveEngine(options.engine);
      const precision = indexPrecisionFor(model.embeddingDim);
      await database.transaction('write', async (db) => {
        await readyPgvector(db, where.shown);
        await checkSchemaFree(db, where.schema, where.shown);
        await db.query(createTablesSql(where.schema, model.embeddingDim));
        const { M, efConstruction } = hnswBuildOf(engine);
        await db.query(vectorIndexSql(where.schema, model.embeddingDim, precision, M, efConstruction));
        await setMeta(db, {
          pg_schema_version: PG_SCHEMA_VERSION,
          model_id: model.id,
          model_fingerprint: model.fingerprint,
          embedding_dim: model.embeddingDim,
          metric: 'cosine',
          ...engineToMeta(engine),
          index_precision: precision,
          created_at: new Date().toISOString(),
        });
      });
    }
    if (exists && !readonly) await database.transaction('write', (db) => upgradeTables(db, where.schema));
    let notice: string | undefined;
    const meta = await database.transaction(readonly ? 'read' : 'write', async (db) => {
      await checkPgvector(db, where.shown);
      let found = toMeta(await readMetaRows(db), where.shown);
      if (!found) throw new RsclipError('INDEX_CORRUPT', `index ${where.shown} has no model recorded`, { hint: `drop the schema "${where.schema}" and index again with --model` });
      // the emptiness query only where the model differs
      if (!readonly && model && mayTakeModel(found, model, true) && (await nothingCommitted(db, where.schema))) {
        notice = tookModelNotice(found, where.shown, model);
        await setMeta(db, { model_id: model.id, model_fingerprint: model.fingerprint });
        found = { ...found, modelId: model.id, modelFingerprint: model.fingerprint };
      }
      if (model) assertModelMatches(found, where.shown, model);
      if (!readonly && model && (found.modelDir !== model.dir || found.modelVariant !== model.variant)) {
        // where the model was last seen, so search and serve can find it without --model
        await setMeta(db, { model_dir: model.dir, model_variant: model.variant });
        return { ...found, modelDir: model.dir, modelVariant: model.variant };
      }
      return found;
    });
    if (notice) process.emitWarning(notice, { code: 'RSCLIP_INDEX_MODEL_TAKEN' });
    return { database, meta };
  } catch (error) {
    await database.close();
    throw error;
  }
}
