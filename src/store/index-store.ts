/**
 * openIndex: the catalog (truth) plus the HNSW graph (derived), kept in agreement.
 * On open the HNSW file is loaded and repaired from SQLite where it lags: every change
 * after the sequence number the file was checkpointed at is replayed, labels SQLite no
 * longer has are marked deleted, vectors it lacks are added.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../errors.js';
import type { ModelInfo } from '../model/index.js';
import { BruteForceIndex } from './brute-force-index.js';
import { Catalog, CATALOG_FILE } from './catalog.js';
import { debugPause } from './debug-pause.js';
import { readSidecar } from './field-sidecar.js';
import { DEFAULT_HNSW_PARAMS, HnswIndex } from './hnsw-index.js';
import { SCHEMA_VERSION } from './schema.js';
import type {
  CatalogChange,
  CatalogFilter,
  FieldImportSummary,
  FieldValue,
  ImageRecord,
  ImageStatus,
  IndexMeta,
  IndexStats,
  IndexStore,
  KnownFile,
  OpenIndexOptions,
  ScoredId,
  SearchOptions,
  VerifyReport,
} from './types.js';
import { unitVector, TopK } from './vector-math.js';
import { WriteLock } from './write-lock.js';

export const HNSW_FILE = 'vectors.hnsw';
/** Filters allowing at most this share of the index (or this many ids) are searched exactly. */
const EXACT_FILTER_SHARE = 0.05;
const EXACT_FILTER_MIN = 2000;
/** Readers look for new commits at most this often. */
const REFRESH_INTERVAL_MS = 1000;

function fp12(fingerprint: string): string {
  return fingerprint.slice(0, 12);
}

function readMeta(catalog: Catalog): IndexMeta | undefined {
  const m = catalog.getMeta();
  if (!m.has('model_fingerprint')) return undefined;
  return {
    schemaVersion: SCHEMA_VERSION,
    modelId: m.get('model_id') ?? '',
    modelFingerprint: m.get('model_fingerprint') ?? '',
    embeddingDim: Number(m.get('embedding_dim')),
    metric: 'cosine',
    hnsw: { M: Number(m.get('hnsw_m')), efConstruction: Number(m.get('hnsw_ef_construction')), seed: Number(m.get('hnsw_seed')) },
    createdAt: m.get('created_at') ?? '',
    modelDir: m.get('model_dir'),
    modelVariant: m.get('model_variant'),
  };
}

function checkModel(dir: string, meta: IndexMeta, model: ModelInfo | undefined): void {
  if (!model || model.fingerprint === meta.modelFingerprint) return;
  throw new RsclipError(
    'INDEX_INCOMPATIBLE',
    `index ${dir} was built with model ${meta.modelId} (${fp12(meta.modelFingerprint)}); you asked for ${model.id} (${fp12(model.fingerprint)})`,
    { hint: 'use --model with the model the index was built with, or index into a new --index dir' },
  );
}

export function openIndex(dir: string, options: OpenIndexOptions = {}): IndexStore {
  const resolved = path.resolve(dir);
  const readonly = options.readonly ?? false;
  const exists = existsSync(path.join(resolved, CATALOG_FILE));
  if (!exists && (readonly || !options.create)) {
    throw new RsclipError('INDEX_NOT_FOUND', `no index at ${resolved} (expected ${CATALOG_FILE} there)`, {
      hint: 'build one with `rsclip index <archive dir> --index ' + dir + '`',
    });
  }
  if (!exists) mkdirSync(resolved, { recursive: true });
  const lock = readonly ? undefined : WriteLock.acquire(resolved);
  let catalog: Catalog | undefined;
  try {
    catalog = new Catalog(resolved, { readonly });
    let meta = readMeta(catalog);
    if (!meta) {
      if (readonly || !options.model) {
        throw new RsclipError('INDEX_CORRUPT', `index ${resolved} has no model recorded in ${CATALOG_FILE}`, {
          hint: 'delete the directory and index again with --model',
        });
      }
      const hnsw = { ...DEFAULT_HNSW_PARAMS, ...options.hnsw };
      catalog.setMeta({
        model_id: options.model.id,
        model_fingerprint: options.model.fingerprint,
        embedding_dim: options.model.embeddingDim,
        metric: 'cosine',
        hnsw_m: hnsw.M,
        hnsw_ef_construction: hnsw.efConstruction,
        hnsw_seed: hnsw.seed,
        created_at: new Date().toISOString(),
        commit_seq: 0,
        hnsw_seq: -1,
      });
      meta = readMeta(catalog)!;
    }
    checkModel(resolved, meta, options.model);
    if (!readonly && options.model && (meta.modelDir !== options.model.dir || meta.modelVariant !== options.model.variant)) {
      // where the model was last seen, so search and serve can find it without --model
      catalog.setMeta({ model_dir: options.model.dir, model_variant: options.model.variant });
      meta = readMeta(catalog)!;
    }
    if (!readonly) removeStaleTempFiles(resolved);
    const store = new Store(resolved, meta, catalog, lock);
    store.loadHnsw();
    return store;
  } catch (error) {
    catalog?.close();
    lock?.release();
    throw error;
  }
}

/** Temp files of checkpoints a killed writer never renamed; only the lock holder may delete them. */
function removeStaleTempFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${HNSW_FILE}.tmp-`)) rmSync(path.join(dir, name), { force: true });
  }
}

class Store implements IndexStore {
  readonly readonly: boolean;
  private hnsw!: HnswIndex;
  /** Exact-search copy of every vector, built on the first exact search. */
  private exactCache: BruteForceIndex | undefined;
  private seenSeq = 0;
  private checkpointedSeq = -1;
  private lastRefresh = 0;
  private checkpointInFlight = false;
  private closed = false;
  /** What loadHnsw had to repair (shown by verify). */
  private openRepairs: string[] = [];

  constructor(
    readonly dir: string,
    readonly meta: IndexMeta,
    private readonly catalog: Catalog,
    private readonly lock: WriteLock | undefined,
  ) {
    this.readonly = lock === undefined;
  }

  private get hnswFile(): string {
    return path.join(this.dir, HNSW_FILE);
  }

  /** Loads the HNSW file (or starts empty) and replays what it lacks from SQLite. */
  loadHnsw(): void {
    const hnswSeq = this.catalog.metaNumber('hnsw_seq');
    this.seenSeq = this.catalog.metaNumber('commit_seq');
    let fromSeq = -1;
    let loaded: HnswIndex | undefined;
    if (hnswSeq >= 0 && existsSync(this.hnswFile)) {
      try {
        loaded = HnswIndex.load(this.hnswFile, this.meta.embeddingDim);
        fromSeq = hnswSeq;
      } catch (error) {
        this.openRepairs.push(`HNSW file unreadable (${(error as Error).message}); rebuilt from the catalog`);
      }
    } else if (existsSync(this.hnswFile)) {
      this.openRepairs.push('HNSW file was never recorded as checkpointed; rebuilt from the catalog');
    }
    const withVectors = this.catalog.vectorSeqs();
    this.hnsw = loaded ?? HnswIndex.create(this.meta.embeddingDim, this.meta.hnsw, Math.ceil(withVectors.length * 1.25));
    const active = new Set<number>();
    const toAdd: number[] = [];
    for (const { id, seq } of withVectors) {
      active.add(id);
      if (seq > fromSeq || !this.hnsw.has(id)) toAdd.push(id);
    }
    let deleted = 0;
    for (const id of this.hnsw.ids()) {
      if (!active.has(id)) {
        this.hnsw.markDeleted(id);
        deleted++;
      }
    }
    this.addFromCatalog(toAdd);
    if (loaded && (toAdd.length > 0 || deleted > 0)) {
      this.openRepairs.push(`HNSW file lagged the catalog: ${toAdd.length} vectors replayed, ${deleted} labels marked deleted`);
    }
    this.checkpointedSeq = loaded && toAdd.length === 0 && deleted === 0 ? this.seenSeq : fromSeq;
    this.lastRefresh = Date.now();
  }

  private addFromCatalog(ids: number[]): void {
    for (let i = 0; i < ids.length; i += 1000) {
      const vectors = this.catalog.getVectors(ids.slice(i, i + 1000));
      for (const [id, vector] of vectors) {
        this.hnsw.add(id, vector);
        this.exactCache?.add(id, vector);
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new RsclipError('BAD_INPUT', `index ${this.dir} is closed`);
  }

  private assertWritable(what: string): void {
    this.assertOpen();
    if (this.readonly) {
      throw new RsclipError('BAD_INPUT', `cannot ${what}: index ${this.dir} was opened read-only`, { hint: 'open it without readonly' });
    }
  }

  countImages(status?: ImageStatus): number {
    this.assertOpen();
    return this.catalog.countImages(status);
  }

  getImage(id: number): ImageRecord | undefined {
    this.assertOpen();
    return this.catalog.getImage(id);
  }

  getImages(ids: number[]): ImageRecord[] {
    this.assertOpen();
    return this.catalog.getImages(ids);
  }

  findImageByPath(absolutePath: string): ImageRecord | undefined {
    this.assertOpen();
    return this.catalog.findImageByAbsolutePath(path.resolve(absolutePath));
  }

  getVector(id: number): Float32Array | undefined {
    this.assertOpen();
    return this.catalog.getVector(id);
  }

  forEachVector(callback: (id: number, vector: Float32Array) => void): void {
    this.assertOpen();
    for (const [id, vector] of this.catalog.iterateVectors()) callback(id, vector);
  }

  refresh(): void {
    this.assertOpen();
    this.lastRefresh = Date.now();
    const seq = this.catalog.metaNumber('commit_seq');
    if (seq <= this.seenSeq) return;
    const changed = this.catalog.changedSince(this.seenSeq);
    this.seenSeq = seq;
    const toAdd: number[] = [];
    for (const { id, hasVector } of changed) {
      if (hasVector) toAdd.push(id);
      else {
        this.hnsw.markDeleted(id);
        this.exactCache?.markDeleted(id);
      }
    }
    this.addFromCatalog(toAdd);
  }

  private refreshIfStale(): void {
    if (this.readonly && Date.now() - this.lastRefresh >= REFRESH_INTERVAL_MS) this.refresh();
  }

  private exactIndex(): BruteForceIndex {
    if (!this.exactCache) {
      const cache = new BruteForceIndex(this.meta.embeddingDim, Math.max(1, this.hnsw.size));
      for (const [id, vector] of this.catalog.iterateVectors()) cache.add(id, vector);
      this.exactCache = cache;
    }
    return this.exactCache;
  }

  searchBestFirst(query: Float32Array, k: number, options: SearchOptions = {}): ScoredId[] {
    this.assertOpen();
    this.refreshIfStale();
    const allowed = options.allowedIds;
    const filter = allowed instanceof Set ? (id: number) => allowed.has(id) : allowed;
    if (options.exact) return this.exactIndex().searchBestFirst(query, k, { filter });
    if (allowed instanceof Set) {
      if (allowed.size <= Math.max(EXACT_FILTER_MIN, this.hnsw.size * EXACT_FILTER_SHARE)) {
        return this.exactOverIds([...allowed], query, k);
      }
    }
    const found = this.hnsw.searchBestFirst(query, k, { ef: options.ef, filter });
    const reachable = allowed instanceof Set ? Math.min(k, allowed.size, this.hnsw.size) : Math.min(k, this.hnsw.size);
    if (found.length < reachable) {
      // the graph walk ran out of (allowed, live) neighbours: answer exactly instead of short
      return this.exactIndex().searchBestFirst(query, k, { filter });
    }
    return found;
  }

  private exactOverIds(ids: number[], query: Float32Array, k: number): ScoredId[] {
    const q = unitVector(query);
    const top = new TopK(k);
    const vectors = this.catalog.getVectors(ids);
    for (const [id, vector] of vectors) {
      if (!this.hnsw.has(id)) continue;
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < q.length; i++) {
        dot += q[i]! * vector[i]!;
        norm += vector[i]! * vector[i]!;
      }
      top.offer(id, norm > 0 ? dot / Math.sqrt(norm) : 0);
    }
    return top.bestFirst();
  }

  filterIds(filter: CatalogFilter): number[] {
    this.assertOpen();
    return this.catalog.filterIds(filter);
  }

  getFields(ids: number[]): Map<number, Record<string, FieldValue | FieldValue[]>> {
    this.assertOpen();
    return this.catalog.getFields(ids);
  }

  async importFields(file: string): Promise<FieldImportSummary> {
    this.assertWritable('import fields');
    const records = await readSidecar(file);
    const unmatched = this.catalog.importFields(records);
    const names = new Set<string>();
    for (const r of records) for (const name of r.fields.keys()) names.add(name);
    return { file, records: records.length, fields: [...names].sort(), unmatched };
  }

  stats(): IndexStats {
    this.assertOpen();
    const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
    const catalogFile = path.join(this.dir, CATALOG_FILE);
    return {
      dir: this.dir,
      images: { ok: this.catalog.countImages('ok'), error: this.catalog.countImages('error'), removed: this.catalog.countImages('removed') },
      vectors: this.catalog.countVectors(),
      hnsw: { size: this.hnsw.size, deleted: this.hnsw.storedCount - this.hnsw.size, capacity: this.hnsw.capacity },
      bytesOnDisk: { catalog: size(catalogFile) + size(`${catalogFile}-wal`), hnsw: size(this.hnswFile) },
    };
  }

  knownFiles(root: string): Map<string, KnownFile> {
    this.assertOpen();
    return this.catalog.knownFiles(path.resolve(root));
  }

  findVectorByContentHash(contentHash: string): { id: number; vector: Float32Array } | undefined {
    this.assertOpen();
    return this.catalog.findVectorByContentHash(contentHash);
  }

  commit(changes: CatalogChange[]): number[] {
    this.assertWritable('commit');
    if (this.checkpointInFlight) throw new Error('IndexStore.commit called while a checkpoint is being written');
    for (const change of changes) {
      if (change.kind === 'put' && change.vector.length !== this.meta.embeddingDim) {
        throw new RsclipError('BAD_INPUT', `Expected vectors of length ${this.meta.embeddingDim} but received one of length ${change.vector.length} for ${change.image.path}`);
      }
    }
    const seq = this.seenSeq + 1;
    const ids = this.catalog.applyChanges(changes, seq, Date.now());
    this.seenSeq = seq;
    changes.forEach((change, i) => {
      const id = ids[i]!;
      if (change.kind === 'put') {
        this.hnsw.add(id, change.vector);
        this.exactCache?.add(id, change.vector);
      } else if (change.kind === 'fail' || change.kind === 'remove') {
        this.hnsw.markDeleted(id);
        this.exactCache?.markDeleted(id);
      }
    });
    return ids;
  }

  async checkpoint(): Promise<void> {
    this.assertWritable('checkpoint');
    if (this.checkpointedSeq === this.seenSeq && existsSync(this.hnswFile)) return;
    const seq = this.seenSeq;
    const temp = `${this.hnswFile}.tmp-${process.pid}`;
    this.checkpointInFlight = true;
    try {
      await this.hnsw.save(temp);
      await debugPause('checkpoint');
      await rename(temp, this.hnswFile);
    } catch (error) {
      await rm(temp, { force: true });
      throw new RsclipError('INDEX_CORRUPT', `cannot write ${this.hnswFile}: ${(error as Error).message}`, { cause: error });
    } finally {
      this.checkpointInFlight = false;
    }
    // after the rename: a crash in between leaves an older hnsw_seq, and replaying is idempotent
    this.catalog.setMeta({ hnsw_seq: seq });
    this.checkpointedSeq = seq;
  }

  async verify(): Promise<VerifyReport> {
    this.assertWritable('verify');
    const repaired = [...this.openRepairs];
    this.openRepairs = [];
    const unrepaired: string[] = [];
    const db = this.catalog.db;
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    if (integrity !== 'ok') unrepaired.push(`SQLite integrity check failed: ${integrity}`);

    const stray = db.prepare("DELETE FROM vectors WHERE image_id IN (SELECT id FROM images WHERE status != 'ok')").run().changes;
    if (stray > 0) repaired.push(`${stray} vectors of images that are not ok deleted`);

    // vectors the model could not have produced: the images are queued for re-embedding
    const badVectors: number[] = [];
    for (const [id, vector] of this.catalog.iterateVectors()) {
      if (vector.length !== this.meta.embeddingDim || !vector.every(Number.isFinite)) badVectors.push(id);
    }
    const missing = (db.prepare("SELECT id FROM images WHERE status = 'ok' AND id NOT IN (SELECT image_id FROM vectors)").all() as { id: number }[]).map((r) => r.id);
    const requeue = [...badVectors, ...missing];
    if (requeue.length > 0) {
      const seq = this.seenSeq + 1;
      const mark = db.prepare("UPDATE images SET status = 'error', error = ?, bytes = -1, seq = ? WHERE id = ?");
      const drop = db.prepare('DELETE FROM vectors WHERE image_id = ?');
      db.transaction(() => {
        for (const id of requeue) {
          drop.run(id);
          mark.run('vector missing or invalid; re-embedded by the next `rsclip index`', seq, id);
        }
        this.catalog.setMeta({ commit_seq: seq });
      })();
      this.seenSeq = seq;
      for (const id of requeue) {
        this.hnsw.markDeleted(id);
        this.exactCache?.markDeleted(id);
      }
      if (badVectors.length > 0) repaired.push(`${badVectors.length} invalid vectors dropped; those images are re-embedded by the next \`rsclip index\``);
      if (missing.length > 0) repaired.push(`${missing.length} ok images had no vector; they are re-embedded by the next \`rsclip index\``);
    }

    // HNSW against the catalog: membership and content
    const active = new Set<number>();
    let mismatched = 0;
    let absent = 0;
    for (const [id, vector] of this.catalog.iterateVectors()) {
      active.add(id);
      const stored = this.hnsw.getPoint(id);
      const unit = unitVector(vector);
      const differs = stored !== undefined && !unit.every((v, i) => Math.abs(v - stored[i]!) < 1e-4);
      if (!stored) absent++;
      if (differs) mismatched++;
      if (!stored || differs) this.hnsw.add(id, vector);
    }
    let extra = 0;
    for (const id of this.hnsw.ids()) {
      if (!active.has(id)) {
        this.hnsw.markDeleted(id);
        extra++;
      }
    }
    if (absent > 0) repaired.push(`${absent} vectors missing from HNSW added`);
    if (mismatched > 0) repaired.push(`${mismatched} HNSW vectors differed from the catalog and were replaced`);
    if (extra > 0) repaired.push(`${extra} HNSW labels without a catalog vector marked deleted`);
    if (repaired.length > 0) this.checkpointedSeq = -1;
    await this.checkpoint();
    this.exactCache = undefined;
    return {
      ok: unrepaired.length === 0,
      checked: { images: this.catalog.countImages(), vectors: active.size, hnswLabels: this.hnsw.storedCount },
      repaired,
      unrepaired,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.readonly) await this.checkpoint();
    } finally {
      this.closed = true;
      this.catalog.close();
      this.lock?.release();
    }
  }
}
