/**
 * rsclip's int8 form of a vector: its direction scaled so that the largest component is 127,
 * rounded. The per-vector scale uses all 255 levels (usearch's own cast, trunc(127 x / |x|),
 * leaves a 512-d unit vector about 11), and it cancels out under the cosine, which is how int8
 * vectors are compared (usearch-native.ts).
 */
export function writeInt8(vector: ArrayLike<number>, out: Int8Array, offset: number): void {
  let max = 0;
  for (let j = 0; j < vector.length; j++) max = Math.max(max, Math.abs(vector[j]!));
  const scale = max > 0 ? 127 / max : 0;
  for (let j = 0; j < vector.length; j++) out[offset + j] = Math.round(vector[j]! * scale);
}

/** The int8 form of one vector. */
export function toInt8(vector: ArrayLike<number>): Int8Array {
  const out = new Int8Array(vector.length);
  writeInt8(vector, out, 0);
  return out;
}

/** Cosine between an int8 row (at `offset` of `rows`) and a float vector. */
export function cosineInt8(rows: Int8Array, offset: number, vector: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < vector.length; j++) {
    const a = rows[offset + j]!;
    const b = vector[j]!;
    ab += a * b;
    aa += a * a;
    bb += b * b;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
