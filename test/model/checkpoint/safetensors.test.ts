import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRsclipError } from '../../../src/errors.js';
import { readSafetensors, writeSafetensors } from '../../../src/model/checkpoint/safetensors.js';

interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

/** Builds a safetensors file byte by byte, so tests control every field. */
function safetensorsBytes(tensors: Record<string, RawTensor>, options: { headerLength?: number } = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(options.headerLength ?? json.length));
  return Buffer.concat([prefix, json, ...Object.values(tensors).map((t) => t.bytes)]);
}

function f32Bytes(values: number[]): Buffer {
  return Buffer.from(Float32Array.from(values).buffer);
}

describe('readSafetensors', () => {
  let dir: string;
  const file = (name: string): string => path.join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rsclip-safetensors-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function expectInvalid(name: string, bytes: Buffer, message: RegExp): Promise<void> {
    await writeFile(file(name), bytes);
    const error = await readSafetensors(file(name)).catch((e: unknown) => e);
    expect(isRsclipError(error, 'CHECKPOINT_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  }

  it('reads float32 tensors with their shapes and skips int64 buffers', async () => {
    const ids = Buffer.from(BigInt64Array.from([0n, 1n, 2n]).buffer);
    await writeFile(file('f32.safetensors'), safetensorsBytes({
      'a.weight': { dtype: 'F32', shape: [2, 2], bytes: f32Bytes([1, -2, 3.5, 0.25]) },
      'a.position_ids': { dtype: 'I64', shape: [1, 3], bytes: ids },
      'a.bias': { dtype: 'F32', shape: [], bytes: f32Bytes([7]) },
    }));
    const t = await readSafetensors(file('f32.safetensors'));
    expect([...t.keys()].sort()).toEqual(['a.bias', 'a.weight']);
    expect(t.get('a.weight')).toEqual({ shape: [2, 2], data: Float32Array.from([1, -2, 3.5, 0.25]) });
    expect(t.get('a.bias')!.shape).toEqual([]);
  });

  it('widens float16 exactly, including subnormals, infinities and negative zero', async () => {
    // 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), +inf, -0
    const halves = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000]);
    await writeFile(file('f16.safetensors'), safetensorsBytes({ h: { dtype: 'F16', shape: [6], bytes: Buffer.from(halves.buffer) } }));
    const data = (await readSafetensors(file('f16.safetensors'))).get('h')!.data;
    expect([...data]).toEqual([1, -2, 65504, 2 ** -24, Infinity, -0]);
    expect(Object.is(data[5], -0)).toBe(true);
  });

  it('widens bfloat16 as the top 16 bits of a float32', async () => {
    const values = Float32Array.from([1, -3.140625, 1e-30, 65536]);
    const bits = new Uint32Array(values.buffer);
    const bf16 = Uint16Array.from([...bits].map((b) => b >>> 16));
    await writeFile(file('bf16.safetensors'), safetensorsBytes({ b: { dtype: 'BF16', shape: [2, 2], bytes: Buffer.from(bf16.buffer) } }));
    const t = (await readSafetensors(file('bf16.safetensors'))).get('b')!;
    expect(t.shape).toEqual([2, 2]);
    const expected = Float32Array.from([...bits].map((b) => b & 0xffff0000).map((b) => new Float32Array(Uint32Array.of(b).buffer)[0]!));
    expect(t.data).toEqual(expected);
    expect(t.data[0]).toBe(1);
  });

  it('round-trips what writeSafetensors writes', async () => {
    const tensors = new Map([
      ['x', { shape: [3], data: Float32Array.from([0.5, 1.5, -2]) }],
      ['y.z', { shape: [1, 2], data: Float32Array.from([9, 10]) }],
    ]);
    await writeSafetensors(file('rt.safetensors'), tensors);
    expect(await readSafetensors(file('rt.safetensors'))).toEqual(tensors);
  });

  it('refuses a file shorter than its length prefix', async () => {
    await expectInvalid('short.safetensors', Buffer.from([1, 2, 3]), /expected at least 8 bytes/);
  });

  it('refuses a header length that runs past the end of the file', async () => {
    const bytes = safetensorsBytes({ a: { dtype: 'F32', shape: [1], bytes: f32Bytes([1]) } }, { headerLength: 1_000_000 });
    await expectInvalid('long-header.safetensors', bytes, /header length 1000000 exceeds/);
  });

  it('refuses a header that is not JSON', async () => {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(5n);
    await expectInvalid('not-json.safetensors', Buffer.concat([prefix, Buffer.from('{nope')]), /header is not JSON/);
  });

  it('refuses entries without dtype/shape/offsets and unknown dtypes', async () => {
    const bad = (header: unknown): Buffer => {
      const json = Buffer.from(JSON.stringify(header));
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([prefix, json, Buffer.alloc(16)]);
    };
    await expectInvalid('no-shape.safetensors', bad({ a: { dtype: 'F32', data_offsets: [0, 4] } }), /entry "a" lacks/);
    await expectInvalid('dtype.safetensors', bad({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }), /unknown dtype Q4/);
    await expectInvalid('size.safetensors', bad({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 4] } }), /needs 12 bytes but data_offsets span 4/);
  });

  it('refuses truncated tensor data, naming the tensor', async () => {
    const full = safetensorsBytes({ w: { dtype: 'F32', shape: [4], bytes: f32Bytes([1, 2, 3, 4]) } });
    await expectInvalid('truncated.safetensors', full.subarray(0, full.length - 3), /tensor "w" ends at byte 16 .* holds only 13 bytes \(truncated\?\)/);
  });

  it('reports a missing file as CHECKPOINT_INVALID', async () => {
    const error = await readSafetensors(file('absent.safetensors')).catch((e: unknown) => e);
    expect(isRsclipError(error, 'CHECKPOINT_INVALID')).toBe(true);
  });
});
