/**
 * The graph of a write-only embedded store, kept in a worker thread (graph-thread-worker.ts):
 * the writer commits to the catalog and goes on, while the thread reads what was committed and
 * adds it to its graph, so a coordinator absorbing a fleet's results never waits for graph
 * inserts. The catalog stays the truth and the graph file derived: the thread saves the file, and
 * this thread records it and puts it in place exactly as GraphSync.checkpoint does, so a crash
 * at any moment leaves what a crash of an ordinary writer leaves (the next open replays what the
 * file lacks). The thread lags the commits by at most MAX_LAG_VECTORS; flush and close wait for it.
 */
import { Piscina } from 'piscina';
import { RsclipError, type RsclipErrorCode } from '../../errors.js';
import { failingTogether, workerModule } from '../../worker-module.js';
import type { GraphFileDigest } from '../graph-index.js';
import type { IndexMeta } from '../types.js';
import type { Catalog } from './catalog.js';
import { DEFAULT_CHECKPOINT_INTERVAL_MS, nextCheckpointInterval, writeCheckpoint } from './graph-sync.js';
import type { GraphThreadResult, GraphThreadState, GraphThreadTask } from './graph-thread-worker.js';

/**
 * Commits wait for the thread once it is this many vectors behind (a few seconds of inserts): the
 * lag is what a crash costs the next open, and what flush and close wait for.
 */
const MAX_LAG_VECTORS = 20_000;

/** An error the thread returned, as the thread that asked would have thrown it. */
function threadError(result: Extract<GraphThreadResult, { ok: false }>): Error {
  if (result.code?.startsWith('INDEX_')) return new RsclipError(result.code as RsclipErrorCode, result.message);
  return Object.assign(new Error(result.message), { code: result.code });
}

export class GraphThread {
  readonly #pool: Piscina<GraphThreadTask, GraphThreadResult>;
  readonly #run: (task: GraphThreadTask) => Promise<GraphThreadResult>;
  /** Every task of the thread, one after another; the tail of the chain. */
  #tasks: Promise<unknown>;
  /** The last commit of this writer. */
  #seq: number;
  /** What the thread last reported. */
  #state: GraphThreadState;
  /** The vectors commits replaced or dropped, as they were, since the thread's last look: it relinks around them (graph-relink.ts). */
  #previous: [number, Float32Array][] = [];
  /** Vectors added or dropped by the commits after the thread's last look, by commit, and their sum. */
  #unapplied: { seq: number; vectors: number }[] = [];
  #lag = 0;
  #catchUpQueued = false;
  /** The first failure of a task nobody awaited: the next commit, flush or close throws it. */
  #failure: unknown;
  #checkpointIntervalMs: number;
  #lastCheckpoint = performance.now();
  #checkpointing = false;

  constructor(
    private readonly dir: string,
    private readonly catalog: Catalog,
    meta: IndexMeta,
    options: { checkpointIntervalMs?: number } = {},
  ) {
    this.#pool = new Piscina({ ...workerModule('graph-thread-worker', import.meta.url), minThreads: 1, maxThreads: 1, idleTimeout: Infinity });
    this.#run = failingTogether(this.#pool);
    this.#seq = catalog.commitSeq();
    this.#state = { seq: -1, unsaved: true };
    this.#checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.#tasks = this.#task({ op: 'open', dir, meta }).catch((error: unknown) => (this.#failure ??= error));
  }

  /** Sends `task` to the thread (callers order tasks with #then); resolves with its answer, rejects with its error. */
  async #task(task: GraphThreadTask): Promise<GraphThreadResult & { ok: true }> {
    const result = await this.#run(task);
    if (!result.ok) throw threadError(result);
    this.#state = result.state;
    return result;
  }

  /** Queues `body` behind every task so far. */
  #then<T>(body: () => Promise<T>): Promise<T> {
    const run = this.#tasks.then(body);
    this.#tasks = run.catch(() => undefined);
    return run;
  }

  /** Throws the failure of a task nobody awaited, once (the next checkpoint tries again). */
  #throwFailure(): void {
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure;
  }

  nextSeq(): number {
    return this.#seq + 1;
  }

  /** A commit of this writer as `seq`: the thread applies it at its next look. */
  applied(seq: number, added: readonly unknown[], dropped: readonly number[], previous: readonly [number, Float32Array][]): void {
    this.advance(seq);
    for (const entry of previous) this.#previous.push(entry);
    const vectors = added.length + dropped.length;
    this.#unapplied.push({ seq, vectors });
    this.#lag += vectors;
    this.#queueCatchUp();
  }

  /** Another commit of this writer (fields, repairs): the thread reads what it changed from the catalog. */
  advance(seq: number): void {
    this.#seq = seq;
  }

  /** One look at the catalog queued at a time: commits made while it waits are in the same look. */
  #queueCatchUp(): void {
    if (this.#catchUpQueued) return;
    this.#catchUpQueued = true;
    void this.#catchUp().catch((error: unknown) => (this.#failure ??= error));
  }

  #catchUp(): Promise<void> {
    return this.#then(async () => {
      this.#catchUpQueued = false;
      await this.#lookNow();
    });
  }

  /** Has the thread apply every commit so far (callers run it in the chain), then forgets the commits its graph now holds. */
  async #lookNow(): Promise<void> {
    const previous = this.#previous;
    this.#previous = [];
    await this.#task({ op: 'catch-up', previous });
    const seq = this.#state.seq;
    let applied = 0;
    while (applied < this.#unapplied.length && this.#unapplied[applied]!.seq <= seq) this.#lag -= this.#unapplied[applied++]!.vectors;
    this.#unapplied = this.#unapplied.slice(applied);
  }

  /**
   * After a commit: throws a failure of the thread; waits while the thread is too far behind;
   * starts a checkpoint in the background when the interval has passed.
   */
  async checkpointIfDue(): Promise<void> {
    this.#throwFailure();
    while (this.#lag > MAX_LAG_VECTORS) {
      await this.#catchUp();
      this.#throwFailure();
    }
    if (this.#checkpointing || performance.now() - this.#lastCheckpoint < this.#checkpointIntervalMs) return;
    this.#checkpointing = true;
    const started = performance.now();
    void this.#checkpoint()
      .then(() => (this.#checkpointIntervalMs = nextCheckpointInterval(this.#checkpointIntervalMs, performance.now() - started)))
      .catch((error: unknown) => (this.#failure ??= error))
      .finally(() => (this.#checkpointing = false));
  }

  /**
   * Waits for the thread to apply every commit so far, then writes the graph file and records it;
   * an earlier failure in the background is over once this succeeds (the file holds every commit).
   */
  async checkpoint(): Promise<void> {
    try {
      await this.#checkpoint();
    } catch (error) {
      // the first failure explains the later ones (a thread whose open failed holds no graph to save)
      throw this.#failure ?? error;
    }
    this.#failure = undefined;
  }

  #checkpoint(): Promise<void> {
    return this.#then(async () => {
      await this.#lookNow();
      const save = async (temp: string): Promise<GraphFileDigest> => (await this.#task({ op: 'save', temp })).digest!;
      await writeCheckpoint(this.dir, this.catalog, this.#state, save);
      await this.#task({ op: 'saved' });
      this.#lastCheckpoint = performance.now();
    });
  }

  /** Ends the thread (after whatever it is doing); the graph goes with it. Never throws: a store's close must go on. */
  async close(): Promise<void> {
    await this.#then(() => this.#task({ op: 'close' })).catch(() => undefined);
    await this.#pool.destroy().catch(() => undefined);
  }
}
