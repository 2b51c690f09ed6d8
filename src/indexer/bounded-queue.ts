/**
 * A FIFO between the decode workers and the encoder loop. `put` waits while the queue is
 * full, so decoding runs at most `capacity` items ahead of inference; `take` waits while it
 * is empty and returns undefined once it is closed and drained.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private readonly takers: ((item: T | undefined) => void)[] = [];
  private readonly putters: (() => void)[] = [];

  constructor(private readonly capacity: number) {}

  get length(): number {
    return this.items.length;
  }

  async put(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((resolve) => this.putters.push(resolve));
    }
    if (this.closed) return;
    const taker = this.takers.shift();
    if (taker) taker(item);
    else this.items.push(item);
  }

  take(): Promise<T | undefined> {
    if (this.items.length > 0) {
      const item = this.items.shift()!;
      this.putters.shift()?.();
      return Promise.resolve(item);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** Items taken without waiting (possibly none). */
  drain(): T[] {
    const out = this.items.splice(0);
    for (const p of this.putters.splice(0)) p();
    return out;
  }

  /** No more puts; pending takers get undefined once items run out; blocked putters are released. */
  close(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t(undefined);
    for (const p of this.putters.splice(0)) p();
  }
}
