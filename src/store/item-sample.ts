/**
 * A sample of an index for a start page or a benchmark: items spread evenly over the id range,
 * found with at most 3k index lookups whatever the size of the index (listing every id took
 * 3.4-4 s at 3M items, on the server's event loop, at every load of the web page).
 */

/**
 * Up to k searchable items, ascending, fewer only when fewer exist: the first searchable id at or
 * after each of k targets spaced evenly over 1..maxId (after the previous one found, so that none
 * repeats); when ids cluster so that the targets run off the end, the first ids not yet taken
 * make up the number.
 */
export async function spreadItemSample(k: number, maxId: number, firstSearchableFrom: (id: number) => Promise<number | undefined>): Promise<number[]> {
  const taken = new Set<number>();
  let last = 0;
  for (let i = 0; i < k; i++) {
    const id = await firstSearchableFrom(Math.max(1 + Math.floor((i * maxId) / k), last + 1));
    if (id === undefined) break;
    taken.add(id);
    last = id;
  }
  for (let from = 1; taken.size < k; ) {
    const id = await firstSearchableFrom(from);
    if (id === undefined) break;
    taken.add(id);
    from = id + 1;
  }
  return [...taken].sort((a, b) => a - b);
}
