/** Combines the terms' unit vectors into one unit query vector. */
import { RsclipError } from '../errors.js';
import { norm, unitVector } from '../vector-math.js';

/** Below this norm the weighted sum has no direction left (e.g. `"river" - "river"`). */
const MIN_COMBINED_NORM = 1e-6;

/** sum_i weight_i * unit(vector_i), re-normalised; throws BAD_QUERY when the terms cancel out. */
export function combineWeighted(parts: { vector: Float32Array; weight: number }[]): Float32Array {
  if (parts.length === 0) throw new RsclipError('BAD_QUERY', 'empty query: expected at least one text, image or id term');
  const dim = parts[0]!.vector.length;
  const sum = new Float64Array(dim);
  // only the weights' ratios count: scaled by the largest, huge weights (1e200) cannot overflow the sum to Infinity
  const largest = Math.max(...parts.map((p) => Math.abs(p.weight)));
  if (!(largest > 0 && largest < Infinity)) throw new RsclipError('BAD_QUERY', `term weights must be finite and not all 0, got ${parts.map((p) => p.weight).join(', ')}`);
  for (const { vector, weight } of parts) {
    if (vector.length !== dim) {
      throw new RsclipError('BAD_QUERY', `query terms have vectors of different lengths: ${dim} and ${vector.length}`);
    }
    const unit = unitVector(vector);
    const scaled = weight / largest;
    for (let i = 0; i < dim; i++) sum[i]! += scaled * unit[i]!;
  }
  const length = norm(sum);
  if (length < MIN_COMBINED_NORM) {
    throw new RsclipError('BAD_QUERY', 'the query terms cancel out: their weighted sum has no direction', {
      hint: 'change the weights or remove a negative term',
    });
  }
  return Float32Array.from(sum, (v) => v / length);
}
