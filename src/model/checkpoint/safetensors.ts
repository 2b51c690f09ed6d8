/**
 * Reader for the safetensors format (huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header `{ name: { dtype, shape, data_offsets: [begin, end] } }`
 * (plus an optional `__metadata__`), then the raw little-endian tensor bytes.
 * Float tensors (F32, F16, BF16, F64) are widened to float32; integer and bool
 * tensors (e.g. int64 `position_ids`) are buffers, not weights, and are skipped.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { RsclipError } from '../../errors.js';
import type { TensorMap } from './tensor.js';

const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;
type FloatDtype = (typeof FLOAT_DTYPES)[number];
const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};
/** A header larger than this is not a real checkpoint header (the format caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function invalid(file: string, what: string): RsclipError {
  return new RsclipError('CHECKPOINT_INVALID', `${file} is not a valid safetensors file: ${what}`, {
    hint: 'download the checkpoint again; the file may be truncated or corrupt',
  });
}

function parseHeader(file: string, bytes: Buffer): { entries: Map<string, HeaderEntry>; dataStart: number } {
  if (bytes.length < 8) throw invalid(file, `expected at least 8 bytes, found ${bytes.length}`);
  const headerLength = bytes.readBigUInt64LE(0);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw invalid(file, `header length ${headerLength} exceeds the ${bytes.length - 8} bytes that follow it`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', 8, dataStart));
  } catch (cause) {
    throw invalid(file, `header is not JSON (${(cause as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw invalid(file, 'header is not a JSON object');
  const dataLength = bytes.length - dataStart;
  const entries = new Map<string, HeaderEntry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = raw as Partial<HeaderEntry> | null;
    const ok =
      e !== null && typeof e === 'object' && typeof e.dtype === 'string' &&
      Array.isArray(e.shape) && e.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      Array.isArray(e.data_offsets) && e.data_offsets.length === 2 && e.data_offsets.every((o) => Number.isInteger(o) && o >= 0);
    if (!ok) throw invalid(file, `entry "${name}" lacks a dtype, shape or data_offsets`);
    const entry = e as HeaderEntry;
    const size = BYTES_PER_ELEMENT[entry.dtype];
    if (size === undefined) throw invalid(file, `tensor "${name}" has unknown dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const expected = entry.shape.reduce((a, b) => a * b, 1) * size;
    if (end < begin || end - begin !== expected) {
      throw invalid(file, `tensor "${name}" (${entry.dtype} [${entry.shape.join(', ')}]) needs ${expected} bytes but data_offsets span ${end - begin}`);
    }
    if (end > dataLength) {
      throw invalid(file, `tensor "${name}" ends at byte ${end} of the data section, which holds only ${dataLength} bytes (truncated?)`);
    }
    entries.set(name, entry);
  }
  // As the format requires, tensors do not share bytes: so what is widened never exceeds twice the file.
  const ranges = [...entries].map(([name, e]) => ({ name, begin: e.data_offsets[0], end: e.data_offsets[1] })).filter((r) => r.end > r.begin);
  ranges.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const previous = ranges[i - 1]!;
    const range = ranges[i]!;
    if (range.begin < previous.end) {
      throw invalid(file, `tensors "${previous.name}" and "${range.name}" overlap (bytes ${range.begin}..${Math.min(previous.end, range.end)} of the data section)`);
    }
  }
  return { entries, dataStart };
}

/** IEEE half -> float32 lookup: 65,536 entries cover every bit pattern exactly. */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) halfTable[h] = sign * frac * 2 ** -24;
    else if (exp === 31) halfTable[h] = frac ? NaN : sign * Infinity;
    else halfTable[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}

function widen(bytes: Buffer, offset: number, count: number, dtype: FloatDtype): Float32Array {
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      // Typed arrays use the platform byte order, little-endian on every platform Node ships for.
      new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * count));
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = bytes.readDoubleLE(offset + 8 * i);
      break;
    case 'F16': {
      const table = halfToFloatTable();
      for (let i = 0; i < count; i++) out[i] = table[bytes.readUInt16LE(offset + 2 * i)]!;
      break;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = bytes.readUInt16LE(offset + 2 * i) << 16;
      break;
    }
  }
  return out;
}

/** Reads every float tensor of a safetensors file as float32 (F16/BF16/F64 widened; integer buffers skipped). */
export async function readSafetensors(file: string): Promise<TensorMap> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new RsclipError('CHECKPOINT_INVALID', `cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  const { entries, dataStart } = parseHeader(file, bytes);
  const tensors: TensorMap = new Map();
  for (const [name, entry] of entries) {
    if (!(FLOAT_DTYPES as readonly string[]).includes(entry.dtype)) continue;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const data = widen(bytes, dataStart + entry.data_offsets[0], count, entry.dtype as FloatDtype);
    tensors.set(name, { shape: [...entry.shape], data });
  }
  return tensors;
}

/** Writes float32 tensors as a safetensors file (names sorted, 8-byte aligned data, like the Python writer). */
export async function writeSafetensors(file: string, tensors: TensorMap): Promise<void> {
  const names = [...tensors.keys()].sort();
  const header: Record<string, HeaderEntry | Record<string, string>> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let headerJson = JSON.stringify(header);
  headerJson += ' '.repeat((8 - (Buffer.byteLength(headerJson) % 8)) % 8);
  const headerBytes = Buffer.from(headerJson, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const parts = [prefix, headerBytes, ...names.map((n) => {
    const d = tensors.get(n)!.data;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  })];
  await writeFile(file, Buffer.concat(parts));
}
