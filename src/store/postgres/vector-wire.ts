/**
 * Vectors to and from pgvector. Text, for a query's vector: a float32 printed as the shortest
 * double that names it is read back by pgvector (strtof) as the same float32. Binary, for the
 * many vectors of writes and reads, exact too. Writes: an array of `vector` in PostgreSQL's binary
 * array format (pg sends a Buffer parameter as binary); printing and escaping 64 vectors of 512
 * numbers as text cost the client about 18 ms of CPU, their binary form 1-2 ms. Reads:
 * `vector_send(column)`, the type's binary form as bytea (pg gives a Buffer); reading 10,000
 * 512-d vectors as text took 1.5-1.7 s (1.1-1.3 s of the client's CPU), as bytea 0.19-0.36 s.
 */
import os from 'node:os';
import type { Queryable } from './database.js';

const BIG_ENDIAN_HOST = os.endianness() === 'BE';

export function vectorToText(vector: Float32Array): string {
  return `[${Array.prototype.join.call(vector, ',')}]`;
}

/** A vector column as a statement selects it for sentToVector. */
export function sentVector(column: string): string {
  return `vector_send(${column})`;
}

/** vector_send's form (dim, 0, big-endian float32s) as a vector. */
export function sentToVector(sent: Buffer): Float32Array {
  const vector = new Float32Array((sent.length - 4) / 4);
  const bytes = Buffer.from(vector.buffer);
  sent.copy(bytes, 0, 4);
  if (!BIG_ENDIAN_HOST) bytes.swap32();
  return vector;
}

/** Binary `vector[]` parameters; the `vector` type's oid (the array's element type) is looked up at the first use. */
export class VectorArrays {
  private typeOid: number | undefined;

  /** `vectors` as one parameter of type `vector[]`, for a statement in `db`. */
  async param(db: Queryable, vectors: readonly Float32Array[]): Promise<Buffer> {
    this.typeOid ??= await vectorTypeOid(db);
    return binaryVectorArray(vectors, this.typeOid);
  }
}

async function vectorTypeOid(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ oid: number }>("SELECT t.oid FROM pg_type t JOIN pg_extension e ON e.extnamespace = t.typnamespace WHERE e.extname = 'vector' AND t.typname = 'vector'");
  if (rows.length === 0) throw new Error('the pgvector extension is missing from the database');
  return Number(rows[0]!.oid);
}

/** array_recv's input: dimensions, no-nulls flag, element type, length and lower bound, then each element's length and vector_recv's form (dim, 0, big-endian float32s). */
function binaryVectorArray(vectors: readonly Float32Array[], typeOid: number): Buffer {
  const out = Buffer.alloc(20 + vectors.reduce((sum, v) => sum + 8 + 4 * v.length, 0));
  out.writeInt32BE(1, 0);
  out.writeInt32BE(0, 4);
  out.writeUInt32BE(typeOid, 8);
  out.writeInt32BE(vectors.length, 12);
  out.writeInt32BE(1, 16);
  let at = 20;
  for (const vector of vectors) {
    out.writeInt32BE(4 + 4 * vector.length, at);
    out.writeUInt16BE(vector.length, at + 4);
    at += 8;
    const floats = Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
    floats.copy(out, at);
    if (!BIG_ENDIAN_HOST) out.subarray(at, at + floats.length).swap32();
    at += floats.length;
  }
  return out;
}
