/**
 * Micro-batching: requests made while a batch runs, or in the same turn of the event loop (or
 * within `windowMs` of each other, when given), go to `run` in one call, and each caller gets its
 * own result back. One call runs at a time (or `concurrency`), so concurrent callers share it
 * instead of competing; a lone request does not wait (under load, requests gather while a call runs).
 */
export interface MicroBatcherOptions {
  /** How long the first request of a batch waits for company when no call runs. Default 0: until the event loop's current turn ends. */
  windowMs?: number;
  /** Most requests per call. */
  maxBatch: number;
  /** Calls that may run at once (default 1). */
  concurrency?: number;
}

interface Pending<T, R> {
  request: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/** `run` answers a batch of requests, result n for request n. */
export class MicroBatcher<T, R> {
  readonly #run: (requests: T[]) => Promise<R[]>;
  readonly #windowMs: number;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  #queue: Pending<T, R>[] = [];
  /** Cancels the pending flush of a waiting batch. */
  #cancelWait: (() => void) | undefined;
  #running = 0;
  /** Calls made and requests sent. */
  readonly counts = { calls: 0, requests: 0 };

  constructor(run: (requests: T[]) => Promise<R[]>, options: MicroBatcherOptions) {
    this.#run = run;
    this.#windowMs = options.windowMs ?? 0;
    this.#maxBatch = options.maxBatch;
    this.#concurrency = options.concurrency ?? 1;
  }

  get #busy(): boolean {
    return this.#running >= this.#concurrency;
  }

  add(request: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (this.#busy) return;
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else this.#cancelWait ??= this.#wait(() => this.#flush());
    });
  }

  #wait(then: () => void): () => void {
    if (this.#windowMs > 0) {
      const timer = setTimeout(then, this.#windowMs);
      return () => clearTimeout(timer);
    }
    const immediate = setImmediate(then);
    return () => clearImmediate(immediate);
  }

  #flush(): void {
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    if (this.#busy || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#running++;
    this.counts.calls++;
    this.counts.requests += batch.length;
    this.#run(batch.map((p) => p.request))
      .then(
        (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        this.#running--;
        // requests that arrived meanwhile have waited long enough: send them at once
        if (this.#queue.length > 0) this.#flush();
      });
  }
}
