/** Near-duplicate collapsing: a result too similar to a better-ranked one is folded into it. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { cosine, type ScoredId } from '../vector-math.js';

export interface CollapsedGroup {
  hit: ScoredId;
  duplicates: (ScoredId & { similarity: number })[];
}

export interface CollapseLimits {
  /**
   * Groups to form: past them a hit that joins none of them is left out (it would head or join a
   * later group). The first `maxGroups` groups are those of an unbounded walk: a hit joins the
   * first group it resembles, so later groups never take a hit from earlier ones.
   */
  maxGroups?: number;
  /** Milliseconds of work between turns of the event loop (collapseNearDuplicatesInTurns only; default 10). */
  sliceMs?: number;
}

export interface CollapseResult {
  groups: CollapsedGroup[];
  /** Whether a hit was left out for maxGroups (more groups exist than were formed). */
  truncated: boolean;
}

/** The walk of collapseNearDuplicates, one hit at a time. */
class Collapser {
  readonly #groups: (CollapsedGroup & { vector: Float32Array | undefined })[] = [];
  readonly #maxGroups: number;
  truncated = false;

  constructor(
    private readonly vectorOf: (id: number) => Float32Array | undefined,
    private readonly threshold: number,
    maxGroups = Infinity,
  ) {
    this.#maxGroups = maxGroups;
  }

  add(hit: ScoredId): void {
    const vector = this.vectorOf(hit.id);
    if (vector) {
      for (const group of this.#groups) {
        if (!group.vector) continue;
        const similarity = cosine(vector, group.vector);
        if (similarity >= this.threshold) {
          group.duplicates.push({ ...hit, similarity });
          return;
        }
      }
    }
    if (this.#groups.length < this.#maxGroups) this.#groups.push({ hit, duplicates: [], vector });
    else this.truncated = true;
  }

  result(): CollapseResult {
    return { groups: this.#groups.map(({ hit, duplicates }) => ({ hit, duplicates })), truncated: this.truncated };
  }
}

/**
 * Walks `hits` best first; each hit joins the first kept group whose representative it
 * resembles with cosine >= threshold, else starts a new group. Hits without a vector are kept alone.
 */
export function collapseNearDuplicates(hits: ScoredId[], vectorOf: (id: number) => Float32Array | undefined, threshold: number): CollapsedGroup[] {
  const collapser = new Collapser(vectorOf, threshold);
  for (const hit of hits) collapser.add(hit);
  return collapser.result().groups;
}

/**
 * collapseNearDuplicates, at most `maxGroups` groups, giving the event loop a turn every `sliceMs`
 * of work: its cost grows with hits x groups, and a server's other requests (its liveness probe
 * too) must not wait for it.
 */
export async function collapseNearDuplicatesInTurns(
  hits: ScoredId[],
  vectorOf: (id: number) => Float32Array | undefined,
  threshold: number,
  limits: CollapseLimits = {},
): Promise<CollapseResult> {
  const collapser = new Collapser(vectorOf, threshold, limits.maxGroups);
  const sliceMs = limits.sliceMs ?? 10;
  let sliceStart = performance.now();
  for (const [i, hit] of hits.entries()) {
    collapser.add(hit);
    if ((i & 63) === 63 && performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return collapser.result();
}
