/**
 * rsclip's native kernel for int8 cosines (native/int8_cosines.c, compiled by `npm install`
 * through binding.gyp, as hnswlib-node and better-sqlite3 compile theirs): the cosines of one
 * query with the rows of many int8 arrays in one call, exactly as cosineInt8 computes them.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Int8CosinesAddon {
  scoreRows(blocks: Int8Array[], rows: Uint32Array, query: Int8Array, out: Float64Array): number;
  /** The code path chosen for this CPU: avx512vnni, avx2 or generic. */
  kernel: string;
}

/** Where node-gyp puts it, from src/store or dist/store alike. */
const ADDON_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/Release/rsclip_int8.node');

let addon: Int8CosinesAddon | undefined;

function loadAddon(): Int8CosinesAddon {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)(ADDON_FILE) as Int8CosinesAddon;
    } catch (cause) {
      throw new Error(`rsclip's native int8 kernel (${ADDON_FILE}) could not be loaded: build it with \`npm run install\` in rsclip's folder (node-gyp; it needs a C compiler, as hnswlib-node does)`, { cause });
    }
  }
  return addon;
}

/** The code path the kernel runs on this CPU. */
export function int8CosineKernel(): string {
  return loadAddon().kernel;
}

/**
 * The cosine of `query` with each of the first `rows[b]` rows of `blocks[b]` (rows of
 * query.length components), block after block, written to `out` from its start; returns how many.
 */
export function scoreRows(blocks: Int8Array[], rows: Uint32Array, query: Int8Array, out: Float64Array): number {
  return loadAddon().scoreRows(blocks, rows, query, out);
}
