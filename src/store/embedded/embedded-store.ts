/**
 * The embedded back end: catalog.sqlite (the truth: files, vectors, user fields) plus a graph
 * file (derived, repaired on open), in one directory, with one writer at a time (index.lock)
 * and any number of readers. Its calls are synchronous underneath; the async IndexStore
 * contract wraps them, and writes (commits, checkpoints, repairs) run one at a time.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { checkLength, type ScoredId } from '../../vector-math.js';
import { engineFromMeta, engineToMeta, resolveEngine } from '../engines.js';
import { assertModelMatches } from '../model-binding.js';
import type {
  CatalogChange,
  FieldImportSummary,
  FieldRecord,
  FieldValue,
  FileRecord,
  FileStatus,
  IndexMeta,
  IndexStats,
  IndexStore,
  ItemRecord,
  ItemSelection,
  KnownFile,
  OpenIndexOptions,
  ReusableVector,
  SearchOptions,
  StoreDescription,
  VerifyReport,
} from '../types.js';
import { Catalog, CATALOG_FILE } from './catalog.js';
import { GRAPH_FILE, GraphSync, removeStaleTempFiles } from './graph-sync.js';
import { SearchPlanner } from './search-planner.js';
import { WriteLock } from './write-lock.js';

/** Vectors per catalog read while iterating every vector. */
const VECTOR_PAGE = 1000;

function readMeta(catalog: Catalog, location: string): IndexMeta | undefined {
  const m = catalog.getMeta();
  if (!m.has('model_fingerprint')) return undefined;
  const metric = m.get('metric') ?? 'cosine';
  if (metric !== 'cosine') {
    throw new RsclipError('INDEX_INCOMPATIBLE', `index ${location} uses the metric "${metric}"; this rsclip searches by cosine only`, { hint: 'update rsclip' });
  }
  return {
    schemaVersion: catalog.schemaVersion(),
    modelId: m.get('model_id') ?? '',
    modelFingerprint: m.get('model_fingerprint') ?? '',
    embeddingDim: Number(m.get('embedding_dim')),
    metric,
    engine: engineFromMeta(m, location),
    createdAt: m.get('created_at') ?? '',
    modelDir: m.get('model_dir'),
    modelVariant: m.get('model_variant'),
  };
}

/** Opens (or creates) the embedded index in directory `dir`. */
export function openEmbeddedIndex(dir: string, options: OpenIndexOptions = {}): EmbeddedStore {
  const resolved = path.resolve(dir);
  const readonly = options.readonly ?? false;
  const exists = existsSync(path.join(resolved, CATALOG_FILE));
  if (!exists && (readonly || !options.create)) {
    throw new RsclipError('INDEX_NOT_FOUND', `no index at ${resolved} (expected ${CATALOG_FILE} there)`, {
      hint: 'build one with `rsclip index <archive dir> --index ' + dir + '`',
    });
  }
  if (!exists) {
    try {
      mkdirSync(resolved, { recursive: true });
    } catch (cause) {
      throw new RsclipError('INDEX_UNWRITABLE', `cannot create the index directory ${resolved}: ${(cause as Error).message}`, { cause, hint: 'choose another --index, or fix the permissions' });
    }
  }
  const lock = readonly ? undefined : WriteLock.acquire(resolved);
  let catalog: Catalog | undefined;
  try {
    catalog = new Catalog(resolved, { readonly });
    let meta = readMeta(catalog, resolved);
    if (!meta) {
      if (readonly || !options.model) {
        throw new RsclipError('INDEX_CORRUPT', `index ${resolved} has no model recorded in ${CATALOG_FILE}`, {
          hint: 'delete the directory and index again with --model',
        });
      }
      catalog.setMeta({
        model_id: options.model.id,
        model_fingerprint: options.model.fingerprint,
        embedding_dim: options.model.embeddingDim,
        metric: 'cosine',
        ...engineToMeta(resolveEngine(options.engine)),
        created_at: new Date().toISOString(),
        commit_seq: 0,
        hnsw_seq: -1,
      });
      meta = readMeta(catalog, resolved)!;
    }
    if (options.model) assertModelMatches(meta, resolved, options.model);
    if (!readonly && options.model && (meta.modelDir !== options.model.dir || meta.modelVariant !== options.model.variant)) {
      // where the model was last seen, so search and serve can find it without --model
      catalog.setMeta({ model_dir: options.model.dir, model_variant: options.model.variant });
    }
    // indexes from before the engine was recorded were all hnswlib
    if (!readonly && !catalog.getMeta().has('engine')) catalog.setMeta(engineToMeta(meta.engine));
    meta = readMeta(catalog, resolved)!;
    if (!readonly) removeStaleTempFiles(resolved);
    const sync = new GraphSync(resolved, catalog, meta, options);
    sync.load();
    return new EmbeddedStore(resolved, meta, catalog, sync, lock);
  } catch (error) {
    catalog?.close();
    lock?.release();
    throw error;
  }
}

export class EmbeddedStore implements IndexStore {
  readonly readonly: boolean;
  private readonly planner: SearchPlanner;
  private closed = false;
  /** The tail of the chain that runs writes one at a time. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    readonly meta: IndexMeta,
    private readonly catalog: Catalog,
    private readonly sync: GraphSync,
    private readonly lock: WriteLock | undefined,
  ) {
    this.readonly = lock === undefined;
    this.planner = new SearchPlanner(catalog, sync, meta.embeddingDim);
  }

  describe(): StoreDescription {
    return { backend: 'embedded', location: this.dir, directory: this.dir };
  }

  private assertOpen(): void {
    if (this.closed) throw new RsclipError('INDEX_CLOSED', `index ${this.dir} is closed`, { hint: 'open it again' });
  }

  private assertWritable(what: string): void {
    this.assertOpen();
    if (this.readonly) throw new RsclipError('INDEX_READ_ONLY', `cannot ${what}: index ${this.dir} was opened read-only`, { hint: 'open it without readonly' });
  }

  /** Runs `write` after every write queued before it (commits, checkpoints and repairs never overlap). */
  private exclusive<T>(write: () => Promise<T> | T): Promise<T> {
    const run = this.writes.then(write);
    this.writes = run.catch(() => undefined);
    return run;
  }

  async countFiles(status?: FileStatus): Promise<number> {
    this.assertOpen();
    return this.catalog.countFiles(status);
  }

  async findFileByPath(absolutePath: string): Promise<FileRecord | undefined> {
    this.assertOpen();
    return this.catalog.findFileByAbsolutePath(path.resolve(absolutePath));
  }

  async countItems(selection: ItemSelection = {}): Promise<number> {
    this.assertOpen();
    return this.planner.countItems(selection);
  }

  async listItemIds(selection: ItemSelection = {}): Promise<number[]> {
    this.assertOpen();
    return this.planner.itemIds(selection);
  }

  async getItems(ids: readonly number[]): Promise<ItemRecord[]> {
    this.assertOpen();
    // one item per file, with the file's id
    return this.catalog.getFiles(ids).map((file) => ({ id: file.id, file }));
  }

  async getVectors(ids: readonly number[]): Promise<Map<number, Float32Array>> {
    this.assertOpen();
    return this.catalog.getVectors(ids);
  }

  async *vectors(): AsyncIterable<[number, Float32Array]> {
    let after = 0;
    for (;;) {
      this.assertOpen();
      const page = this.catalog.vectorPage(after, VECTOR_PAGE);
      yield* page;
      if (page.length < VECTOR_PAGE) return;
      after = page[page.length - 1]![0];
    }
  }

  async getFields(ids: readonly number[]): Promise<Map<number, Record<string, FieldValue | FieldValue[]>>> {
    this.assertOpen();
    return this.catalog.getFields(ids);
  }

  async search(query: Float32Array, k: number, options: SearchOptions = {}): Promise<ScoredId[]> {
    this.assertOpen();
    if (this.readonly) this.sync.refreshIfStale();
    return this.planner.search(query, k, options);
  }

  async stats(): Promise<IndexStats> {
    this.assertOpen();
    const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
    const catalogFile = path.join(this.dir, CATALOG_FILE);
    return {
      location: this.dir,
      images: { ok: this.catalog.countFiles('ok'), error: this.catalog.countFiles('error'), removed: this.catalog.countFiles('removed') },
      vectors: this.catalog.countVectors(),
      details: {
        hnsw: this.sync.graph.details(),
        bytesOnDisk: { catalog: size(catalogFile) + size(`${catalogFile}-wal`), hnsw: size(path.join(this.dir, GRAPH_FILE)) },
      },
    };
  }

  async knownFiles(root: string): Promise<Map<string, KnownFile>> {
    this.assertWritable('list known files');
    return this.catalog.knownFiles(path.resolve(root));
  }

  async findVectorByContentHash(contentHash: string): Promise<ReusableVector | undefined> {
    this.assertOpen();
    return this.catalog.findVectorByContentHash(contentHash);
  }

  commit(changes: readonly CatalogChange[]): Promise<number[]> {
    return this.exclusive(async () => {
      this.assertWritable('commit');
      for (const change of changes) {
        if (change.kind === 'put') checkLength(change.vector, this.meta.embeddingDim, 'INDEX_INCOMPATIBLE');
      }
      const seq = this.sync.nextSeq();
      const ids = this.catalog.applyChanges(changes, seq, Date.now());
      this.sync.applied(seq, changes, ids);
      await this.sync.checkpointIfDue();
      return ids;
    });
  }

  importFields(records: readonly FieldRecord[]): Promise<FieldImportSummary> {
    return this.exclusive(() => {
      this.assertWritable('import fields');
      const seq = this.sync.nextSeq();
      const unmatched = this.catalog.importFields(records, seq);
      this.sync.advance(seq);
      const names = new Set<string>();
      for (const r of records) for (const name of r.fields.keys()) names.add(name);
      return { records: records.length, fields: [...names].sort(), unmatched };
    });
  }

  flush(): Promise<void> {
    return this.exclusive(() => {
      this.assertWritable('flush');
      return this.sync.checkpoint();
    });
  }

  verify(): Promise<VerifyReport> {
    return this.exclusive(async () => {
      this.assertWritable('verify');
      const repaired = this.sync.takeRepairsAtOpen();
      const unrepaired: string[] = [];
      const integrity = this.catalog.integrityCheck();
      if (integrity !== 'ok') unrepaired.push(`SQLite integrity check failed: ${integrity}`);

      const stray = this.catalog.deleteStrayVectors();
      if (stray > 0) repaired.push(`${stray} vectors of images that are not ok deleted`);

      // vectors the model could not have produced: their files are queued for embedding again
      const badVectors: number[] = [];
      for (const [id, vector] of this.catalog.iterateVectors()) {
        if (vector.length !== this.meta.embeddingDim || !vector.every(Number.isFinite)) badVectors.push(id);
      }
      const missing = this.catalog.okFilesWithoutVector();
      const requeue = [...badVectors, ...missing];
      if (requeue.length > 0) {
        const seq = this.sync.nextSeq();
        this.catalog.queueForEmbedding(requeue, 'vector missing or invalid; re-embedded by the next `rsclip index`', seq);
        this.sync.advance(seq, requeue);
        if (badVectors.length > 0) repaired.push(`${badVectors.length} invalid vectors dropped; those images are re-embedded by the next \`rsclip index\``);
        if (missing.length > 0) repaired.push(`${missing.length} ok images had no vector; they are re-embedded by the next \`rsclip index\``);
      }

      const graph = this.sync.reconcile();
      repaired.push(...graph.repaired);
      if (repaired.length > 0) this.sync.markDirty();
      await this.sync.checkpoint();
      this.planner.reset();
      return {
        ok: unrepaired.length === 0,
        checked: { images: this.catalog.countFiles(), vectors: graph.vectors, hnswLabels: this.sync.graph.storedCount },
        repaired,
        unrepaired,
      };
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.exclusive(async () => {
      if (this.closed) return;
      try {
        if (!this.readonly) await this.sync.checkpoint();
      } finally {
        this.closed = true;
        this.catalog.close();
        this.lock?.release();
      }
    });
  }
}
