/**
 * A filter on a user field the index does not have is a mistake (a typo, a built-in key misspelt),
 * not an empty result: the check a search and an export of a selection make before reading items.
 */
import { RsclipError } from '../errors.js';
import { FILTER_KEYS } from '../store/filter.js';
import type { IndexStore } from '../store/types.js';

/** Throws BAD_QUERY naming the first of `names` that is not a user field of `store`'s index, with the closest known name. */
export async function checkFilterFieldNames(store: IndexStore, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const known = await store.fieldNames();
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  const keys = Object.values(FILTER_KEYS).map((k) => k.name);
  const suggestion = closestName(unknown[0]!, [...keys, ...known]);
  throw new RsclipError(
    'BAD_QUERY',
    `unknown filter field${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}: ` +
      `the filter keys are ${keys.join(', ')}, and ${known.length > 0 ? `this index's user fields are ${known.join(', ')}` : 'this index has no user fields'}`,
    { hint: 'user fields come from the sidecar given to `rsclip index --fields`' },
  );
}

/** The name closest to `name` within two edits (a typo), if any. */
function closestName(name: string, candidates: string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
