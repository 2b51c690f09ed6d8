/** Small numeric helpers shared by the two VectorIndex implementations. */
import { RsclipError } from '../errors.js';
import type { ScoredId } from './types.js';

export function checkDim(vector: Float32Array, dim: number): void {
  if (vector.length !== dim) {
    throw new RsclipError('BAD_QUERY', `Expected a vector of length ${dim} but received one of length ${vector.length}`, {
      hint: 'the vector must come from the model the index was built with',
    });
  }
}

/** A copy scaled to length 1 (a zero vector stays zero). */
export function unitVector(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const out = new Float32Array(vector);
  if (sum > 0) {
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < out.length; i++) out[i]! *= scale;
  }
  return out;
}

/** Keeps the k highest scores seen; ties break toward the smaller id so results are deterministic. */
export class TopK {
  private readonly k: number;
  private items: ScoredId[] = [];
  private worst = -Infinity;

  constructor(k: number) {
    this.k = Math.max(0, Math.floor(k));
  }

  offer(id: number, score: number): void {
    if (this.k === 0) return;
    if (this.items.length >= this.k && score < this.worst) return;
    this.items.push({ id, score });
    if (this.items.length > this.k * 2 + 32) this.shrink();
  }

  private shrink(): void {
    this.items.sort(compareBestFirst);
    this.items.length = Math.min(this.items.length, this.k);
    this.worst = this.k > 0 && this.items.length >= this.k ? this.items[this.k - 1]!.score : -Infinity;
  }

  bestFirst(): ScoredId[] {
    this.shrink();
    return this.items;
  }
}

export function compareBestFirst(a: ScoredId, b: ScoredId): number {
  return b.score - a.score || a.id - b.id;
}
