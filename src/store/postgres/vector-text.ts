/**
 * Vectors in pgvector's text form. A float32 printed as the shortest double that names it is
 * read back by pgvector (strtof) as the same float32, and pgvector prints each float32 as its
 * shortest round-tripping form: vectors go in and come out bit for bit.
 */
export function vectorToText(vector: Float32Array): string {
  return `[${Array.prototype.join.call(vector, ',')}]`;
}

export function textToVector(text: string): Float32Array {
  return Float32Array.from(text.slice(1, -1).split(','), Number);
}
