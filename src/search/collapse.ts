/** Near-duplicate collapsing: a result too similar to a better-ranked one is folded into it. */
import { cosine, type ScoredId } from '../vector-math.js';

export interface CollapsedGroup {
  hit: ScoredId;
  duplicates: (ScoredId & { similarity: number })[];
}

/**
 * Walks `hits` best first; each hit joins the first kept group whose representative it
 * resembles with cosine >= threshold, else starts a new group. Hits without a vector are kept alone.
 */
export function collapseNearDuplicates(hits: ScoredId[], vectorOf: (id: number) => Float32Array | undefined, threshold: number): CollapsedGroup[] {
  const groups: (CollapsedGroup & { vector: Float32Array | undefined })[] = [];
  for (const hit of hits) {
    const vector = vectorOf(hit.id);
    let joined = false;
    if (vector) {
      for (const group of groups) {
        if (!group.vector) continue;
        const similarity = cosine(vector, group.vector);
        if (similarity >= threshold) {
          group.duplicates.push({ ...hit, similarity });
          joined = true;
          break;
        }
      }
    }
    if (!joined) groups.push({ hit, duplicates: [], vector });
  }
  return groups.map(({ hit, duplicates }) => ({ hit, duplicates }));
}
