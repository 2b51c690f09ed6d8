/**
 * The native int8 cosine kernel (native/int8_cosines.c) against cosineInt8, on every code path
 * this CPU runs (each in a process of its own: the path is chosen when the addon loads), and its
 * refusals of arguments it cannot use.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { int8CosineKernel, scoreRows } from '../../src/store/int8-cosines.js';
import { REPO_ROOT } from '../fixtures/cli.js';

const KERNELS = ['avx512vnni', 'avx2', 'generic'];

async function checkUnder(cap: string): Promise<{ kernel: string; compared: number; differing: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'int8-cosines.child.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, RSCLIP_INT8_KERNEL: cap },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as { kernel: string; compared: number; differing: string[] };
}

describe('int8 cosines', () => {
  // the best path this CPU has, then each one below it
  const best = int8CosineKernel();
  for (const cap of KERNELS.slice(KERNELS.indexOf(best))) {
    it(`scores every row exactly as cosineInt8 does: ${cap}`, async () => {
      const result = await checkUnder(cap);
      expect(result.kernel).toBe(cap);
      expect(result.differing).toEqual([]);
      // 11 dimensions x 3 queries x 30 rows, then 3 extreme queries x 3 extreme rows at 65,536 components
      expect(result.compared).toBe(11 * 3 * 30 + 3 * 3);
    }, 60_000);
  }

  it('refuses blocks, counts, queries and outputs it cannot use', () => {
    const dim = 4;
    const query = Int8Array.of(1, 2, 3, 4);
    const rows = new Int8Array(3 * dim);
    expect(scoreRows([rows], Uint32Array.of(3), query, new Float64Array(3))).toBe(3);
    expect(() => scoreRows([rows], Uint32Array.of(4), query, new Float64Array(4))).toThrow('a block holds fewer rows than asked for');
    expect(() => scoreRows([rows], Uint32Array.of(3), query, new Float64Array(2))).toThrow('out is too short');
    expect(() => scoreRows([rows, rows], Uint32Array.of(3), query, new Float64Array(6))).toThrow('a count per block');
    expect(() => scoreRows([new Float32Array(12) as unknown as Int8Array], Uint32Array.of(3), query, new Float64Array(3))).toThrow('blocks must be an array of Int8Array');
    expect(() => scoreRows([rows], Uint32Array.of(3), new Int8Array(0), new Float64Array(3))).toThrow('query must be an Int8Array');
    expect(() => scoreRows([new Int8Array(65_537)], Uint32Array.of(1), new Int8Array(65_537), new Float64Array(1))).toThrow('query must be an Int8Array of 1 to 65536 components');
    expect(() => scoreRows([rows], Uint32Array.of(3), query, new Float32Array(3) as unknown as Float64Array)).toThrow('out must be a Float64Array');
    // a subarray is read from its own start, not its buffer's
    const shifted = new Int8Array(dim + 3 * dim);
    shifted.set([5, 0, 0, 0], dim);
    const out = new Float64Array(1);
    scoreRows([shifted.subarray(dim)], Uint32Array.of(1), query, out);
    expect(out[0]).toBeCloseTo(1 / Math.sqrt(30), 12);
  });

  it("takes no array's memory before fetching every block, which may run the caller's code: a getter that shrinks a buffer is refused, not read past", () => {
    type Resizable = ArrayBuffer & { resize(bytes: number): void };
    const resizable = (bytes: number) => new (ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => Resizable)(bytes, { maxByteLength: bytes });
    const dim = 64;
    const query = new Int8Array(dim).fill(1);
    // a block's buffer, shrunk by the getter of the block after it
    const rowsBuffer = resizable(4 * dim);
    const blocks = [new Int8Array(rowsBuffer).fill(3)];
    Object.defineProperty(blocks, 1, { get: () => (rowsBuffer.resize(0), new Int8Array(dim)), enumerable: true });
    expect(() => scoreRows(blocks, Uint32Array.of(4, 1), query, new Float64Array(5))).toThrow('a block holds fewer rows than asked for');
    // the output's buffer, shrunk likewise
    const outBuffer = resizable(5 * 8);
    const others = [new Int8Array(4 * dim)];
    Object.defineProperty(others, 1, { get: () => (outBuffer.resize(0), new Int8Array(dim)), enumerable: true });
    expect(() => scoreRows(others, Uint32Array.of(4, 1), query, new Float64Array(outBuffer))).toThrow('out is too short');
  });
});
