/** How fast each worker of a run returns windows now, and how long each has been silent. */
import type { WorkerRate } from '../indexer/types.js';

/** The span a worker's current rate is measured over. */
const RATE_SPAN_MS = 30_000;

interface WorkerResults {
  items: number;
  lastAt: number;
  /** Results within the last RATE_SPAN_MS, oldest first. */
  recent: { at: number; items: number }[];
}

function dropOld(entry: WorkerResults, now: number): void {
  while (entry.recent.length > 0 && entry.recent[0]!.at <= now - RATE_SPAN_MS) entry.recent.shift();
}

export class WorkerRates {
  private readonly byWorker = new Map<string, WorkerResults>();
  private readonly started: number;

  /** `now` in milliseconds (performance.now by default). */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.started = now();
  }

  /** `worker` returned `items` windows. */
  record(worker: string, items: number): void {
    const at = this.now();
    const entry = this.byWorker.get(worker) ?? { items: 0, lastAt: at, recent: [] };
    entry.items += items;
    entry.lastAt = at;
    entry.recent.push({ at, items });
    dropOld(entry, at);
    this.byWorker.set(worker, entry);
  }

  rates(): WorkerRate[] {
    const now = this.now();
    // a run younger than the span divides by its age
    const spanSeconds = Math.max(1, Math.min(RATE_SPAN_MS, now - this.started)) / 1000;
    return [...this.byWorker].map(([worker, entry]) => {
      dropOld(entry, now);
      const recentItems = entry.recent.reduce((n, r) => n + r.items, 0);
      return { worker, items: entry.items, itemsPerSecond: recentItems / spanSeconds, idleSeconds: (now - entry.lastAt) / 1000 };
    });
  }
}
