/**
 * indexArchive: scan -> change detection -> decode (concurrent, bounded) -> embed (batches)
 * -> commit (one atomic store commit per batch) -> flush at the end. The store and the
 * encoder come in open (the CLI opens them), so tests and other back ends can pass their own.
 *
 * Crash safety comes from the order of effects: a file counts as done only once its row
 * and vector are committed, so a rerun after kill -9 finds it unchanged (same size+mtime)
 * and skips it; removals are applied only after a complete scan.
 */
import path from 'node:path';
import { RsclipError, invalidParameter } from '../errors.js';
import type { ClipEncoder } from '../model/index.js';
import { assertModelMatches, type CatalogChange, type IndexStore, type KnownFile, type NewFile } from '../store/index.js';
// the crash tests' pause points (not part of the public surface)
import { debugPause } from '../store/debug-pause.js';
import { BoundedQueue } from './bounded-queue.js';
import { hashFile, type ContentHash } from './content-hash.js';
import { readSidecar } from './field-sidecar.js';
import { newScanProblems, scanRoot, type ScanProblems, type ScannedFile } from './scan.js';
import type { IndexArchiveOptions, IndexProgress, IndexSummary } from './types.js';

const DEFAULT_BATCH = 32;
const DEFAULT_DECODERS = 4;

interface WorkItem {
  file: ScannedFile;
  /** The catalog row for this path, unless it was removed earlier. */
  known: KnownFile | undefined;
}

/** What a decode worker hands to the encoder loop. */
type Prepared =
  | { kind: 'embed'; work: WorkItem; row: NewFile; pixels: Float32Array }
  | { kind: 'reuse'; work: WorkItem; row: NewFile; vector: Float32Array }
  /** Same content as a file embedded in this run but not committed yet. */
  | { kind: 'duplicate'; work: WorkItem; row: NewFile }
  | { kind: 'touch'; work: WorkItem }
  | { kind: 'fail'; work: WorkItem; row: NewFile; error: string };
type EmbedItem = Extract<Prepared, { kind: 'embed' }>;
type DuplicateItem = Extract<Prepared, { kind: 'duplicate' }>;

/** A batch handed to the model, with the catalog changes that commit alongside it. */
interface Stage {
  batch: EmbedItem[];
  changes: Prepared[];
  vectors: Promise<Float32Array[]>;
}

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw invalidParameter(name, 'a positive integer', value);
}

function baseRow(file: ScannedFile, contentHash: string): NewFile {
  return { root: file.root, path: file.path, bytes: file.bytes, mtimeMs: file.mtimeMs, contentHash, width: null, height: null, format: null };
}

function describeError(error: unknown): string {
  // the hint stays with the message (e.g. gdal_translate for a band-separate TIFF)
  if (error instanceof RsclipError) return error.toOneLine();
  const e = error as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String((error as Error)?.message ?? error);
}

export async function indexArchive(options: IndexArchiveOptions): Promise<IndexSummary> {
  if (!Array.isArray(options.roots) || options.roots.length === 0) {
    throw new RsclipError('BAD_INPUT', 'no archive folders to index: expected at least one folder', { hint: 'pass the folders, e.g. `rsclip index ./images`' });
  }
  checkPositive('batchSize', options.batchSize);
  checkPositive('decoders', options.decoders);
  assertModelMatches(options.store.meta, options.store.describe().location, options.encoder.info);
  return new ArchiveIndexer(options.store, options.encoder, options, performance.now()).run();
}

class ArchiveIndexer {
  private readonly batchSize: number;
  private readonly decoders: number;
  private readonly summary: IndexSummary;
  private readonly problems: ScanProblems = newScanProblems();
  /** Content hashes being embedded in this run and not yet committed. */
  private readonly uncommittedHashes = new Set<string>();
  /** Why a content hash failed in this run (for duplicates of a bad file). */
  private readonly failedHashes = new Map<string, string>();
  private total = 0;
  private done = 0;
  /** Files that failed before are tried again whatever their size and mtime (asked for, or other decoding settings). */
  private readonly retryFailed: boolean;

  constructor(
    private readonly store: IndexStore,
    private readonly encoder: ClipEncoder,
    private readonly options: IndexArchiveOptions,
    private readonly started: number,
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
    this.decoders = options.decoders ?? DEFAULT_DECODERS;
    this.retryFailed = options.retryErrors === true || (options.decodeSettings !== undefined && options.decodeSettings !== store.meta.decodeSettings);
    this.summary = {
      index: store.describe().location,
      scanned: 0,
      added: 0,
      updated: 0,
      removed: 0,
      reused: 0,
      embedded: 0,
      errors: 0,
      unchanged: 0,
      unreadableFolders: this.problems.unreadableFolders,
      symlinkLoops: this.problems.symlinkLoops,
      skipped: this.problems.skipped,
      interrupted: false,
      seconds: 0,
      modelSeconds: 0,
      imagesPerSecond: 0,
    };
  }

  private get aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<IndexSummary> {
    const { work, removals } = await this.scan();
    this.total = work.length;
    this.report('index');
    await this.process(work);
    if (!this.aborted && removals.length > 0) {
      await this.store.commit(removals.map((fileId) => ({ kind: 'remove', fileId })));
      this.summary.removed = removals.length;
    }
    this.summary.interrupted = this.aborted;
    const settings = this.options.decodeSettings;
    if (!this.aborted && settings !== undefined && settings !== this.store.meta.decodeSettings) await this.store.recordDecodeSettings(settings);
    await this.store.flush();
    if (this.options.fields && !this.aborted) {
      this.summary.fields = await this.store.importFields(await readSidecar(this.options.fields));
    }
    this.summary.seconds = (performance.now() - this.started) / 1000;
    this.summary.imagesPerSecond = this.summary.seconds > 0 ? this.summary.embedded / this.summary.seconds : 0;
    this.report('finish');
    return this.summary;
  }

  private async scan(): Promise<{ work: WorkItem[]; removals: number[] }> {
    const work: WorkItem[] = [];
    const removals: number[] = [];
    for (const root of this.options.roots) {
      const absoluteRoot = path.resolve(root);
      const known = await this.store.knownFiles(absoluteRoot);
      const seen = new Set<string>();
      const indexDir = this.store.describe().directory;
      const scanOptions = { include: this.options.include, exclude: this.options.exclude, signal: this.options.signal, skipDirs: indexDir ? [indexDir] : [] };
      const scan = scanRoot(absoluteRoot, scanOptions, this.problems);
      for await (const file of scan) {
        this.summary.scanned++;
        seen.add(file.path);
        const row = known.get(file.path);
        const current = row && row.status !== 'removed' ? row : undefined;
        const retry = current?.status === 'error' && this.retryFailed;
        if (current && !current.needsEmbedding && !retry && current.bytes === file.bytes && current.mtimeMs === file.mtimeMs) this.summary.unchanged++;
        else work.push({ file, known: current });
        if (this.summary.scanned === 1) await debugPause('scan');
        if (this.summary.scanned % 1000 === 0) this.report('scan');
      }
      if (this.aborted) break;
      const unreadable = this.problems.unreadableFolders.map((f) => (f === '' ? '' : `${f}/`));
      for (const [relPath, row] of known) {
        if (row.status === 'removed' || seen.has(relPath)) continue;
        if (unreadable.some((prefix) => relPath.startsWith(prefix))) continue;
        removals.push(row.id);
      }
    }
    return { work, removals };
  }

  /**
   * Decode workers fill the queue; this loop batches and embeds. While the model runs batch
   * N+1, batch N is committed (catalog + graph insert), so the model never waits on a commit.
   */
  private async process(work: WorkItem[]): Promise<void> {
    const queue = new BoundedQueue<Prepared>(this.batchSize * 2);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < work.length && !this.aborted && !failed) {
        const item = work[next++]!;
        await queue.put(await this.prepare(item));
      }
    };
    const workers = Promise.all(Array.from({ length: this.decoders }, worker)).finally(() => queue.close());

    let batch: EmbedItem[] = [];
    let changes: Prepared[] = [];
    let waiting: DuplicateItem[] = [];
    let inFlight: Stage | undefined;
    const advance = async (): Promise<void> => {
      const finished = inFlight;
      const vectors = finished ? await finished.vectors : [];
      inFlight = { batch, changes, vectors: this.startEmbedding(batch) };
      batch = [];
      changes = [];
      if (finished) waiting = await this.commitStage(finished.batch, vectors, finished.changes, waiting);
    };
    try {
      for (;;) {
        const item = await queue.take();
        if (item === undefined || this.aborted) break;
        if (item.kind === 'embed') batch.push(item);
        else if (item.kind === 'duplicate') waiting.push(item);
        else changes.push(item);
        if (batch.length >= this.batchSize || changes.length >= this.batchSize * 4) await advance();
      }
      if (this.aborted) {
        queue.close();
        queue.drain();
        await workers;
        // the batch the model is running is committed; decoded but unembedded images are redone next run
        if (inFlight) await this.commitStage(inFlight.batch, await inFlight.vectors, inFlight.changes, []);
        if (changes.length > 0) await this.commitStage([], [], changes, []);
        return;
      }
      await workers;
      await advance();
      await advance(); // commits the last batch
      // duplicates whose original was committed in the last batch: every embedding is committed now
      if (waiting.length > 0) await this.commitStage([], [], [], waiting, { final: true });
    } catch (error) {
      // stop the decoders before the store closes under them
      failed = true;
      queue.close();
      await workers.catch(() => undefined);
      throw error;
    }
  }

  private startEmbedding(batch: EmbedItem[]): Promise<Float32Array[]> {
    if (batch.length === 0) return Promise.resolve([]);
    const t0 = performance.now();
    const vectors = this.encoder.embedPixels(batch.map((b) => b.pixels)).then((v) => {
      this.summary.modelSeconds += (performance.now() - t0) / 1000;
      return v;
    });
    vectors.catch(() => undefined); // awaited later; an abandoned failure must not become an unhandled rejection
    return vectors;
  }

  private async prepare(work: WorkItem): Promise<Prepared> {
    const { file } = work;
    let hashed: ContentHash;
    try {
      // streamed: never the whole file in memory (scenes of several GiB)
      hashed = await hashFile(file.absolutePath);
    } catch (error) {
      return { kind: 'fail', work, row: baseRow(file, ''), error: `cannot read file: ${describeError(error)}` };
    }
    const contentHash = hashed.sha256;
    const row = { ...baseRow(file, contentHash), bytes: hashed.bytes };
    if (hashed.bytes === 0) return { kind: 'fail', work, row, error: 'empty file (0 bytes)' };
    if (work.known?.status === 'ok' && work.known.contentHash === contentHash) return { kind: 'touch', work };
    const stored = await this.store.findVectorByContentHash(contentHash);
    if (stored) return { kind: 'reuse', work, row: { ...row, width: stored.width, height: stored.height, format: stored.format }, vector: stored.vector };
    const failed = this.failedHashes.get(contentHash);
    if (failed !== undefined) return { kind: 'fail', work, row, error: failed };
    if (this.uncommittedHashes.has(contentHash)) return { kind: 'duplicate', work, row };
    this.uncommittedHashes.add(contentHash);
    try {
      // decoded from the path: the decoder reads what it needs, and errors name the file
      const pre = await this.encoder.preprocess(file.absolutePath);
      return { kind: 'embed', work, row: { ...row, width: pre.width, height: pre.height, format: pre.format }, pixels: pre.pixels };
    } catch (error) {
      const message = describeError(error);
      this.uncommittedHashes.delete(contentHash);
      this.failedHashes.set(contentHash, message);
      return { kind: 'fail', work, row, error: message };
    }
  }

  /** Commits an embedded batch with `changes` in one store commit; returns the duplicates still waiting. */
  private async commitStage(batch: EmbedItem[], vectors: Float32Array[], changes: Prepared[], waiting: DuplicateItem[], { final = false } = {}): Promise<DuplicateItem[]> {
    const commit: CatalogChange[] = [];
    const items: Prepared[] = [];
    if (batch.length > 0) {
      await debugPause('embedded');
      batch.forEach((b, i) => {
        commit.push({ kind: 'put', file: b.row, vector: vectors[i]! });
        items.push(b);
      });
    }
    for (const c of changes) {
      items.push(c);
      if (c.kind === 'reuse') commit.push({ kind: 'put', file: c.row, vector: c.vector });
      else if (c.kind === 'touch') commit.push({ kind: 'touch', fileId: c.work.known!.id, bytes: c.work.file.bytes, mtimeMs: c.work.file.mtimeMs });
      else if (c.kind === 'fail') commit.push({ kind: 'fail', file: c.row, error: c.error });
    }
    // duplicates of content committed before this flush can be resolved now
    const stillWaiting: DuplicateItem[] = [];
    for (const d of waiting) {
      if (!final && this.uncommittedHashes.has(d.row.contentHash)) {
        stillWaiting.push(d);
        continue;
      }
      const stored = await this.store.findVectorByContentHash(d.row.contentHash);
      const failed = this.failedHashes.get(d.row.contentHash);
      if (stored) {
        const row = { ...d.row, width: stored.width, height: stored.height, format: stored.format };
        commit.push({ kind: 'put', file: row, vector: stored.vector });
        items.push({ kind: 'reuse', work: d.work, row, vector: stored.vector });
      } else {
        const error = failed ?? 'identical content to a file that could not be indexed';
        commit.push({ kind: 'fail', file: d.row, error });
        items.push({ kind: 'fail', work: d.work, row: d.row, error });
      }
    }
    if (commit.length === 0) return stillWaiting;
    await this.store.commit(commit);
    for (const b of batch) this.uncommittedHashes.delete(b.row.contentHash);
    this.count(items);
    if (this.summary.embedded > 0 && this.summary.embedded === batch.length) await debugPause('committed');
    this.report('index');
    return stillWaiting;
  }

  private count(items: Prepared[]): void {
    for (const item of items) {
      this.done++;
      const isUpdate = item.work.known !== undefined;
      switch (item.kind) {
        case 'embed':
          this.summary.embedded++;
          if (isUpdate) this.summary.updated++;
          else this.summary.added++;
          break;
        case 'reuse':
          this.summary.reused++;
          if (isUpdate) this.summary.updated++;
          else this.summary.added++;
          break;
        case 'touch':
          this.summary.unchanged++;
          break;
        case 'fail':
          this.summary.errors++;
          break;
        case 'duplicate':
          break;
      }
    }
  }

  /** Called per commit and every 1000 scanned files; displays throttle themselves. */
  private report(phase: IndexProgress['phase']): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const now = performance.now();
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? this.summary.embedded / elapsed : 0;
    const itemRate = elapsed > 0 ? this.done / elapsed : 0;
    onProgress({
      phase,
      scanned: this.summary.scanned,
      total: this.total,
      done: this.done,
      errors: this.summary.errors,
      imagesPerSecond: rate,
      etaSeconds: phase === 'index' && itemRate > 0 ? (this.total - this.done) / itemRate : undefined,
    });
  }
}
