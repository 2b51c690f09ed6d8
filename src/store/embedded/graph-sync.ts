/**
 * The graph synchroniser of the embedded back end: keeps the graph file (derived, rebuildable)
 * in step with catalog.sqlite (the truth), using the commit sequence both record.
 * - open: load the file, then replay every change committed after the sequence it was
 *   checkpointed at; labels the catalog no longer has are marked deleted, vectors it lacks
 *   are added; an unreadable file is rebuilt from the catalog;
 * - readers: pick up what another process committed (at most every refresh interval);
 * - the writer: applies its own commits, and checkpoints the file (temp file + rename, then
 *   the sequence it covers is recorded) at an interval and on flush;
 * - verify: compares every label and vector with the catalog and repairs the graph.
 * In-memory copies of the vectors (the planner's exact index) follow the same changes.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { debugPause } from '../debug-pause.js';
import { createGraph, loadGraph, type GraphIndex } from '../engines.js';
import type { CatalogChange, IndexMeta, VectorIndex } from '../types.js';
import type { Catalog } from './catalog.js';

export const GRAPH_FILE = 'vectors.hnsw';
const DEFAULT_REFRESH_INTERVAL_MS = 1000;
const DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000;

export interface GraphSyncOptions {
  /** A reader: the graph file may be served memory-mapped (see engines.ts). */
  readonly?: boolean;
  refreshIntervalMs?: number;
  checkpointIntervalMs?: number;
}

export class GraphSync {
  graph!: GraphIndex;
  private readonly mirrors = new Set<VectorIndex>();
  /** The last commit this process has applied to the graph. */
  private seenSeq = 0;
  /** The graph differs from the file (changes since the last checkpoint). */
  private dirty = true;
  private lastRefresh = 0;
  private readonly refreshIntervalMs: number;
  private readonly mapped: boolean;
  private checkpointIntervalMs: number;
  private lastCheckpoint = performance.now();
  /** What loading had to repair (verify reports it). */
  private repairsAtOpen: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly catalog: Catalog,
    private readonly meta: IndexMeta,
    options: GraphSyncOptions = {},
  ) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.mapped = options.readonly ?? false;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  }

  get file(): string {
    return path.join(this.dir, GRAPH_FILE);
  }

  /** The sequence number the next commit of this (single) writer gets. */
  nextSeq(): number {
    return this.seenSeq + 1;
  }

  /** Loads the graph file (or starts empty) and replays what it lacks from the catalog. */
  load(): void {
    const fileSeq = this.catalog.metaNumber('hnsw_seq');
    this.seenSeq = this.catalog.commitSeq();
    let fromSeq = -1;
    let loaded: GraphIndex | undefined;
    if (fileSeq >= 0 && existsSync(this.file)) {
      try {
        loaded = loadGraph(this.meta.engine, this.file, this.meta.embeddingDim, { mapped: this.mapped });
        fromSeq = fileSeq;
      } catch (error) {
        this.repairsAtOpen.push(`HNSW file unreadable (${(error as Error).message}); rebuilt from the catalog`);
      }
    } else if (existsSync(this.file)) {
      this.repairsAtOpen.push('HNSW file was never recorded as checkpointed; rebuilt from the catalog');
    }
    const withVectors = this.catalog.vectorSeqs();
    this.graph = loaded ?? createGraph(this.meta.engine, this.meta.embeddingDim, Math.ceil(withVectors.length * 1.25));
    const active = new Set<number>();
    const toAdd: number[] = [];
    for (const { id, seq } of withVectors) {
      active.add(id);
      if (seq > fromSeq || !this.graph.has(id)) toAdd.push(id);
    }
    let deleted = 0;
    for (const id of this.graph.ids()) {
      if (!active.has(id)) {
        this.graph.markDeleted(id);
        deleted++;
      }
    }
    this.addFromCatalog(toAdd);
    if (loaded && (toAdd.length > 0 || deleted > 0)) {
      this.repairsAtOpen.push(`HNSW file lagged the catalog: ${toAdd.length} vectors replayed, ${deleted} labels marked deleted`);
    }
    this.dirty = !loaded || toAdd.length > 0 || deleted > 0;
    this.lastRefresh = Date.now();
  }

  /** What loading repaired, once. */
  takeRepairsAtOpen(): string[] {
    const repairs = this.repairsAtOpen;
    this.repairsAtOpen = [];
    return repairs;
  }

  /** Keeps `mirror` in step with the graph from now on (it must hold the same vectors now). */
  follow(mirror: VectorIndex): void {
    this.mirrors.add(mirror);
  }

  unfollowAll(): void {
    this.mirrors.clear();
  }

  private add(id: number, vector: Float32Array): void {
    this.graph.add(id, vector);
    for (const mirror of this.mirrors) mirror.add(id, vector);
    this.dirty = true;
  }

  private remove(id: number): void {
    this.graph.markDeleted(id);
    for (const mirror of this.mirrors) mirror.markDeleted(id);
    this.dirty = true;
  }

  private addMany(vectors: ReadonlyMap<number, Float32Array>): void {
    if (vectors.size === 0) return;
    this.graph.addMany(vectors);
    for (const mirror of this.mirrors) for (const [id, vector] of vectors) mirror.add(id, vector);
    this.dirty = true;
  }

  private addFromCatalog(ids: readonly number[]): void {
    for (let i = 0; i < ids.length; i += 1000) this.addMany(this.catalog.getVectors(ids.slice(i, i + 1000)));
  }

  /** Picks up what another process committed since the last look, at most once per refresh interval. */
  refreshIfStale(): void {
    if (Date.now() - this.lastRefresh >= this.refreshIntervalMs) this.refresh();
  }

  private refresh(): void {
    this.lastRefresh = Date.now();
    const seq = this.catalog.commitSeq();
    if (seq <= this.seenSeq) return;
    const changed = this.catalog.changedSince(this.seenSeq);
    this.seenSeq = seq;
    const toAdd: number[] = [];
    for (const { id, hasVector } of changed) {
      if (hasVector) toAdd.push(id);
      else this.remove(id);
    }
    this.addFromCatalog(toAdd);
  }

  /** Applies what this process just committed as `seq` (changes and the ids they were written under). */
  applied(seq: number, changes: readonly CatalogChange[], ids: readonly number[]): void {
    this.seenSeq = seq;
    const puts = new Map<number, Float32Array>();
    changes.forEach((change, i) => {
      if (change.kind === 'put') puts.set(ids[i]!, change.vector);
      else if (change.kind === 'fail' || change.kind === 'remove') {
        puts.delete(ids[i]!);
        this.remove(ids[i]!);
      }
    });
    // one call for the commit's vectors: an engine may add them on several cores
    this.addMany(puts);
  }

  /** Records another commit of this process (user fields, repairs) that dropped the vectors of `droppedIds`, if any. */
  advance(seq: number, droppedIds: readonly number[] = []): void {
    this.seenSeq = seq;
    for (const id of droppedIds) this.remove(id);
  }

  /** Writes the graph file if it changed, and records the commit it covers. */
  async checkpoint(): Promise<void> {
    const seq = this.seenSeq;
    if (this.dirty || !existsSync(this.file)) {
      const temp = `${this.file}.tmp-${process.pid}`;
      try {
        await this.graph.save(temp);
        await debugPause('checkpoint');
        await rename(temp, this.file);
      } catch (error) {
        await rm(temp, { force: true });
        throw new RsclipError('INDEX_UNWRITABLE', `cannot write ${this.file}: ${(error as Error).message}`, {
          cause: error,
          hint: 'check the free space and permissions of the index directory; the catalog keeps every commit',
        });
      }
      this.dirty = false;
    }
    // after the rename: a crash in between leaves an older hnsw_seq, and replaying is idempotent
    if (this.catalog.metaNumber('hnsw_seq') !== seq) this.catalog.setMeta({ hnsw_seq: seq });
    this.lastCheckpoint = performance.now();
  }

  /** A checkpoint when the interval has passed; a large graph takes seconds to write, so checkpoints stay under ~5 % of the time. */
  async checkpointIfDue(): Promise<void> {
    if (performance.now() - this.lastCheckpoint < this.checkpointIntervalMs) return;
    const started = performance.now();
    await this.checkpoint();
    this.checkpointIntervalMs = Math.max(this.checkpointIntervalMs, 20 * (performance.now() - started));
  }

  /** Compares every catalog vector with the graph and repairs the graph: membership and content. */
  reconcile(): { vectors: number; repaired: string[] } {
    const active = new Set<number>();
    let mismatched = 0;
    let absent = 0;
    for (const [id, vector] of this.catalog.iterateVectors()) {
      active.add(id);
      const present = this.graph.has(id);
      const differs = present && !this.graph.stores(id, vector);
      if (!present) absent++;
      if (differs) mismatched++;
      if (!present || differs) this.add(id, vector);
    }
    let extra = 0;
    for (const id of this.graph.ids()) {
      if (!active.has(id)) {
        this.remove(id);
        extra++;
      }
    }
    const repaired: string[] = [];
    if (absent > 0) repaired.push(`${absent} vectors missing from HNSW added`);
    if (mismatched > 0) repaired.push(`${mismatched} HNSW vectors differed from the catalog and were replaced`);
    if (extra > 0) repaired.push(`${extra} HNSW labels without a catalog vector marked deleted`);
    return { vectors: active.size, repaired };
  }

  /** Makes the next checkpoint write the file (after repairs). */
  markDirty(): void {
    this.dirty = true;
  }
}

/** Temp files of checkpoints a killed writer never renamed; only the lock holder may delete them. */
export function removeStaleTempFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${GRAPH_FILE}.tmp-`)) rmSync(path.join(dir, name), { force: true });
  }
}
