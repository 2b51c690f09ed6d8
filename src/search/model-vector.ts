import { RsclipError } from '../errors.js';
import { vectorProblem } from '../vector-math.js';

/** A vector the model made, unless a cosine cannot use it (NaN, infinite, all zeros): then the model is at fault, not what it was given. */
export function modelVector(vector: Float32Array, of: string): Float32Array {
  const problem = vectorProblem(vector);
  if (problem === undefined) return vector;
  throw new RsclipError('MODEL_INVALID', `the model gave ${of} a vector with ${problem}: is the model damaged?`, { hint: 'download or export the model again' });
}
