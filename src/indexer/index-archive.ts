/**
 * indexArchive: scan -> change detection -> decode (concurrent, bounded) -> embed (batches)
 * -> commit (one atomic store commit per batch) -> flush at the end. The store and the
 * encoder come in open (the CLI opens them), so tests and other back ends can pass their own.
 *
 * A file is cut into windows by the plan (a small image stays one whole-image item); decode
 * workers hand the windows over one by one, so a scene of any size streams through the bounded
 * queue while the model runs. The model sits behind an Embedder (types.ts): this process's
 * encoder by default, or a queue's workers, which are given descriptions of the windows instead
 * of pixels; either way batches are committed in the order they were sent. Crash safety comes from the order of effects: items are committed
 * in batches keyed by (file, window), and a file counts as done only once its last batch says
 * so (`complete`); a rerun after kill -9 finds finished files unchanged (same size, mtime and
 * plan) and skips them, and resumes an unfinished scene at the first window it lacks. Removals
 * are applied only after a complete scan.
 */
import { readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RsclipError, invalidParameter, isRsclipError } from '../errors.js';
import { vectorProblem } from '../vector-math.js';
import { isInside } from '../path-inside.js';
import { assertModelMatches } from '../store/model-binding.js';
import type { CatalogChange, IndexStore, NewItem } from '../store/types.js';
// the crash tests' pause points (not part of the public surface)
import { debugPause } from '../store/debug-pause.js';
import { BoundedQueue } from './bounded-queue.js';
import { openPixelPreparer, type PixelPreparer } from './decode-pool.js';
import { readSidecar } from './field-sidecar.js';
import { chooseIndexingThreads, maxDecodeThreads } from './indexing-threads.js';
import { threadCpuSeconds } from './thread-cpu.js';
import { IndexPlan, recordedPlanOptions } from './plan.js';
import { localEmbedder } from './local-embedder.js';
import { RunPlacesTally } from './run-places.js';
import { failedContent, FilePreparer, recordFailedContent, type FileJob, type RunState, type Unit, type WorkItem } from './prepare-file.js';
import { checkRootsApart, isHiddenEntry, isImagePath, listedFiles, newScanProblems, scanRoot, type ScanProblems, type ScannedFile } from './scan.js';
import type { EmbedResult, EmbedUnit, Embedder, IndexArchiveOptions, IndexProgress, IndexSummary } from './types.js';

const DEFAULT_DECODERS = 4;
/**
 * Files prepared at once by a coordinator (its embedder decodes elsewhere) into a store on a
 * server: it only hashes and describes them, holding no pixels, so it mostly waits on the disk and
 * on the store's lookups of reusable content (a round trip per group, so more at once make fewer,
 * larger groups; each holds at most one read of the content hash, 1 MiB). 20,000 small files into
 * a local PostgreSQL (bench/queue.ts, a group's lookup one round trip), commits in items/s: 16 at
 * once 2,139 and 2,385, 64 at once 3,202-3,978 (four runs), 128 at once 3,881 and 4,229, 256
 * at once 4,214. On 2,000 small files into the embedded index, whose lookups take microseconds,
 * 16 gained nothing over 4 (4,724 and 4,126 against 4,789 and 4,787), so it keeps the decoders'
 * default.
 */
const SERVER_STORE_DESCRIBERS = 128;
/**
 * Batches whose results have all arrived (an embedder with many in flight, a queue) commit
 * together up to this many windows: a store commit costs less per item when larger, and a
 * coordinator behind its fleet catches up by taking more at once.
 */
const MAX_WINDOWS_PER_COMMIT = 1024;
/**
 * A file whose status changed (ctime) less than this before its row was written is hashed again:
 * file times come from the kernel's coarse clock (a tick behind Date.now()), and some file
 * systems keep whole seconds, so a change just after a commit can carry an earlier time.
 */
const CTIME_SLACK_MS = 1000;
/** How often progress is reported while a queue embeds, commits or not. */
const QUEUE_PROGRESS_MS = 1000;
/** What changedSinceScan says of a file that went away. */
const GONE = Symbol('gone');

type DuplicateUnit = Extract<Unit, { kind: 'duplicate' }>;
type FailUnit = Extract<Unit, { kind: 'fail' }>;

/** A batch handed to the model, with the units that commit alongside it. */
interface Stage {
  batch: EmbedUnit[];
  changes: Unit[];
  results: Promise<EmbedResult[]>;
  /** Set once `results` has resolved. */
  arrived?: EmbedResult[];
}

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw invalidParameter(name, 'a positive integer', value);
}

/** Throws BAD_INPUT unless `value`, when given, is an array of strings (a lone string is refused: `include: '*.jpg'` is `['*.jpg']`). */
function checkStrings(name: string, value: unknown, what: string): void {
  if (value === undefined || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) return;
  const refused = invalidParameter(name, `an array of ${what}`, value);
  throw typeof value === 'string' ? new RsclipError('BAD_INPUT', refused.message, { hint: `give one as an array of one: ${name}: [${JSON.stringify(value)}]` }) : refused;
}

/** Throws BAD_INPUT unless a JavaScript caller's options have the store and encoder indexing needs, and lists where lists go. */
function checkArchiveOptions(options: IndexArchiveOptions): void {
  if (typeof options !== 'object' || (options as unknown) === null || Array.isArray(options)) throw invalidParameter('options', 'an object', options);
  const given = options as Partial<Record<keyof IndexArchiveOptions, unknown>>;
  const isObject = (value: unknown) => typeof value === 'object' && value !== null;
  if (!isObject(given.store)) {
    throw new RsclipError('BAD_INPUT', `indexArchive needs options.store, an index open for writing; got ${String(given.store)}`, { hint: 'open one with `await openIndex(dir, { model: encoder.info, create: true })`' });
  }
  if (!isObject(given.encoder)) {
    throw new RsclipError('BAD_INPUT', `indexArchive needs options.encoder, an encoder of the index's model; got ${String(given.encoder)}`, { hint: 'open one with `await openClip(modelDir)`' });
  }
  checkStrings('roots', given.roots, 'folder paths');
  checkStrings('forget', given.forget, 'folder paths');
  checkStrings('include', given.include, 'glob patterns');
  checkStrings('exclude', given.exclude, 'glob patterns');
}

export async function indexArchive(options: IndexArchiveOptions): Promise<IndexSummary> {
  checkArchiveOptions(options);
  const hasFiles = options.files !== undefined;
  if (!hasFiles && (options.forget?.length ?? 0) === 0 && (!Array.isArray(options.roots) || options.roots.length === 0)) {
    throw new RsclipError('BAD_INPUT', 'no archive folders to index: expected at least one folder', { hint: 'pass the folders, e.g. `rsclip index ./images`' });
  }
  const both = (options.forget ?? []).map((root) => path.resolve(root)).find((root) => (options.roots ?? []).some((r) => path.resolve(r) === root));
  if (both !== undefined) throw new RsclipError('BAD_INPUT', `archive folder ${both} is both to index and to forget`, { hint: 'give it to one of them; nothing was changed in the index' });
  checkPositive('batchSize', options.batchSize);
  checkPositive('decoders', options.decoders);
  const cores = availableParallelism();
  const mostDecodeThreads = maxDecodeThreads(cores);
  if (options.decodeThreads !== undefined && !(Number.isInteger(options.decodeThreads) && options.decodeThreads >= 0 && options.decodeThreads <= mostDecodeThreads)) {
    throw invalidParameter('decodeThreads', `an integer from 0 to ${mostDecodeThreads} (twice this machine's ${cores} cores, at least 8)`, options.decodeThreads);
  }
  const forgets = await heldUnder(options.store, options.forget ?? [], hasFiles ? [options.files!.root] : (options.roots ?? []));
  if (!hasFiles) {
    // a root the run forgets whole (it, or a folder holding it) may be indexed anew under a folder given
    checkRootsApart(options.roots ?? [], (await options.store.roots()).filter((root) => !forgets.some((f) => isInside(f.folder, root))));
  }
  const embedder = options.embedder ?? localEmbedder(options.encoder);
  assertModelMatches(options.store.meta, options.store.describe().location, options.encoder.info);
  if (embedder.info.fingerprint !== options.encoder.info.fingerprint) {
    throw new RsclipError('BAD_INPUT', `the embedder runs model ${embedder.info.fingerprint.slice(0, 12)}, the encoder is ${options.encoder.info.fingerprint.slice(0, 12)}`, { hint: 'open both for the same model directory and variant' });
  }
  // what the options leave out is as the index's last run had it, so a run without them re-tiles nothing
  const recorded = recordedPlanOptions(options.store.meta.plan);
  const plan = new IndexPlan({
    inputSize: options.encoder.info.imageSize,
    tile: options.tile ?? recorded.tile,
    overlap: options.overlap ?? recorded.overlap,
    scales: options.scales ?? recorded.scales,
    bands: options.bands === null ? undefined : (options.bands ?? recorded.bands),
    percentiles: options.percentiles ?? recorded.percentiles,
    crs: options.crs,
  });
  return new ArchiveIndexer(options.store, embedder, options, plan, forgets, performance.now()).run();
}

/** The files `--forget` removes under one folder. */
interface Forget {
  folder: string;
  ids: number[];
}

/**
 * The files the index holds under each folder to forget: an archive folder, a folder inside one or
 * one that holds some (it need not exist). A folder under which the index holds no file (a typo, a
 * folder never indexed), or whose files this run also scans (`indexing`: the roots given), is
 * refused before anything is changed.
 */
async function heldUnder(store: IndexStore, folders: readonly string[], indexing: readonly string[]): Promise<Forget[]> {
  if (folders.length === 0) return [];
  const roots = await store.roots();
  const given = indexing.map((root) => path.resolve(root));
  const forgets: Forget[] = [];
  // each root's files are read once, however many --forget folders lie in it
  const filesOf = new Map<string, ReturnType<IndexStore['knownFiles']>>();
  const knownFiles = (root: string) => filesOf.get(root) ?? filesOf.set(root, store.knownFiles(root)).get(root)!;
  for (const folder of folders.map((f) => path.resolve(f))) {
    const ids: number[] = [];
    for (const root of roots) {
      if (!isInside(folder, root) && !isInside(root, folder)) continue;
      // '' when the folder is the root or holds it: every file of the root
      const prefix = isInside(folder, root) ? '' : `${path.relative(root, folder).split(path.sep).join('/')}/`;
      const held = [...(await knownFiles(root))].filter(([rel, row]) => row.status !== 'removed' && rel.startsWith(prefix));
      if (held.length === 0) continue;
      if (given.includes(root)) {
        throw new RsclipError('BAD_INPUT', `--forget ${folder} would remove files of archive folder ${root}, which this run indexes: they would be scanned and forgotten at once`, {
          hint: `forget them in a run of their own (\`rsclip index --forget ${folder}\`), or leave them out with --exclude; nothing was changed in the index`,
        });
      }
      // one by one: spread into push's arguments, a folder of over ~125,000 files overflowed the stack
      for (const [, row] of held) ids.push(row.id);
    }
    if (ids.length === 0) {
      const held = roots.length === 0 ? 'it holds no file at all' : `its archive folders: ${roots.join(', ')} (--forget takes one of them or a folder inside one)`;
      throw new RsclipError('BAD_INPUT', `the index holds no file under ${folder} to forget`, { hint: `${held}; nothing was changed in the index` });
    }
    forgets.push({ folder, ids });
  }
  return forgets;
}

/** A window whose vector a cosine cannot use (NaN, infinite, all zero: a damaged model) fails its file, as an unreadable image does, instead of the commit. */
function usableResult(result: EmbedResult): EmbedResult {
  const problem = 'vector' in result ? vectorProblem(result.vector) : undefined;
  return problem === undefined ? result : { error: `the model gave it a vector with ${problem}: is the model damaged? (download or export it again)` };
}

class ArchiveIndexer {
  private readonly batchSize: number;
  private readonly decoders: number;
  private readonly summary: IndexSummary;
  private readonly places = new RunPlacesTally();
  private readonly problems: ScanProblems = newScanProblems();
  private readonly state: RunState = { uncommitted: new Set(), failedHashes: new Map() };
  private readonly preparer: FilePreparer;
  private readonly pixels: PixelPreparer;
  private storeSeconds = 0;
  private total = 0;
  private done = 0;
  /** Files that failed before are tried again whatever their size and mtime (asked for, or other decoding settings). */
  private readonly retryFailed: boolean;
  /** Files a reader elsewhere failed on: their later windows are dropped. */
  private readonly failedJobs = new WeakSet<FileJob>();

  constructor(
    private readonly store: IndexStore,
    private readonly embedder: Embedder,
    private readonly options: IndexArchiveOptions,
    private readonly plan: IndexPlan,
    private readonly forgets: readonly Forget[],
    private readonly started: number,
  ) {
    const machine = chooseIndexingThreads({ batchSize: options.batchSize, decodeThreads: options.decodeThreads });
    this.batchSize = machine.batchSize;
    const describesForServer = !embedder.decodesHere && store.describe().backend === 'postgres';
    this.decoders = options.decoders ?? (describesForServer ? SERVER_STORE_DESCRIBERS : Math.max(DEFAULT_DECODERS, 2 * machine.decodeThreads));
    // an embedder that decodes elsewhere (a queue's workers) gets descriptions of windows: no pool here
    this.pixels = openPixelPreparer(options.encoder, embedder.decodesHere ? machine.decodeThreads : 0);
    this.preparer = new FilePreparer(store, this.pixels, plan, this.state, this.decoders, {
      describeOnly: !embedder.decodesHere,
      signal: options.signal,
      maxInputPixels: options.encoder.pixelRecipe?.maxInputPixels,
    });
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
      scenes: 0,
      resumed: 0,
      nodataWindows: 0,
      places: this.places.summary(),
      unreadableFolders: this.problems.unreadableFolders,
      symlinkLoops: this.problems.symlinkLoops,
      skipped: this.problems.skipped,
      interrupted: false,
      seconds: 0,
      modelSeconds: 0,
      imagesPerSecond: 0,
      timing: { decodeThreads: this.pixels.threads, batchSize: this.batchSize, pipelineSeconds: 0, modelSeconds: 0, decodeSeconds: 0, storeSeconds: 0, mainThreadSeconds: 0, cpuSeconds: 0 },
    };
  }

  private get aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<IndexSummary> {
    try {
      return await this.runStages();
    } finally {
      await this.pixels.close();
    }
  }

  /** A store call, its seconds counted as the store's. */
  private async timedStore<T>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.storeSeconds += (performance.now() - started) / 1000;
    }
  }

  private async runStages(): Promise<IndexSummary> {
    const loop = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const mainCpu = threadCpuSeconds();
    // read before any file is: a sidecar it refuses stops the run before the embedding, not after it
    const fields = this.options.fields ? await readSidecar(this.options.fields) : undefined;
    await this.store.recordPlan(this.plan.signature());
    const { work, removals } = await this.scan();
    this.total = work.length;
    this.report('index');
    const pipelineStart = performance.now();
    // a queue's state changes without commits (a worker falls silent, Redis goes away): said every second
    const ticker = this.embedder.queueProgress ? setInterval(() => this.report('index'), QUEUE_PROGRESS_MS) : undefined;
    try {
      await this.process(work);
    } finally {
      clearInterval(ticker);
    }
    const pipelineSeconds = (performance.now() - pipelineStart) / 1000;
    if (!this.aborted && removals.length > 0) {
      await this.timedStore(() => this.store.commit(removals.map((fileId) => ({ kind: 'remove', fileId }))));
      this.summary.removed += removals.length;
    }
    this.summary.interrupted = this.aborted;
    const settings = this.options.decodeSettings;
    if (!this.aborted && settings !== undefined && settings !== this.store.meta.decodeSettings) await this.store.recordDecodeSettings(settings);
    this.report('save');
    await this.timedStore(() => this.store.flush());
    if (fields && !this.aborted) this.summary.fields = await this.store.importFields(fields);
    const queue = this.embedder.queueProgress?.();
    if (queue) this.summary.queue = { workers: queue.workers.map(({ worker, items }) => ({ worker, items })), resent: queue.resent };
    this.summary.seconds = (performance.now() - this.started) / 1000;
    this.summary.imagesPerSecond = this.summary.seconds > 0 ? this.summary.embedded / this.summary.seconds : 0;
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const mainEnded = threadCpuSeconds();
    const decodeCpu = this.pixels.cpuSeconds;
    const threadCpu =
      mainCpu === undefined || mainEnded === undefined || decodeCpu === undefined
        ? undefined
        : { mainThread: mainEnded - mainCpu, decodeThreads: decodeCpu, rest: Math.max(0, cpuSeconds - (mainEnded - mainCpu) - decodeCpu) };
    const sessions = this.embedder.localModelRuns;
    this.summary.timing = {
      ...this.summary.timing,
      pipelineSeconds,
      modelSeconds: this.summary.modelSeconds,
      ...(sessions === undefined ? {} : { modelSessions: sessions, encoderBusyShare: pipelineSeconds > 0 ? this.summary.modelSeconds / (pipelineSeconds * sessions) : 0 }),
      decodeSeconds: this.pixels.busySeconds,
      storeSeconds: this.storeSeconds,
      mainThreadSeconds: performance.eventLoopUtilization(loop).active / 1000,
      cpuSeconds,
      ...(threadCpu ? { threadCpu } : {}),
    };
    this.report('finish');
    return this.summary;
  }

  /** The files of each root (a folder walk, or the list the caller gives, e.g. a STAC catalog's assets). */
  private sources(): { root: string; files: AsyncIterable<ScannedFile>; extras?: Map<string, WorkItem['extra']> }[] {
    if (this.options.files) {
      const { root, files } = this.options.files;
      const extras = new Map(files.map((f) => [f.path, f.extra]));
      return [{ root, files: listedFiles(path.resolve(root), files.map((f) => f.path)), extras }];
    }
    const indexDir = this.store.describe().directory;
    return this.options.roots.map((root) => {
      const absoluteRoot = path.resolve(root);
      const scanOptions = { include: this.options.include, exclude: this.options.exclude, signal: this.options.signal, skipDirs: indexDir ? [indexDir] : [], followLinks: this.options.followLinks === true, includeHidden: this.options.includeHidden === true };
      return { root: absoluteRoot, files: scanRoot(absoluteRoot, scanOptions, this.problems) };
    });
  }

  private async scan(): Promise<{ work: WorkItem[]; removals: number[] }> {
    const work: WorkItem[] = [];
    // a file under two folders forgotten (one inside the other) is removed once
    const forgotten = new Set<number>();
    for (const { folder, ids } of this.forgets) {
      ids.forEach((id) => forgotten.add(id));
      (this.summary.forgotten ??= []).push({ root: folder, files: ids.length });
    }
    const removals = [...forgotten];
    for (const source of this.sources()) {
      const absoluteRoot = path.resolve(source.root);
      // what is left of it after the scan are the files no longer there (no set of every path seen: at
      // millions of files the scan's memory is what nears the heap's limit)
      const known = await this.store.knownFiles(absoluteRoot);
      let found = 0;
      // the folders (relative, '' the root) under which the scan found a file: as many as folders, not files
      const foundIn = new Set<string>();
      for await (const file of source.files) {
        this.summary.scanned++;
        found++;
        addFolders(foundIn, file.path);
        const row = known.get(file.path);
        known.delete(file.path);
        const current = row && row.status !== 'removed' ? row : undefined;
        const extra = source.extras?.get(file.path);
        const retry = current?.status === 'error' && this.retryFailed;
        // an ok file made under another plan (tiling, bands, stretch) is cut and embedded again
        const sameStat = current && !current.needsEmbedding && !retry && current.bytes === file.bytes && current.mtimeMs === file.mtimeMs && (current.status !== 'ok' || this.plan.matches(current));
        if (sameStat && file.ctimeMs + CTIME_SLACK_MS < current.indexedAt) this.summary.unchanged++;
        else work.push({ file, known: current, ...(sameStat ? { statusChangeOnly: true } : {}), ...(extra ? { extra } : {}) });
        if (this.summary.scanned === 1) await debugPause('scan');
        if (this.summary.scanned % 1000 === 0) this.report('scan');
      }
      if (this.aborted) break;
      const unreadable = this.problems.unreadableFolders.map((f) => (f === '' ? '' : `${f}/`));
      // an unmounted disk or an emptied folder looks like every file deleted: dropping their vectors takes `--forget`
      const emptied = this.options.files ? undefined : new EmptiedFolders(absoluteRoot, foundIn, this.options.includeHidden === true);
      const kept = new Map<string, number>();
      for (const [relPath, row] of known) {
        if (row.status === 'removed') continue;
        if (unreadable.some((prefix) => relPath.startsWith(prefix))) continue;
        // a listed root (a STAC catalog's) has no folders of its own: kept when the list is empty
        const folder = emptied ? await emptied.holding(relPath) : found === 0 ? '' : undefined;
        if (folder === undefined) removals.push(row.id);
        else kept.set(folder, (kept.get(folder) ?? 0) + 1);
      }
      for (const [folder, files] of kept) (this.summary.emptyRoots ??= []).push({ root: absoluteRoot, folder: path.join(absoluteRoot, folder), files });
    }
    return { work, removals };
  }

  /**
   * Decode workers fill the queue; this loop batches and embeds. While the model runs batch
   * N+1, batch N is committed (catalog + graph insert), so the model never waits on a commit;
   * an embedder with more batches in flight (a queue) keeps that many sent before waiting on
   * the oldest.
   */
  private async process(work: WorkItem[]): Promise<void> {
    const queue = new BoundedQueue<Unit>(this.batchSize * 2);
    let next = 0;
    let failed = false;
    const stop = () => this.aborted || failed;
    const worker = async (): Promise<void> => {
      while (next < work.length && !stop()) {
        const item = work[next++]!;
        for await (const unit of this.preparer.prepare(item)) {
          if (stop()) break;
          await queue.put(unit);
        }
      }
    };
    const workers = Promise.all(Array.from({ length: this.decoders }, worker)).finally(() => queue.close());
    // a preparer's failure (the database gone, say) is thrown where `workers` is awaited; until
    // then it stops the other preparers, and it must not count as unhandled (which ended the
    // process with a stack trace when it came while a commit was awaited)
    workers.catch(() => {
      failed = true;
    });

    let batch: EmbedUnit[] = [];
    let changes: Unit[] = [];
    let waiting: DuplicateUnit[] = [];
    const stages: Stage[] = [];
    /** Commits the oldest stage, and with it the ones after it whose results have arrived (in order, up to the bound). */
    const commitOldest = async (results: EmbedResult[]): Promise<void> => {
      const oldest = stages.shift()!;
      const windows = [...oldest.batch];
      const windowResults = [...results];
      const units = [...oldest.changes];
      while (stages[0]?.arrived && windows.length + stages[0].batch.length <= MAX_WINDOWS_PER_COMMIT) {
        const stage = stages.shift()!;
        windows.push(...stage.batch);
        windowResults.push(...stage.arrived!);
        units.push(...stage.changes);
      }
      waiting = await this.commitStage(windows, windowResults, units, waiting);
    };
    const advance = async (): Promise<void> => {
      // the oldest batch's results are awaited before the next batch starts, and committed after it started
      const results = stages.length >= this.embedder.inFlight ? await stages[0]!.results : undefined;
      stages.push(this.startStage(batch, changes));
      batch = [];
      changes = [];
      if (results) await commitOldest(results);
    };
    const commitAll = async (): Promise<void> => {
      while (stages.length > 0) await commitOldest(await stages[0]!.results);
    };
    /** The run was stopped: what the model is running (or a queue's workers) is committed; decoded but unembedded windows are redone next run. */
    const stopped = async (): Promise<void> => {
      queue.close();
      queue.drain();
      await workers;
      while (stages.length > 0) {
        const results = await stages[0]!.results.catch((error: unknown) => {
          // a batch the embedder took back as the run stopped (a queue's jobs no worker had taken):
          // it and every later one are redone next run (committed in order or not at all, so a file is
          // never completed without its earlier windows)
          if (isRsclipError(error, 'INTERRUPTED')) return undefined;
          throw error;
        });
        if (!results) return;
        await commitOldest(results);
      }
      if (changes.length > 0) await this.commitStage([], [], changes, []);
    };
    try {
      for (;;) {
        const unit = await queue.take();
        if (unit === undefined || this.aborted) break;
        if (unit.kind === 'embed') batch.push(unit);
        else if (unit.kind === 'duplicate') waiting.push(unit);
        else changes.push(unit);
        if (batch.length >= this.batchSize || changes.length >= this.batchSize * 4) await advance();
      }
      if (this.aborted) {
        await stopped();
        return;
      }
      await workers;
      // the last batch waits for a free slot like the others (started beside them, its model run
      // would queue behind theirs and count the wait as model time)
      await advance();
      await commitAll();
      // duplicates whose original was committed in the last batch: every embedding is committed now
      if (waiting.length > 0) await this.commitStage([], [], [], waiting, { final: true });
    } catch (error) {
      // a batch taken back as the run stopped, while the next one waited for it
      if (this.aborted && isRsclipError(error, 'INTERRUPTED')) {
        await stopped();
        return;
      }
      // stop the decoders before the store closes under them
      failed = true;
      queue.close();
      await workers.catch(() => undefined);
      throw error;
    }
  }

  private startStage(batch: EmbedUnit[], changes: Unit[]): Stage {
    const embedded = batch.length === 0 ? Promise.resolve({ results: [], modelSeconds: 0 }) : this.embedder.embed(batch);
    const stage: Stage = {
      batch,
      changes,
      results: embedded.then(({ results, modelSeconds }) => {
        this.summary.modelSeconds += modelSeconds;
        stage.arrived = results;
        return results;
      }),
    };
    stage.results.catch(() => undefined); // awaited later; an abandoned failure must not become an unhandled rejection
    return stage;
  }

  /**
   * The items of an embedded batch by file, and the files it completes. A window a reader
   * elsewhere found to be nodata is counted as such; a file it failed on fails, and its later
   * windows are dropped.
   */
  private itemsOfBatch(batch: EmbedUnit[], results: EmbedResult[]): { itemsOf: Map<FileJob, NewItem[]>; completed: Set<FileJob>; failures: FailUnit[]; embedded: number } {
    const itemsOf = new Map<FileJob, NewItem[]>();
    const completed = new Set<FileJob>();
    const failures: FailUnit[] = [];
    let embedded = 0;
    batch.forEach((b, i) => {
      const result = usableResult(results[i]!);
      if (this.failedJobs.has(b.job)) return;
      if ('error' in result) {
        this.failedJobs.add(b.job);
        recordFailedContent(this.state, b.job, result.error);
        itemsOf.delete(b.job);
        completed.delete(b.job);
        failures.push({ kind: 'fail', job: b.job, error: result.error });
        return;
      }
      if (b.last) completed.add(b.job);
      if (result.fallback && 'read' in b && b.read.whole && b.read.fallback) {
        b.job.scene = true;
        b.job.rereadsFile = true;
        b.job.row = { ...b.job.row, stretch: b.read.fallback.stretch };
      }
      if ('nodata' in result) {
        b.job.nodataWindows++;
        return;
      }
      let { window, place } = b;
      if (result.decoded) {
        const { width, height, format } = result.decoded;
        b.job.row = { ...b.job.row, width, height, format, stretch: null };
        window = { x: 0, y: 0, width, height, scale: 1 };
        place = this.preparer.placeOf(b.job, window);
      }
      embedded++;
      const items = itemsOf.get(b.job) ?? [];
      items.push({ key: b.key, window, place, vector: result.vector });
      itemsOf.set(b.job, items);
    });
    return { itemsOf, completed, failures, embedded };
  }

  /**
   * Commits an embedded batch with the units that came with it in one store commit; returns the
   * duplicates still waiting. A file's items go first, then its `done` or `fail`.
   */
  private async commitStage(batch: EmbedUnit[], results: EmbedResult[], changes: Unit[], waiting: DuplicateUnit[], { final = false } = {}): Promise<DuplicateUnit[]> {
    const commit: CatalogChange[] = [];
    const finished: Unit[] = [];
    if (batch.length > 0) await debugPause('embedded');
    const { itemsOf, completed, failures: batchFailures, embedded } = this.itemsOfBatch(batch, results);
    const doneNow = new Set(changes.filter((c) => c.kind === 'done').map((c) => c.job));
    // a file that failed may have failed for the change (a decoder reading a half-written file)
    const failedNow = [...batchFailures, ...changes].filter((c) => c.kind === 'fail').map((c) => c.job);
    const changed = await changedSinceScan([...completed, ...doneNow, ...failedNow].filter((job) => job.rereadsFile));
    const failures = batchFailures.filter((f) => !changed.has(f.job));
    changes = changes.filter((c) => !changed.has(c.job));
    for (const [job, change] of changed) {
      itemsOf.delete(job);
      completed.delete(job);
      this.failedJobs.add(job);
      if (this.state.failedHashes.get(job.row.contentHash)?.absolutePath === job.work.file.absolutePath) this.state.failedHashes.delete(job.row.contentHash);
      if (change === GONE) changes.push({ kind: 'gone', job });
      else failures.push({ kind: 'fail', job, error: change });
    }
    for (const [job, items] of itemsOf) commit.push({ kind: 'put', file: job.row, items, complete: completed.has(job) || doneNow.has(job) });
    // a file whose last window was nodata (found by a reader elsewhere) completes without items
    for (const job of completed) if (!itemsOf.has(job)) commit.push({ kind: 'put', file: job.row, items: [], complete: true });
    for (const f of failures) commit.push({ kind: 'fail', file: f.job.row, error: f.error });
    finished.push(...failures);
    for (const c of changes) {
      finished.push(c);
      if (c.kind === 'done' && !itemsOf.has(c.job)) commit.push({ kind: 'put', file: c.job.row, items: [], complete: true });
      else if (c.kind === 'reuse') commit.push({ kind: 'put', file: c.job.row, items: c.items, complete: true });
      else if (c.kind === 'touch') commit.push({ kind: 'touch', fileId: c.job.work.known!.id, bytes: c.job.work.file.bytes, mtimeMs: c.job.work.file.mtimeMs });
      else if (c.kind === 'fail') commit.push({ kind: 'fail', file: c.job.row, error: c.error });
      else if (c.kind === 'gone' && c.job.work.known) commit.push({ kind: 'remove', fileId: c.job.work.known.id });
    }
    // duplicates of content committed before this flush can be resolved now
    const stillWaiting: DuplicateUnit[] = [];
    for (const d of waiting) {
      if (!final && this.state.uncommitted.has(d.job.contentKey)) {
        stillWaiting.push(d);
        continue;
      }
      const stored = await this.store.findReusableFile(d.job.row.contentHash, d.job.row.plan ?? null);
      if (stored) {
        d.job.row = { ...d.job.row, width: stored.width, height: stored.height, format: stored.format, stretch: stored.stretch };
        const items = stored.items.map((item) => ({ ...item, place: this.preparer.placeOf(d.job, item.window) }));
        commit.push({ kind: 'put', file: d.job.row, items, complete: true });
        finished.push({ kind: 'reuse', job: d.job, items });
      } else {
        const error = failedContent(this.state, d.job) ?? 'identical content to a file that could not be indexed';
        commit.push({ kind: 'fail', file: d.job.row, error });
        finished.push({ kind: 'fail', job: d.job, error });
      }
    }
    // a file that went away before it had a row commits nothing, and is done
    if (commit.length === 0 && finished.length === 0) return stillWaiting;
    if (commit.length > 0) await this.timedStore(() => this.store.commit(commit));
    this.summary.embedded += embedded;
    for (const job of completed) finished.push({ kind: 'done', job });
    for (const unit of finished) {
      if (unit.kind === 'done' || unit.kind === 'fail' || unit.kind === 'gone') this.state.uncommitted.delete(unit.job.contentKey);
    }
    this.count(finished);
    if (this.summary.embedded > 0 && this.summary.embedded === embedded) await debugPause('committed');
    this.report('index');
    return stillWaiting;
  }

  private count(units: Unit[]): void {
    for (const unit of units) {
      const isUpdate = unit.job.work.known !== undefined;
      switch (unit.kind) {
        case 'done':
          this.done++;
          if (unit.job.scene && unit.job.windows > 1) this.summary.scenes++;
          this.countPlace(unit.job);
          if (unit.job.resumed) this.summary.resumed++;
          this.summary.nodataWindows += unit.job.nodataWindows;
          if (isUpdate) this.summary.updated++;
          else this.summary.added++;
          break;
        case 'reuse':
          this.done++;
          this.summary.reused++;
          this.countPlace(unit.job);
          if (isUpdate) this.summary.updated++;
          else this.summary.added++;
          break;
        case 'touch':
          this.done++;
          this.summary.unchanged++;
          break;
        case 'fail':
          this.done++;
          this.summary.errors++;
          break;
        case 'gone':
          this.done++;
          if (isUpdate) this.summary.removed++;
          break;
        case 'embed':
        case 'duplicate':
          break;
      }
    }
  }

  /** Counts a file this run indexed as placed or not (RunPlacesTally warns about a GCP fit that misses its points, or one that failed). */
  private countPlace(job: FileJob): void {
    const { file, extra } = job.work;
    this.places.count({ path: file.path, absolutePath: file.absolutePath, georeference: job.georeference, unusableGeoreference: job.unusableGeoreference, stacFootprint: extra?.footprint !== undefined });
    this.summary.places = this.places.summary();
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
      embedded: this.summary.embedded,
      imagesPerSecond: rate,
      etaSeconds: phase === 'index' && itemRate > 0 ? (this.total - this.done) / itemRate : undefined,
      ...(this.embedder.queueProgress ? { queue: this.embedder.queueProgress() } : {}),
    });
  }
}

/** The folder of a relative path ('' for one at the root). */
function folderOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

/** Adds the folders of a file found (relative to its root) to `folders`, up to the root (''). */
function addFolders(folders: Set<string>, rel: string): void {
  for (let folder = folderOf(rel); !folders.has(folder); folder = folderOf(folder)) {
    folders.add(folder);
    if (folder === '') break;
  }
}

/**
 * Which folder of a root, if any, keeps a known file the scan did not find: the top-most folder
 * above it (the root included) that exists, that the scan entered (not hidden unless asked for),
 * and under which the scan found no file and the disk holds no image file at any depth (an
 * unmounted disk, a folder emptied by a move). A folder that holds image files the scan passed
 * over (excluded, hidden, links leading out) is not empty: what was taken out of the run goes
 * from the index, as it does from any other folder. A folder that no longer exists is a deletion,
 * and so are its files. A folder holding only files that fail to be read is not empty either: the
 * scan found them.
 */
class EmptiedFolders {
  /** Per folder looked at: empty as above, holding image files, or gone. */
  private readonly folders = new Map<string, 'empty' | 'holds' | 'gone'>();

  constructor(
    private readonly root: string,
    private readonly foundIn: ReadonlySet<string>,
    private readonly includeHidden: boolean,
  ) {}

  /** The emptied folder that keeps `rel` (relative to the root, '' the root itself), or undefined: it was deleted. */
  async holding(rel: string): Promise<string | undefined> {
    const names = rel.split('/').slice(0, -1);
    for (let depth = 0; depth <= names.length; depth++) {
      const folder = names.slice(0, depth).join('/');
      if (this.foundIn.has(folder)) continue;
      if (depth > 0 && !this.includeHidden && isHiddenEntry(names[depth - 1]!, true)) return undefined;
      let state = this.folders.get(folder);
      if (state === undefined) {
        const absolute = path.join(this.root, folder);
        const exists = (await stat(absolute).catch(() => undefined))?.isDirectory() === true;
        state = !exists ? 'gone' : (await holdsImageFile(absolute)) ? 'holds' : 'empty';
        this.folders.set(folder, state);
      }
      if (state === 'empty') return folder;
      // a folder gone is a deletion, and so is everything below it
      if (state === 'gone') return undefined;
    }
    return undefined;
  }
}

/** Whether a folder holds a file with an image's extension at any depth, hidden or not (links are not followed below it; folders that cannot be read hold none). */
async function holdsImageFile(folder: string): Promise<boolean> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (!entry.isDirectory() && isImagePath(entry.name)) return true;
  for (const entry of entries) if (entry.isDirectory() && (await holdsImageFile(path.join(folder, entry.name)))) return true;
  return false;
}

/**
 * The files among `jobs` (read again after their hash: scenes, large images) whose size, mtime or
 * ctime is no longer the scan's, with why: their items would be another content's pixels under this
 * content's hash, which reuse would hand on to true copies, and a failure would blame the
 * content. They fail; the next run, seeing the new size or time, indexes them as they are then.
 * GONE: the file went away, and is removed like one the scan did not find.
 */
async function changedSinceScan(jobs: FileJob[]): Promise<Map<FileJob, string | typeof GONE>> {
  const changed = new Map<FileJob, string | typeof GONE>();
  await Promise.all(
    jobs.map(async (job) => {
      const { absolutePath, bytes, mtimeMs, ctimeMs } = job.work.file;
      const now = await stat(absolutePath).catch(() => undefined);
      if (!now) changed.set(job, GONE);
      // the ctime too, as the scan's change detection: a rewrite that puts the old mtime back still changes it
      else if (now.size !== bytes || now.mtimeMs !== mtimeMs || now.ctimeMs !== ctimeMs) {
        changed.set(job, 'the file changed while it was being indexed (its size, modification time or status-change time is not the one scanned); the next `rsclip index` indexes it as it is then');
      }
    }),
  );
  return changed;
}
