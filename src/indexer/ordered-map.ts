/**
 * `fn` over an iterable with at most `concurrency` calls in flight, results yielded in input
 * order: how a scene's windows are read and rendered ahead of the encoder while its items stay
 * in plan order. Stops starting new calls once the consumer stops asking.
 */
export async function* orderedMap<T, R>(items: Iterable<T>, concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const iterator = items[Symbol.iterator]();
  const pending: Promise<R>[] = [];
  const start = (): boolean => {
    const next = iterator.next();
    if (next.done) return false;
    const promise = fn(next.value);
    // awaited in order below; a rejection before then must not count as unhandled
    promise.catch(() => undefined);
    pending.push(promise);
    return true;
  };
  while (pending.length < concurrency && start());
  while (pending.length > 0) {
    const result = await pending.shift()!;
    start();
    yield result;
  }
}
