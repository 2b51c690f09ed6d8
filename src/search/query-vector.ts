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
  for (const { vector, weight } of parts) {
    if (vector.length !== dim) {
      throw new RsclipError('BAD_QUERY', `query terms have vectors of different lengths: ${dim} and ${vector.length}`);
    }
    const unit = unitVector(vector);
    for (let i = 0; i < dim; i++) sum[i]! += weight * unit[i]!;
  }
  const length = norm(sum);
  if (length < MIN_COMBINED_NORM) {
    throw new RsclipError('BAD_QUERY', 'the query terms cancel out: their weighted sum has no direction', {
      hint: 'change the weights or remove a negative term',
    });
  }
  return Float32Array.from(sum, (v) => v / length);
}
