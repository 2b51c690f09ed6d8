/**
 * The graph synchroniser of the embedded back end: keeps the graph file (derived, rebuildable)
 * in step with catalog.sqlite (the truth), using the commit sequence both record.
 * - open: check the file (structure and the sha256 recorded at its checkpoint), load it, then
 *   replay every change committed after the sequence it was checkpointed at; labels the catalog
 *   no longer has are marked deleted, vectors it lacks are added; a damaged file is rebuilt from
 *   the catalog, never handed to the engine;
 * - readers: pick up what another process committed (at most every refresh interval);
 * - the writer: applies its own commits, and checkpoints the file (temp file, checked on the
 *   disk, then rename, then the sequence and sha256 it covers are recorded) at an interval and
 *   on flush;
 * - verify: compares every label and vector with the catalog and repairs the graph.
 * In-memory copies of the vectors (the planner's exact index) follow the same changes.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import { debugPause } from '../debug-pause.js';
import { checkGraphFile, createGraph, hnswBuildOf, loadGraph, reusesNodes, type GraphFileDigest, type GraphIndex } from '../engines.js';
import type { IndexMeta, VectorIndex } from '../types.js';
import type { Catalog } from './catalog.js';
import { neighbourhood, relinkUnreached } from './graph-relink.js';
import { describeMismatch, matchCheckpoint, recordCheckpoint, recordedCheckpoints, recordedSha256, recordPendingCheckpoint } from './graph-checkpoints.js';
import { describeWriteFailure, graphNotWritten, syncDirectory } from './write-failures.js';

export const GRAPH_FILE = 'vectors.hnsw';
export const DEFAULT_REFRESH_INTERVAL_MS = 1000;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000;

/** The interval until the next checkpoint after one that took `tookMs`: a large graph takes seconds to write, so checkpoints stay under ~5 % of the time. */
export function nextCheckpointInterval(intervalMs: number, tookMs: number): number {
  return Math.max(intervalMs, 20 * tookMs);
}
/**
 * A reader loads a newer graph file rather than replaying at least this many changes, and at least
 * this share of its graph's size. Adding a vector cost 0.19 ms (usearch, 100k items) to 0.55 ms
 * (hnswlib, 1,803 items per CPU-second at 1M); opening a file about 0.6 us per item mapped
 * (usearch's view: 1.7 s at 3M) and, loaded, under 7.6 us (22.8 s at 3M, a 3.5 GB hash included).
 */
const RELOAD_MIN_CHANGES = 100;
const RELOAD_SHARE = { mapped: 0.001, loaded: 0.013 };
/**
 * A reader that catches up in slices applies changes this many at a time, checking its time
 * budget between steps; without slices, as many as one read of vectors from the catalog (the
 * engine adds a large batch on several cores).
 */
const REPLAY_STEP = { sliced: 32, whole: 1000 };

export interface GraphSyncOptions {
  /** A reader: the graph file may be served memory-mapped (see engines.ts). */
  readonly?: boolean;
  refreshIntervalMs?: number;
  checkpointIntervalMs?: number;
  /** A reader applies other processes' changes for about this long per look, the rest at the next ones (default: all at once). */
  replaySliceMs?: number;
  /** A write-only store's: its graph is kept in a thread of its own (graph-thread.ts), and this one refuses to load it. */
  graphInThread?: boolean;
}

/** An item another process changed: it has a vector now (add or replace it), or not (remove it). */
type Change = { id: number; hasVector: number };

/** What a writer's commits need of the graph: GraphSync itself, or a write-only store's GraphThread. */
export interface GraphWriter {
  nextSeq(): number;
  applied(seq: number, added: readonly [number, Float32Array][], dropped: readonly number[], previous: readonly [number, Float32Array][]): void;
  advance(seq: number, droppedIds?: readonly number[]): void;
  checkpointIfDue(): Promise<void>;
  checkpoint(): Promise<void>;
}

export class GraphSync implements GraphWriter {
  private loadedGraph: GraphIndex | undefined;
  /** Copies kept in step, each with the most items it may hold. */
  private readonly mirrors = new Map<VectorIndex, number>();
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
  /** The file on the disk holds this graph (it was loaded after passing its checks, or written since). */
  private loadedFromFile = false;
  /** Newer graph files a reader loaded instead of applying the changes one by one. */
  reloads = 0;
  /** Items that changes since the last checkpoint may have left unreached (graph-relink.ts). */
  private readonly suspects = new Set<number>();
  /**
   * A reader that had to build its graph from the catalog (no usable file): it cannot save it, so
   * every reader pays this at every start until a writer does; said once, for the operator.
   */
  builtInMemory: string | undefined;
  /** A reader that serves a graph file of an older format (a writer would rebuild it); said once, for the operator. */
  servesOutdated: string | undefined;
  /** Changes a reader has read from the catalog and not applied yet, from `backlogAt` on. */
  private backlog: Change[] = [];
  private backlogAt = 0;
  private readonly replaySliceMs: number | undefined;
  private readonly graphInThread: boolean;

  constructor(
    private readonly dir: string,
    private readonly catalog: Catalog,
    private readonly meta: IndexMeta,
    options: GraphSyncOptions = {},
  ) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.mapped = options.readonly ?? false;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.replaySliceMs = options.replaySliceMs;
    this.graphInThread = options.graphInThread ?? false;
  }

  /** The graph; one not loaded yet (a reader that deferred it) is loaded now. */
  get graph(): GraphIndex {
    this.assertGraphHere();
    if (!this.loadedGraph) this.load();
    return this.loadedGraph!;
  }

  /** Throws INDEX_WRITE_ONLY when the graph is kept in a thread of its own (a write-only store). */
  assertGraphHere(): void {
    if (!this.graphInThread) return;
    throw new RsclipError('INDEX_WRITE_ONLY', `index ${this.dir} was opened to write only: its graph is built in a thread of its own and cannot be searched or checked from here`, {
      hint: 'open the index again (readonly, or without writeOnly) to search or verify it',
    });
  }

  /** How messages name the vector file: HNSW for the graph engines, ivf for the ivf engine's lists. */
  private get fileKind(): string {
    return this.meta.engine.name === 'ivf' ? 'ivf' : 'HNSW';
  }

  get file(): string {
    return path.join(this.dir, GRAPH_FILE);
  }

  /** The sequence number the next commit of this (single) writer gets. */
  nextSeq(): number {
    return this.seenSeq + 1;
  }

  /** The last commit the graph holds. */
  get appliedSeq(): number {
    return this.seenSeq;
  }

  /** The graph differs from the file on the disk (or was never written). */
  get unsaved(): boolean {
    return this.dirty;
  }

  /**
   * Loads the graph file (or starts empty) and replays what it lacks from the catalog. The file
   * is used only when its structure is sound and its sha256 is one the catalog recorded for it
   * (a file whose identity on the disk is the one recorded is not hashed again); otherwise it is
   * rebuilt from the catalog (in memory; a writer's next checkpoint replaces it). A file that
   * matches a checksummed checkpoint holds exactly the catalog's state at that commit, so only
   * the changes since are replayed: opening costs what changed, not the size of the index.
   */
  load(): void {
    let fromSeq = -1;
    let exact = false;
    let loaded: GraphIndex | undefined;
    // why the file is not used, when it is not
    let unusable = `there is no ${this.fileKind} file`;
    if (recordedCheckpoints(this.catalog).length > 0 && existsSync(this.file)) {
      try {
        ({ graph: loaded, fromSeq, exact } = this.openFile());
        // a reader keeps an outdated file (it cannot save what it would build): the next writer rebuilds it
        if (!this.mapped && loaded.outdated) {
          unusable = loaded.outdated;
          this.repairsAtOpen.push(`${unusable}; rebuilt from the catalog`);
          loaded = undefined;
        } else if (loaded.outdated) {
          this.servesOutdated = `${loaded.outdated}: this reader serves it as it is, so results may be less accurate until a writer rebuilds it (\`rsclip index\` on the archive, or \`rsclip doctor --index ${this.dir}\`)`;
        }
      } catch (error) {
        unusable = `${this.fileKind} file unreadable (${(error as Error).message})`;
        this.repairsAtOpen.push(`${unusable}; rebuilt from the catalog`);
      }
    } else if (existsSync(this.file)) {
      unusable = `${this.fileKind} file was never recorded as checkpointed`;
      this.repairsAtOpen.push(`${unusable}; rebuilt from the catalog`);
    } else if (recordedCheckpoints(this.catalog).length > 0) {
      // a checkpoint recorded a file here
      this.repairsAtOpen.push(`${this.fileKind} file missing; rebuilt from the catalog`);
    }
    const { added, deleted } = loaded && exact ? this.replayOnto(loaded, fromSeq) : this.rebuildFromCatalog(loaded, fromSeq);
    if (loaded && (added > 0 || deleted > 0)) {
      this.repairsAtOpen.push(`${this.fileKind} file lagged the catalog: ${added} vectors replayed, ${deleted} labels marked deleted`);
    } else if (this.repairsAtOpen.length === 0 && !loaded && added > 0 && !existsSync(this.file)) {
      // none was ever written or recorded: a writer's next checkpoint writes the first
      this.repairsAtOpen.push(`${this.fileKind} file never written (the run that indexed, or the copy that made the index, stopped before writing it); built from the catalog (${added} vectors)`);
    }
    this.dirty = !loaded || added > 0 || deleted > 0;
    this.loadedFromFile = loaded !== undefined;
    this.lastRefresh = Date.now();
    // a reader (its file mapped) cannot save what it built
    if (this.mapped && !loaded && added > 0) {
      this.builtInMemory = `${unusable}: this reader built the graph of ${added} vectors in memory, as every reader will at every start until a writer saves it (\`rsclip doctor --index ${this.dir}\`)`;
    }
  }

  /**
   * The graph file, checked (structure; sha256 unless its identity on the disk is the recorded
   * one) against the checkpoints the catalog recorded: the graph and the commit it holds, and
   * whether a checksum proved it (`exact`). Throws when the file is unreadable or matches none.
   */
  private openFile(): { graph: GraphIndex; fromSeq: number; exact: boolean } {
    const before = recordedCheckpoints(this.catalog);
    // a writer may checkpoint while the file is read: its records before and after both count
    const records = () => [...before, ...recordedCheckpoints(this.catalog)];
    let fromSeq = -1;
    let exact = false;
    const graph = loadGraph(this.meta.engine, this.file, this.meta.embeddingDim, {
      mapped: this.mapped,
      knownSha256: (identity) => recordedSha256(records(), identity),
      accept: (digest) => {
        const all = records();
        const match = matchCheckpoint(all, digest);
        if (!match) return describeMismatch(all, digest);
        // usearch trusts its file (damage inside crashes it): only a file with a recorded checksum is read
        if (match.sha256 === undefined && this.meta.engine.name === 'usearch') return 'no checksum of it was recorded, and usearch reads only checked files';
        fromSeq = match.seq;
        exact = match.sha256 !== undefined;
        return undefined;
      },
    });
    return { graph, fromSeq, exact };
  }

  /** `graph` holds the catalog's state at `fromSeq`: applies the changes committed since. */
  private replayOnto(graph: GraphIndex, fromSeq: number): { added: number; deleted: number } {
    this.loadedGraph = graph;
    const { seq, changed } = this.catalog.changesAfter(fromSeq);
    this.seenSeq = seq;
    const toAdd: number[] = [];
    let deleted = 0;
    for (const { id, hasVector } of changed) {
      if (hasVector) toAdd.push(id);
      else if (graph.has(id)) {
        graph.markDeleted(id);
        deleted++;
      }
    }
    this.addFromCatalog(toAdd);
    return { added: toAdd.length, deleted };
  }

  /** Makes `loaded` (or a new graph) hold exactly the catalog's vectors, comparing every item: for files of unknown content. */
  private rebuildFromCatalog(loaded: GraphIndex | undefined, fromSeq: number): { added: number; deleted: number } {
    const { seq, withVectors } = this.catalog.vectorSeqs();
    this.seenSeq = seq;
    this.loadedGraph = loaded ?? createGraph(this.meta.engine, this.meta.embeddingDim, Math.ceil(withVectors.length * 1.25));
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
    return { added: toAdd.length, deleted };
  }

  /** What loading repaired, once. */
  takeRepairsAtOpen(): string[] {
    const repairs = this.repairsAtOpen;
    this.repairsAtOpen = [];
    return repairs;
  }

  /** Keeps `mirror` in step with the graph from now on (it must hold the same vectors now), until it would hold more than `maxItems`. */
  follow(mirror: VectorIndex, maxItems = Infinity): void {
    this.mirrors.set(mirror, maxItems);
  }

  /** Whether `mirror` is still kept in step (a reader that loads a newer graph file lets its mirrors go). */
  follows(mirror: VectorIndex): boolean {
    return this.mirrors.has(mirror);
  }

  unfollowAll(): void {
    this.mirrors.clear();
  }

  private add(id: number, vector: Float32Array): void {
    this.graph.add(id, vector);
    this.feedMirrors(1, (mirror) => mirror.add(id, vector));
    this.dirty = true;
  }

  private remove(id: number): void {
    this.graph.markDeleted(id);
    this.feedMirrors(0, (mirror) => mirror.markDeleted(id));
    this.dirty = true;
  }

  private addMany(vectors: ReadonlyMap<number, Float32Array>): void {
    if (vectors.size === 0) return;
    this.graph.addMany(vectors);
    this.feedMirrors(vectors.size, (mirror) => {
      for (const [id, vector] of vectors) mirror.add(id, vector);
    });
    this.dirty = true;
  }

  /** Applies a change to each mirror; one that could grow past its bound stops following instead (its owner knows by `follows`). */
  private feedMirrors(added: number, apply: (mirror: VectorIndex) => void): void {
    for (const [mirror, maxItems] of this.mirrors) {
      if (mirror.size + added > maxItems) this.mirrors.delete(mirror);
      else apply(mirror);
    }
  }

  private addFromCatalog(ids: readonly number[]): void {
    for (let i = 0; i < ids.length; i += 1000) this.addMany(this.catalog.getVectors(ids.slice(i, i + 1000)));
  }

  /**
   * Picks up what another process committed since the last look, at most once per refresh
   * interval; a reader that catches up in slices goes on with its backlog at every look.
   */
  refreshIfStale(): void {
    // a graph not loaded yet will be loaded as of the commit of that moment
    if (!this.loadedGraph) return;
    if (this.loadedGraph.damage !== undefined) this.openAgain();
    else if (Date.now() - this.lastRefresh >= this.refreshIntervalMs) this.refresh();
    else if (this.behind > 0) this.applyBacklog();
  }

  /**
   * A graph that can no longer read its file (it was cut or written in place under a reader):
   * the file is opened again, or the graph built from the catalog if it does not pass its checks.
   */
  private openAgain(): void {
    this.release();
    this.mirrors.clear();
    this.backlog = [];
    this.backlogAt = 0;
    this.loadedGraph = undefined;
    this.load();
    this.reloads++;
  }

  /** Lets go of the graph's file (see GraphIndex.release). */
  release(): void {
    this.loadedGraph?.release?.();
  }

  /** Changes read and not applied yet (a reader catching up in slices). */
  get behind(): number {
    return this.backlog.length - this.backlogAt;
  }

  private refresh(): void {
    this.lastRefresh = Date.now();
    if (this.catalog.commitSeq() <= this.seenSeq) {
      if (this.behind > 0) this.applyBacklog();
      return;
    }
    const { seq, changed } = this.catalog.changesAfter(this.seenSeq);
    const behind = changed.length + this.behind;
    const reloadShare = RELOAD_SHARE[this.mapped && this.meta.engine.name === 'usearch' ? 'mapped' : 'loaded'];
    if (behind >= RELOAD_MIN_CHANGES && behind >= this.graph.size * reloadShare && this.reloadNewerFile()) return;
    this.seenSeq = seq;
    this.enqueue(changed);
  }

  /** Adds `changes` to the backlog (after what is still in it: a later state of an item wins) and applies it. */
  private enqueue(changes: readonly Change[]): void {
    this.backlog = this.backlogAt > 0 ? this.backlog.slice(this.backlogAt) : this.backlog;
    this.backlogAt = 0;
    for (const change of changes) this.backlog.push(change);
    this.applyBacklog();
  }

  /**
   * Applies the backlog: all of it, or for about replaySliceMs (a server: one request never waits
   * for minutes of another process's indexing; the changes are searchable a few requests later).
   */
  private applyBacklog(): void {
    const deadline = this.replaySliceMs === undefined ? Infinity : performance.now() + this.replaySliceMs;
    const step = this.replaySliceMs === undefined ? REPLAY_STEP.whole : REPLAY_STEP.sliced;
    while (this.backlogAt < this.backlog.length) {
      const end = Math.min(this.backlog.length, this.backlogAt + step);
      const toAdd: number[] = [];
      for (let i = this.backlogAt; i < end; i++) {
        const { id, hasVector } = this.backlog[i]!;
        if (hasVector) toAdd.push(id);
        else this.remove(id);
      }
      this.addFromCatalog(toAdd);
      this.backlogAt = end;
      if (performance.now() >= deadline) break;
    }
    if (this.backlogAt === this.backlog.length) {
      this.backlog = [];
      this.backlogAt = 0;
    }
  }

  /**
   * A reader far behind the catalog (it was idle while another process indexed) loads the
   * writer's newer graph file and replays only what came after it, instead of adding every
   * change to its graph on the event loop (0.2-0.6 ms per vector: minutes for an evening of
   * indexing). The mirrors stop following (their owner builds them again when it needs them).
   * False when no newer file passes its checks: the changes are then applied one by one.
   */
  private reloadNewerFile(): boolean {
    if (!recordedCheckpoints(this.catalog).some((c) => c.seq > this.seenSeq)) return false;
    let opened: ReturnType<GraphSync['openFile']>;
    try {
      opened = this.openFile();
    } catch {
      return false;
    }
    if (!opened.exact || opened.fromSeq <= this.seenSeq) {
      opened.graph.release?.();
      return false;
    }
    this.mirrors.clear();
    this.release();
    this.loadedGraph = opened.graph;
    const { seq, changed } = this.catalog.changesAfter(opened.fromSeq);
    this.seenSeq = seq;
    // what came after the file replaces the backlog: the file holds the state the backlog led to
    this.backlog = [];
    this.backlogAt = 0;
    this.enqueue(changed);
    this.reloads++;
    return true;
  }

  /**
   * Applies every change committed since the last look, at once and without loading a newer file
   * (the graph thread of a write-only store: the file is its own); `previous` are the vectors
   * those commits replaced or dropped, as they were.
   */
  catchUp(previous: readonly [number, Float32Array][] = []): void {
    this.changingAround(previous, () => {
      if (this.catalog.commitSeq() <= this.seenSeq) {
        // what a failed look left over
        if (this.behind > 0) this.applyBacklog();
        return;
      }
      const { seq, changed } = this.catalog.changesAfter(this.seenSeq);
      this.seenSeq = seq;
      this.enqueue(changed);
    });
  }

  /**
   * Applies what this process just committed as `seq`: item vectors added or replaced, items that
   * lost theirs, and the vectors it replaced or dropped, as they were.
   */
  applied(seq: number, added: readonly [number, Float32Array][], dropped: readonly number[], previous: readonly [number, Float32Array][]): void {
    this.seenSeq = seq;
    this.changingAround(previous, () => {
      for (const id of dropped) this.remove(id);
      // one call for the commit's vectors: an engine may add them on several cores
      this.addMany(new Map(added));
    });
  }

  /**
   * Runs `change`, which replaces or drops the vectors `previous` (as they were). Where the engine
   * reuses their nodes, the items around them (2 x M of each: a node's links on layer 0) and the
   * replaced items are suspects, checked before the next checkpoint (relinkSuspects): once for
   * all the commits in between, which also catches what later commits did to earlier ones.
   */
  private changingAround(previous: readonly [number, Float32Array][], change: () => void): void {
    if (previous.length === 0 || !reusesNodes(this.meta.engine)) return change();
    for (const id of neighbourhood(this.graph, previous.map(([, vector]) => vector), 2 * hnswBuildOf(this.meta.engine).M)) this.suspects.add(id);
    change();
    for (const [id] of previous) this.suspects.add(id);
  }

  /** Inserts again the suspects (changingAround) that a search for their own vector no longer finds. */
  relinkSuspects(): void {
    if (this.suspects.size === 0) return;
    if (relinkUnreached(this.graph, this.suspects, (ids) => this.catalog.getVectors(ids)) > 0) this.dirty = true;
    this.suspects.clear();
  }

  /** Records another commit of this process (user fields, repairs) that dropped the vectors of `droppedIds`, if any. */
  advance(seq: number, droppedIds: readonly number[] = []): void {
    this.seenSeq = seq;
    for (const id of droppedIds) this.remove(id);
  }

  /**
   * Writes the graph file if it changed (or is missing or damaged on the disk), and records the
   * commit it covers. The new file is checked on the disk (size, structure, sha256) before it
   * replaces the old one and before the catalog records it; a failed write leaves the old file
   * and the catalog as they were.
   */
  async checkpoint(): Promise<void> {
    this.relinkSuspects();
    await writeCheckpoint(this.dir, this.catalog, { seq: this.seenSeq, unsaved: this.dirty }, (temp) => this.graph.save(temp));
    this.markSaved();
    this.lastCheckpoint = performance.now();
  }

  /** The graph is the file on the disk now (it was just written, by this thread or the graph thread). */
  markSaved(): void {
    this.dirty = false;
    this.loadedFromFile = true;
  }

  /**
   * Checks the graph file on the disk against its checkpoint record (a file damaged since it was
   * loaded); a damaged or missing file is written again at the next checkpoint.
   */
  checkFileOnDisk(): string | undefined {
    if (!this.loadedFromFile) return undefined; // rebuilt at open: rewritten anyway
    const records = recordedCheckpoints(this.catalog);
    let problem: string | undefined;
    if (!existsSync(this.file)) problem = `${this.fileKind} file missing`;
    else {
      try {
        const digest = checkGraphFile(this.meta.engine, this.file, this.meta.embeddingDim);
        if (!matchCheckpoint(records, digest)) problem = `${this.fileKind} file on the disk damaged (${describeMismatch(records, digest)})`;
      } catch (error) {
        problem = `${this.fileKind} file on the disk damaged (${(error as Error).message})`;
      }
    }
    if (problem) this.dirty = true;
    return problem;
  }

  /** A checkpoint when the interval has passed (stretched by nextCheckpointInterval). */
  async checkpointIfDue(): Promise<void> {
    if (performance.now() - this.lastCheckpoint < this.checkpointIntervalMs) return;
    const started = performance.now();
    await this.checkpoint();
    this.checkpointIntervalMs = nextCheckpointInterval(this.checkpointIntervalMs, performance.now() - started);
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
    if (absent > 0) repaired.push(`${absent} vectors missing from ${this.fileKind} added`);
    // usearch answers `stores` by a search, which cannot tell a vector that differs from one its graph does not reach
    if (mismatched > 0) {
      const unreached = this.meta.engine.name === 'usearch' ? ' or no search reached them (a graph build leaves a few such nodes, not damage)' : '';
      repaired.push(`${mismatched} ${this.fileKind} vectors differed from the catalog${unreached}, and were inserted again`);
    }
    if (extra > 0) repaired.push(`${extra} ${this.fileKind} labels without a catalog vector marked deleted`);
    return { vectors: active.size, repaired };
  }

  /** Makes the next checkpoint write the file (after repairs). */
  markDirty(): void {
    this.dirty = true;
  }
}

/**
 * A checkpoint of a graph that holds the catalog's commits up to `seq`: a graph that differs from
 * its file (or a missing file) is saved by `save` to a temporary file, checked on the disk, and
 * put in place between the catalog's pending and current records; otherwise only the sequence the
 * file covers moves on. A failed write leaves the old file and the catalog as they were.
 */
export async function writeCheckpoint(dir: string, catalog: Catalog, graph: { seq: number; unsaved: boolean }, save: (temp: string) => Promise<GraphFileDigest>): Promise<void> {
  const file = path.join(dir, GRAPH_FILE);
  if (!graph.unsaved && existsSync(file)) {
    // after the rename: a crash in between leaves an older hnsw_seq, and replaying is idempotent
    if (catalog.metaNumber('hnsw_seq') !== graph.seq) recordCheckpoint(catalog, graph.seq);
    return;
  }
  const temp = `${file}.tmp-${process.pid}`;
  let digest: GraphFileDigest;
  try {
    digest = await save(temp);
    await debugPause('checkpoint');
    recordPendingCheckpoint(catalog, graph.seq, digest);
    await rename(temp, file);
    await syncDirectory(dir);
  } catch (error) {
    const failure = await describeWriteFailure(dir, error);
    await rm(temp, { force: true });
    throw graphNotWritten(file, failure, error);
  }
  recordCheckpoint(catalog, graph.seq, digest);
}

/** Temp files of checkpoints a killed writer never renamed; only the lock holder may delete them. */
export function removeStaleTempFiles(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${GRAPH_FILE}.tmp-`)) rmSync(path.join(dir, name), { force: true });
  }
}
