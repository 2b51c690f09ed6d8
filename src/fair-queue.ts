/**
 * Runs tasks `concurrency` at a time, taking turns between their owners (one request's images,
 * another's): a free slot goes to the waiting owner whose last task started longest ago (or
 * that has had none), not to the oldest task, so a request that brings many tasks never makes
 * another request's one task wait behind all of them. At most `maxWaiting` tasks wait; past
 * that `run` refuses at once (QueueFullError).
 */
export class QueueFullError extends Error {
  constructor(maxWaiting: number) {
    super(`the queue is full (${maxWaiting} tasks waiting)`);
    this.name = 'QueueFullError';
  }
}

interface Waiting {
  start: () => void;
}

export class FairQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  /** Owners with tasks waiting, each with its tasks in order. */
  readonly #waiting = new Map<object, Waiting[]>();
  /** When each owner's latest task started (a count of starts). */
  readonly #lastStart = new WeakMap<object, number>();
  #starts = 0;
  #waitingCount = 0;
  #running = 0;

  constructor(concurrency: number, maxWaiting: number) {
    this.#concurrency = concurrency;
    this.#maxWaiting = maxWaiting;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waitingCount;
  }

  async run<T>(owner: object, task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waitingCount >= this.#maxWaiting) throw new QueueFullError(this.#maxWaiting);
      await new Promise<void>((start) => {
        const queue = this.#waiting.get(owner);
        if (queue) queue.push({ start });
        else this.#waiting.set(owner, [{ start }]);
        this.#waitingCount++;
      });
    } else {
      this.#running++;
      this.#lastStart.set(owner, ++this.#starts);
    }
    try {
      return await task();
    } finally {
      this.#next();
    }
  }

  /** Hands the slot just freed to the waiting owner served longest ago (the first to wait among those never served), or frees it. */
  #next(): void {
    let chosen: [object, Waiting[]] | undefined;
    for (const entry of this.#waiting) {
      if (!chosen || (this.#lastStart.get(entry[0]) ?? 0) < (this.#lastStart.get(chosen[0]) ?? 0)) chosen = entry;
    }
    if (!chosen) {
      this.#running--;
      return;
    }
    const [owner, queue] = chosen;
    const { start } = queue.shift()!;
    if (queue.length === 0) this.#waiting.delete(owner);
    this.#waitingCount--;
    this.#lastStart.set(owner, ++this.#starts);
    start();
  }
}
