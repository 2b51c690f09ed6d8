/**
 * The embedded back end: catalog.sqlite (the truth: files, vectors, user fields) plus a graph
 * file (derived, checked and repaired on open), in one directory, with one writer at a time
 * (index.lock) and any number of readers. Its calls are synchronous underneath; the async
 * IndexStore contract wraps them, and writes (commits, checkpoints, repairs) run one at a time.
 * A writer checks the catalog before writing into it; an index on read-only media is read as
 * immutable; errors of the disk (full, read-only, failing) and of a damaged catalog become one
 * RsclipError line that says what was kept.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { storedVectorProblem, type ScoredId } from '../../vector-math.js';
import { filesCounted, filesInArchive, isoTime, totalsRecounted } from '../catalog-rows.js';
import { engineToMeta, resolveEngine, reusesNodes } from '../engines.js';
import { indexMetaFromEntries } from '../index-meta.js';
import { spreadItemSample } from '../item-sample.js';
import { assertModelFitsVectors, assertModelMatches, mayTakeModel, modelName, tookModelNotice } from '../model-binding.js';
import { checkModelOption, checkPutVectors, checkSearchArgs } from '../argument-checks.js';
import type {
  CatalogChange,
  CommittedChange,
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
  ReusableFile,
  SearchOptions,
  StoreDescription,
  VerifyReport,
} from '../types.js';
import { Catalog, CATALOG_FILE } from './catalog.js';
import { globCacheUse, selectionToSql } from './catalog-filter.js';
import { checkCatalogFile, damagedCatalog, repairCatalog } from './catalog-health.js';
import { DEFAULT_REFRESH_INTERVAL_MS, GRAPH_FILE, GraphSync, removeStaleTempFiles, type GraphWriter } from './graph-sync.js';
import { GraphThread } from './graph-thread.js';
import { catalogLost, modelNotRecorded } from './lost-model.js';
import { convertedNotice } from './schema.js';
import { SearchPlanner } from './search-planner.js';
import { SelectionScanner } from './selection-scan.js';
import { catalogError } from './write-failures.js';
import { WriteLock } from './write-lock.js';

/** Vectors per catalog read while iterating every vector. */
const VECTOR_PAGE = 1000;

function readMeta(catalog: Catalog, location: string): IndexMeta | undefined {
  return indexMetaFromEntries(catalog.getMeta(), location, catalog.schemaVersion());
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Readers of a folder they cannot write (read-only media, another user's index) cannot create
 * catalog.sqlite-shm: where it exists SQLite reads through it as it is; where it does not (a
 * cleanly closed index) the catalog is opened as immutable, which cannot see changes still in
 * catalog.sqlite-wal: those are refused.
 */
function readsImmutable(dir: string): boolean {
  if (writable(dir) || existsSync(path.join(dir, `${CATALOG_FILE}-shm`))) return false;
  const wal = path.join(dir, `${CATALOG_FILE}-wal`);
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new RsclipError('INDEX_UNWRITABLE', `index ${dir} cannot be written and has changes not yet merged into ${CATALOG_FILE} (in ${CATALOG_FILE}-wal)`, {
      hint: 'open it once where it can be written (e.g. `rsclip doctor`), or let its writer finish, before reading it from read-only media',
    });
  }
  return true;
}

/** Where the catalog file of `dir` is on the disk (device and inode), or undefined when there is none. */
function catalogFileId(dir: string): string | undefined {
  const stat = statSync(path.join(dir, CATALOG_FILE), { throwIfNoEntry: false });
  return stat && `${stat.dev}:${stat.ino}`;
}

/** Refuses to write into a damaged catalog, or repairs it, before anything else opens it. */
function checkCatalogBeforeWriting(dir: string, check: NonNullable<OpenIndexOptions['catalogCheck']>): string[] {
  const file = path.join(dir, CATALOG_FILE);
  if (check === 'repair') return repairCatalog(file).repaired;
  const result = checkCatalogFile(file, check);
  if (result !== 'ok') throw damagedCatalog(file, result, check);
  return [];
}

/** The meta of the embedded index in `dir` (read from its catalog alone), or undefined when there is none. */
export function readEmbeddedMeta(dir: string): IndexMeta | undefined {
  const resolved = path.resolve(dir);
  if (!existsSync(path.join(resolved, CATALOG_FILE))) return undefined;
  let catalog: Catalog | undefined;
  try {
    // the meta table is the same in every schema: an older catalog is read as it is
    catalog = new Catalog(resolved, { readonly: true, immutable: readsImmutable(resolved), metaOnly: true });
    return readMeta(catalog, resolved);
  } catch (error) {
    throw catalogError(path.join(resolved, CATALOG_FILE), error);
  } finally {
    catalog?.close();
  }
}

/** Opens (or creates) the embedded index in directory `dir`. */
export function openEmbeddedIndex(dir: string, options: OpenIndexOptions = {}): EmbeddedStore {
  const resolved = path.resolve(dir);
  const readonly = options.readonly ?? false;
  const exists = existsSync(path.join(resolved, CATALOG_FILE));
  // before anything is written: an index created without its model could not be opened again
  checkModelOption(options, exists);
  if (!exists && (readonly || !options.create)) {
    // a graph file without its catalog: lost, not "no index" (a writer starts afresh beside it)
    const lost = catalogLost(resolved, 'is missing');
    if (lost) throw lost;
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
  const immutable = readonly && readsImmutable(resolved);
  const lock = readonly ? undefined : WriteLock.acquire(resolved);
  let catalog: Catalog | undefined;
  try {
    const catalogRepairs = exists && !readonly ? checkCatalogBeforeWriting(resolved, options.catalogCheck ?? 'quick') : [];
    // taken before the open: a file replaced in between is then seen as replaced, and opened again
    const catalogId = readonly ? catalogFileId(resolved) : undefined;
    catalog = new Catalog(resolved, { readonly, immutable });
    // a Node warning, as the int8 check's, for every writer (index, doctor, up, index copy): older rsclips can no longer read the index
    if (catalog.convertedFrom !== undefined) process.emitWarning(convertedNotice(resolved, catalog.convertedFrom), { code: 'RSCLIP_INDEX_CONVERTED' });
    let meta = readMeta(catalog, resolved);
    if (!meta) {
      const held = catalog.vectorsHeld();
      // vectors whose model record was lost are never taken over by another model: only one the caller vouches for is recorded
      const recordingLost = held.count > 0 && !readonly && options.recordLostModel === true && options.model !== undefined;
      if (readonly || !options.model || (held.count > 0 && !recordingLost)) throw modelNotRecorded(resolved, held, catalogRepairs);
      if (recordingLost) {
        assertModelFitsVectors(resolved, held.dim, options.model);
        catalogRepairs.push(`the catalog had lost the record of its vectors' model; recorded ${modelName(options.model.id, options.model.variant, options.model.fingerprint)}, given by --model`);
      }
      catalog.setMeta({
        model_id: options.model.id,
        model_fingerprint: options.model.fingerprint,
        embedding_dim: options.model.embeddingDim,
        metric: 'cosine',
        ...engineToMeta(resolveEngine(options.engine)),
        created_at: new Date().toISOString(),
        // a lost record's commits go on where the rebuilt catalog says they stopped
        commit_seq: catalog.commitSeq(),
        hnsw_seq: -1,
      });
      meta = readMeta(catalog, resolved)!;
    }
    if (!readonly && options.model && mayTakeModel(meta, options.model, catalog.commitSeq() === 0 && catalog.vectorsHeld().count === 0)) {
      process.emitWarning(tookModelNotice(meta, resolved, options.model), { code: 'RSCLIP_INDEX_MODEL_TAKEN' });
      catalog.setMeta({ model_id: options.model.id, model_fingerprint: options.model.fingerprint });
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
    const writeOnly = !readonly && (options.writeOnly ?? false);
    const sync = new GraphSync(resolved, catalog, meta, { ...options, graphInThread: writeOnly });
    if (!(readonly && options.deferGraph) && !writeOnly) sync.load();
    const thread = writeOnly ? new GraphThread(resolved, catalog, meta, options) : undefined;
    return new EmbeddedStore(resolved, meta, catalog, sync, thread, lock, catalogRepairs, options, catalogId);
  } catch (error) {
    catalog?.close();
    lock?.release();
    throw catalogError(path.join(resolved, CATALOG_FILE), error);
  }
}

export class EmbeddedStore implements IndexStore {
  readonly readonly: boolean;
  private planner: SearchPlanner;
  private closed = false;
  /** The tail of the chain that runs writes one at a time. */
  private writes: Promise<unknown> = Promise.resolve();
  /** Reads the items a filter allows in a thread of its own (read-only stores). */
  private scanner: SelectionScanner | undefined;
  /** Field names by the commit they were read at (filters check names on every request). */
  private fieldNamesAt: { seq: number; names: string[] } | undefined;
  /** When a reader last compared its catalog file with the one at the catalog's path. */
  private catalogLookedAt = Date.now();
  /** Why reads fail until the next look: the catalog file was removed, or what replaced it cannot be read. */
  private catalogLost: Error | undefined;

  constructor(
    private readonly dir: string,
    public meta: IndexMeta,
    private catalog: Catalog,
    private sync: GraphSync,
    /** A write-only store's graph, kept off the event loop. */
    private readonly thread: GraphThread | undefined,
    private readonly lock: WriteLock | undefined,
    /** What repairing the catalog at open did (verify reports it). */
    private catalogRepairs: string[] = [],
    private readonly options: OpenIndexOptions = {},
    /** A reader's: where the catalog file it opened is on the disk (catalogFileId). */
    private catalogId: string | undefined = undefined,
  ) {
    this.readonly = lock === undefined;
    this.planner = new SearchPlanner(catalog, sync, meta.embeddingDim);
    this.scanner = this.readonly && options.scanFiltersOffThread ? new SelectionScanner(catalog.source) : undefined;
  }

  /** Where commits go for the graph: the synchroniser, or the graph thread of a write-only store. */
  private get writer(): GraphWriter {
    return this.thread ?? this.sync;
  }

  /**
   * A reader follows the catalog file at its path, as it follows commits: one replaced there
   * (`doctor --repair` renames a rebuilt catalog in; an index deleted and built again) is opened
   * anew, graph included, and the files of the old one are let go; while none is there, or one of
   * another model, reads fail. One stat per refresh interval, not per read.
   */
  private followCatalogFile(): void {
    const now = Date.now();
    if (now - this.catalogLookedAt >= (this.options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS)) {
      this.catalogLookedAt = now;
      const id = catalogFileId(this.dir);
      if (id !== this.catalogId) this.openAgain(id);
    }
    if (this.catalogLost) throw this.catalogLost;
  }

  /** Opens the catalog file now at this store's path (`id`), or says why reads fail until the next look. */
  private openAgain(id: string | undefined): void {
    if (id === undefined) {
      this.catalogId = undefined;
      this.catalogLost = new RsclipError('INDEX_UNAVAILABLE', `index ${this.dir} is gone: its ${CATALOG_FILE} was removed while this process read it`, {
        hint: `it is read again once an index is there (\`rsclip index <archive dir> --index ${this.dir}\`)`,
      });
      return;
    }
    let fresh: EmbeddedStore;
    try {
      fresh = openEmbeddedIndex(this.dir, { ...this.options, readonly: true });
    } catch (error) {
      // e.g. an index still being created: tried again at the next look
      this.catalogLost = error as Error;
      return;
    }
    const { modelId, modelFingerprint, embeddingDim } = this.meta;
    if (fresh.meta.modelFingerprint !== modelFingerprint || fresh.meta.embeddingDim !== embeddingDim) {
      void fresh.close();
      this.catalogId = id;
      this.catalogLost = new RsclipError('INDEX_INCOMPATIBLE', `index ${this.dir} was replaced by an index of model ${fresh.meta.modelId} (fingerprint ${fresh.meta.modelFingerprint}), and this process reads model ${modelId} (fingerprint ${modelFingerprint})`, {
        hint: 'restart it to read the new index',
      });
      return;
    }
    const { catalog, scanner } = this;
    this.meta = fresh.meta;
    this.catalog = fresh.catalog;
    this.sync = fresh.sync;
    this.planner = fresh.planner;
    this.scanner = fresh.scanner;
    this.catalogId = fresh.catalogId;
    this.fieldNamesAt = undefined;
    this.catalogLost = undefined;
    catalog.close();
    void scanner?.close();
  }

  describe(): StoreDescription {
    const notices = [this.sync.builtInMemory, this.sync.servesOutdated].filter((n) => n !== undefined);
    return { backend: 'embedded', location: this.dir, directory: this.dir, ...(notices.length > 0 ? { notices } : {}) };
  }

  private assertOpen(): void {
    if (this.closed) throw new RsclipError('INDEX_CLOSED', `index ${this.dir} is closed`, { hint: 'open it again' });
  }

  private assertWritable(what: string): void {
    this.assertOpen();
    if (this.readonly) throw new RsclipError('INDEX_READ_ONLY', `cannot ${what}: index ${this.dir} was opened read-only`, { hint: 'open it without readonly' });
  }

  /** Runs a read of an open store; catalog errors (a damaged file, a failing disk) become RsclipErrors. */
  private async read<T>(body: () => T): Promise<T> {
    this.assertOpen();
    try {
      if (this.readonly) this.followCatalogFile();
      return body();
    } catch (error) {
      throw catalogError(this.catalog.file, error);
    }
  }

  /** Runs `write` after every write queued before it (commits, checkpoints and repairs never overlap). */
  private exclusive<T>(write: () => Promise<T> | T): Promise<T> {
    const run = this.writes.then(write).catch((error: unknown) => {
      throw catalogError(this.catalog.file, error);
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  countFiles(status?: FileStatus): Promise<number> {
    return this.read(() => filesCounted(this.catalog.totals(), status));
  }

  findFileByPath(absolutePath: string): Promise<FileRecord | undefined> {
    return this.read(() => this.catalog.findFileByAbsolutePath(path.resolve(absolutePath)));
  }

  /** Reads a filter's allowed items off the event loop, unless they are cached as of the current commit (read-only stores). */
  private async scanSelection(selection: ItemSelection): Promise<void> {
    if (!this.scanner || selection.filter === undefined) return;
    const needed = await this.read(() => {
      this.sync.refreshIfStale();
      return this.planner.needsScan(selection);
    });
    if (!needed) return;
    // as read: a catalog opened anew meanwhile has a scanner and a planner of its own
    const { scanner, planner, catalog } = this;
    const { seq, ids } = await scanner!.scan(selectionToSql(selection)).catch((error: unknown) => {
      throw catalogError(catalog.file, error);
    });
    planner.offerAllowed(selection, seq, ids);
  }

  async countItems(selection: ItemSelection = {}): Promise<number> {
    await this.scanSelection(selection);
    return this.read(() => {
      if (this.readonly) this.sync.refreshIfStale();
      return this.planner.countItems(selection);
    });
  }

  async listItemIds(selection: ItemSelection = {}): Promise<number[]> {
    await this.scanSelection(selection);
    return this.read(() => this.planner.itemIds(selection));
  }

  getItems(ids: readonly number[]): Promise<ItemRecord[]> {
    return this.read(() => this.catalog.getItems(ids));
  }

  fileItems(fileId: number): Promise<ItemRecord[]> {
    return this.read(() => this.catalog.fileItems(fileId));
  }

  fileItemKeys(fileId: number): Promise<Set<string>> {
    return this.read(() => this.catalog.fileItemKeys(fileId));
  }

  getVectors(ids: readonly number[]): Promise<Map<number, Float32Array>> {
    return this.read(() => this.catalog.getVectors(ids));
  }

  async *vectors(): AsyncIterable<[number, Float32Array]> {
    let after = 0;
    for (;;) {
      const page = await this.read(() => this.catalog.vectorPage(after, VECTOR_PAGE));
      yield* page;
      if (page.length < VECTOR_PAGE) return;
      after = page[page.length - 1]![0];
    }
  }

  getFields(ids: readonly number[]): Promise<Map<number, Record<string, FieldValue | FieldValue[]>>> {
    return this.read(() => this.catalog.getFields(ids));
  }

  fieldNames(): Promise<string[]> {
    return this.read(() => {
      if (this.readonly) this.sync.refreshIfStale();
      const seq = this.catalog.commitSeq();
      if (this.fieldNamesAt?.seq !== seq) this.fieldNamesAt = { seq, names: this.catalog.fieldNames() };
      return [...this.fieldNamesAt.names];
    });
  }

  listFiles(status: FileStatus, limit?: number): Promise<FileRecord[]> {
    return this.read(() => this.catalog.listFiles(status, limit));
  }

  async sampleItemIds(k: number): Promise<number[]> {
    const maxId = await this.read(() => this.catalog.maxItemId());
    return spreadItemSample(k, maxId, (id) => this.read(() => this.catalog.firstSearchableItemFrom(id)));
  }

  async search(query: Float32Array, k: number, options: SearchOptions = {}): Promise<ScoredId[]> {
    checkSearchArgs(k, options.ef);
    await this.scanSelection(options);
    return this.read(() => {
      if (this.readonly) this.sync.refreshIfStale();
      return this.planner.search(query, k, options);
    });
  }

  stats(): Promise<IndexStats> {
    return this.read(() => {
      if (this.readonly) this.sync.refreshIfStale();
      const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
      const catalogFile = path.join(this.dir, CATALOG_FILE);
      const totals = this.catalog.totals();
      return {
        location: this.dir,
        images: totals.files,
        items: this.planner.countItems({}),
        vectors: totals.vectors,
        lastChange: isoTime(totals.lastChangeMs),
        details: {
          hnsw: this.sync.graph.details(),
          graphFileReloads: this.sync.reloads,
          changesNotYetApplied: this.sync.behind,
          caches: { selections: { ...this.planner.selectionCacheUse(), scannedOffThread: this.scanner?.scans ?? 0 }, globs: globCacheUse() },
          bytesOnDisk: { catalog: size(catalogFile) + size(`${catalogFile}-wal`), hnsw: size(path.join(this.dir, GRAPH_FILE)) },
        },
      };
    });
  }

  knownFiles(root: string): Promise<Map<string, KnownFile>> {
    return this.read(() => {
      this.assertWritable('list known files');
      return this.catalog.knownFiles(path.resolve(root));
    });
  }

  roots(): Promise<string[]> {
    return this.read(() => {
      this.assertWritable('list archive roots');
      return this.catalog.roots();
    });
  }

  findReusableFile(contentHash: string, plan: string | null): Promise<ReusableFile | undefined> {
    return this.read(() => this.catalog.findReusableFile(contentHash, plan));
  }

  commit(changes: readonly CatalogChange[]): Promise<CommittedChange[]> {
    return this.exclusive(async () => {
      this.assertWritable('commit');
      checkPutVectors(changes, this.meta.embeddingDim);
      const seq = this.writer.nextSeq();
      const applied = this.catalog.applyChanges(changes, seq, Date.now(), reusesNodes(this.meta.engine));
      this.writer.applied(seq, applied.added, applied.dropped, applied.previous);
      await this.writer.checkpointIfDue();
      return applied.results;
    });
  }

  recordPlan(plan: string): Promise<void> {
    return this.exclusive(() => {
      this.assertWritable('record the plan');
      this.catalog.setMeta({ plan });
    });
  }

  importFields(records: readonly FieldRecord[]): Promise<FieldImportSummary> {
    return this.exclusive(() => {
      this.assertWritable('import fields');
      const seq = this.writer.nextSeq();
      const unmatched = this.catalog.importFields(records, seq);
      this.writer.advance(seq);
      const names = new Set<string>();
      for (const r of records) for (const name of r.fields.keys()) names.add(name);
      return { records: records.length, fields: [...names].sort(), unmatched };
    });
  }

  recordDecodeSettings(settings: string): Promise<void> {
    return this.exclusive(() => {
      this.assertWritable('record decoding settings');
      this.catalog.setMeta({ decode_settings: settings });
    });
  }

  flush(): Promise<void> {
    return this.exclusive(() => {
      this.assertWritable('flush');
      return this.writer.checkpoint();
    });
  }

  verify(): Promise<VerifyReport> {
    return this.exclusive(async () => {
      this.assertWritable('verify');
      this.sync.assertGraphHere();
      const repaired = [...this.catalogRepairs, ...this.sync.takeRepairsAtOpen()];
      this.catalogRepairs = [];
      const integrity = this.catalog.integrityCheck();
      if (integrity !== 'ok') {
        // nothing is written into a damaged catalog
        return {
          ok: false,
          checked: { images: 0, vectors: 0, hnswLabels: this.sync.graph.size },
          repaired,
          unrepaired: [`SQLite integrity check failed: ${integrity} (run \`rsclip doctor --repair\` to rebuild what can be rebuilt)`],
        };
      }

      const stray = this.catalog.deleteStrayVectors();
      if (stray > 0) repaired.push(`${stray} vectors of images that are not ok deleted`);

      // vectors the model could not have produced: their files are queued for embedding again
      const badVectors: number[] = [];
      for (const [id, vector] of this.catalog.iterateVectors()) {
        if (storedVectorProblem(vector, this.meta.embeddingDim) !== undefined) badVectors.push(id);
      }
      const missing = this.catalog.itemsWithoutVector();
      const requeue = [...badVectors, ...missing];
      if (requeue.length > 0) {
        const seq = this.sync.nextSeq();
        this.catalog.queueForEmbedding(requeue, seq);
        this.sync.advance(seq, requeue);
        if (badVectors.length > 0) repaired.push(`${badVectors.length} invalid vectors dropped; those items are re-embedded by the next \`rsclip index\``);
        if (missing.length > 0) repaired.push(`${missing.length} items of ok images had no vector; they are re-embedded by the next \`rsclip index\``);
      }
      const itemless = this.catalog.queueWholeFilesWithoutItem(this.sync.nextSeq());
      if (itemless > 0) {
        this.sync.advance(this.sync.nextSeq());
        repaired.push(`${itemless} ok images had no item; they are re-embedded by the next \`rsclip index\``);
      }

      const graph = this.sync.reconcile();
      repaired.push(...graph.repaired);
      const onDisk = this.sync.checkFileOnDisk();
      if (onDisk) repaired.push(`${onDisk}; written again from the graph checked against the catalog`);
      const recounted = this.catalog.recountTotals();
      if (recounted.length > 0) repaired.push(totalsRecounted(recounted));
      if (repaired.length > 0) this.sync.markDirty();
      await this.sync.checkpoint();
      this.planner.reset();
      return {
        ok: true,
        checked: { images: filesInArchive(this.catalog.totals()), vectors: graph.vectors, hnswLabels: this.sync.graph.size },
        repaired,
        unrepaired: [],
      };
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.exclusive(async () => {
      if (this.closed) return;
      try {
        if (!this.readonly) await this.writer.checkpoint();
      } finally {
        this.closed = true;
        this.sync.release();
        await this.thread?.close();
        this.catalog.close();
        this.lock?.release();
        await this.scanner?.close();
      }
    });
  }
}
