/**
 * Run by int8-cosines.test.ts in a process of its own (the kernel is chosen when the addon loads,
 * and RSCLIP_INT8_KERNEL caps it): scores random int8 rows, -128 and all-zero rows included, at
 * dimensions with and without a tail past a multiple of 64, in blocks of several sizes (the empty
 * one too, and arrays longer than the rows asked for), and compares every score with
 * cosineInt8's. Prints one JSON line: the kernel, the scores compared and those that differ.
 */
import { cosineInt8 } from '../../src/store/int8-vectors.js';
import { int8CosineKernel, scoreRows } from '../../src/store/int8-cosines.js';
import { seededRandom } from '../../src/eval/random.js';

const random = seededRandom(0x1c05);
const byte = () => Math.floor(random() * 256) - 128;
let compared = 0;
const differing: string[] = [];
for (const dim of [1, 3, 32, 63, 64, 65, 100, 127, 128, 512, 700]) {
  const counts = [3, 0, 1, 17, 9];
  // one row past the rows asked for, and a few bytes more: the kernel reads only what it is asked
  const blocks = counts.map((count) => Int8Array.from({ length: (count + 1) * dim + 5 }, byte));
  blocks[0]!.fill(0, dim, 2 * dim); // an all-zero row
  blocks[3]!.fill(-128, 0, dim); // every component at int8's minimum
  blocks[3]!.fill(127, dim, 2 * dim);
  for (const query of [Int8Array.from({ length: dim }, byte), new Int8Array(dim).fill(-128), new Int8Array(dim)]) {
    const out = new Float64Array(40).fill(Number.NaN);
    const written = scoreRows(blocks, Uint32Array.from(counts), query, out);
    if (written !== 30) differing.push(`dim ${dim}: wrote ${written} scores, not 30`);
    let at = 0;
    counts.forEach((count, b) => {
      for (let r = 0; r < count; r++, at++) {
        const expected = cosineInt8(blocks[b]!, r * dim, query);
        compared++;
        if (!Object.is(out[at], expected)) differing.push(`dim ${dim} block ${b} row ${r}: ${out[at]} instead of ${expected}`);
      }
    });
    if (!Number.isNaN(out[30])) differing.push(`dim ${dim}: wrote past its rows`);
  }
}
// the most components taken: extreme rows and queries bring every path's int32 sums nearest their limit
const LARGEST = 65_536;
const extremes = [127, -128, 1].map((v) => new Int8Array(LARGEST).fill(v));
for (const query of extremes) {
  const out = new Float64Array(extremes.length);
  scoreRows(extremes, Uint32Array.from(extremes, () => 1), query, out);
  extremes.forEach((row, r) => {
    compared++;
    const expected = cosineInt8(row, 0, query);
    if (!Object.is(out[r], expected)) differing.push(`dim ${LARGEST} row of ${row[0]}, query of ${query[0]}: ${out[r]} instead of ${expected}`);
  });
}
console.log(JSON.stringify({ kernel: int8CosineKernel(), compared, differing: differing.slice(0, 10) }));
