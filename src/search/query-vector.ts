/** Combines the terms' unit vectors into one unit query vector. */
import { RsclipError } from '../errors.js';

/** Below this norm the weighted sum has no direction left (e.g. `"river" - "river"`). */
const MIN_COMBINED_NORM = 1e-6;

export function unitVector(vector: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  norm = Math.sqrt(norm);
  if (norm === 0) return Float32Array.from(vector);
  return vector.map((v) => v / norm);
}

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
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += sum[i]! * sum[i]!;
  norm = Math.sqrt(norm);
  if (norm < MIN_COMBINED_NORM) {
    throw new RsclipError('BAD_QUERY', 'the query terms cancel out: their weighted sum has no direction', {
      hint: 'change the weights or remove a negative term',
    });
  }
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = sum[i]! / norm;
  return out;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
