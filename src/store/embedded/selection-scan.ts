/**
 * The items a filter allows, read off the event loop: a filter over millions of files (a path
 * glob, a folder) scans the catalog for seconds, which on the server's main thread held up every
 * other request. A read-only store sends such scans to one worker thread (piscina) with its own
 * read-only connection; the set comes back with the commit it was read at, for the planner's cache.
 */
import { Piscina } from 'piscina';
import { failingTogether, workerModule } from '../../worker-module.js';
import type { SqlCondition } from '../filter-compiler.js';
import type { SelectionScanResult, SelectionScanTask } from './selection-scan-worker.js';

/** An idle scanning thread ends after this long; the next scan starts one again. */
const IDLE_THREAD_MS = 60_000;

export class SelectionScanner {
  readonly #pool: Piscina<SelectionScanTask, SelectionScanResult>;
  readonly #run: (task: SelectionScanTask) => Promise<SelectionScanResult>;
  /** Scans run in the thread so far. */
  scans = 0;

  constructor(private readonly source: string) {
    this.#pool = new Piscina({ ...workerModule('selection-scan-worker', import.meta.url), minThreads: 0, maxThreads: 1, idleTimeout: IDLE_THREAD_MS });
    this.#run = failingTogether(this.#pool);
  }

  /** The allowed ids, ascending, and the commit they were read at. Throws what the scan threw, with SQLite's code. */
  async scan(condition: SqlCondition): Promise<{ seq: number; ids: number[] }> {
    const result = await this.#run({ source: this.source, where: condition.where, params: condition.params });
    if (!result.ok) throw Object.assign(new Error(result.message), { code: result.code });
    this.scans++;
    return { seq: result.seq, ids: Array.from(result.ids) };
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
