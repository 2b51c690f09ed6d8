/** The vectors and puts of the write-only store tests (write-only.test.ts and its child process). */
import { MODEL } from './backends.js';

const DIM = 32;
export const model = { ...MODEL, embeddingDim: DIM };

/** The i-th of a fixed sequence of distinct unit vectors. */
export function vectorOf(i: number): Float32Array {
  const v = Float32Array.from({ length: DIM }, (_, j) => Math.sin(i * 7.1 + j * 1.3 + Math.sqrt(i + j)));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** File i with vector `vector` (default: vectorOf(i)); a different `version` is new content. */
export const put = (i: number, vector = vectorOf(i), version = 1) => ({
  kind: 'put' as const,
  file: { root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: version, contentHash: `h${i}-${version}`, width: 1, height: 1, format: 'png' },
  vector,
});
