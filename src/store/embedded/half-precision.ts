/**
 * Vectors in the catalog are stored at half precision (IEEE 754 binary16, little-endian): half
 * the bytes of float32, and for unit vectors a component error below 2.5e-4 (measured recall@10
 * against float32 exact search: see test/store/half-vectors.test.ts). Node 20 has no
 * Float16Array, so the conversion is done here: encoding rounds to nearest even, decoding is a
 * table lookup (exact search and re-ranking decode every vector they score).
 */

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to `x` (ties to even); beyond the largest half, Infinity. */
export function toHalfBits(x: number): number {
  f32[0] = x;
  const bits = f32Bits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // a subnormal half: the full significand shifted into the 10 mantissa bits
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundedShift(significand, shift);
  }
  // a carry out of the mantissa moves into the exponent, which is the right result (up to Infinity)
  return sign | ((halfExponent << 10) + roundedShift(mantissa, 13));
}

/** `value >> shift` (value < 2^24, 1 <= shift <= 24), rounded to nearest, ties to even; bit operations, it runs per component. */
function roundedShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** Every binary16 value as a float32, by its bits. */
const HALF_VALUES = (() => {
  const table = new Float32Array(0x10000);
  for (let bits = 0; bits < 0x10000; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[bits] = mantissa === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
})();

/** A vector as the catalog stores it: 2 bytes per component. */
export function encodeHalf(vector: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(vector.length * 2);
  for (let i = 0; i < vector.length; i++) {
    const bits = toHalfBits(vector[i]!);
    out[2 * i] = bits & 0xff;
    out[2 * i + 1] = bits >>> 8;
  }
  return out;
}

/** A stored vector back as float32 (an odd byte left over is ignored: such a blob fails the length check). */
export function decodeHalf(blob: Uint8Array): Float32Array {
  const out = new Float32Array(blob.byteLength >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = HALF_VALUES[blob[2 * i]! | (blob[2 * i + 1]! << 8)]!;
  return out;
}

/** A float32 blob (catalogs before schema 4) re-encoded at half precision. */
export function float32BlobToHalf(blob: Uint8Array): Buffer {
  const vector = new Float32Array(blob.byteLength >>> 2);
  new Uint8Array(vector.buffer).set(blob.subarray(0, vector.byteLength));
  return encodeHalf(vector);
}
