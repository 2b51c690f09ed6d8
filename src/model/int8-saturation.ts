/**
 * Whether an int8 model loses accuracy on this CPU. On x86 without VNNI, onnxruntime multiplies
 * uint8 activations by int8 weights with VPMADDUBSW, which adds two products in 16 bits and
 * saturates: weights of the full 8-bit range then give wrong products (measured with the tiny
 * model on such a machine: a worst cosine to fp32 of 0.877 over 32 captions). rsclip's own export
 * quantises to 7 bits, which cannot saturate (export/quantize.ts); an int8 model made elsewhere,
 * or by rsclip before that, may not. Reading a full-size model's weights takes about a second, so
 * the answer is remembered by the model's fingerprint in the cache directory.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mergeCacheEntries, readCacheEntries } from './cache-file.js';
import { defaultCacheDir } from './hub/cache.js';

export const INT8_CHECKS = 'int8-weights.json';
const CACHE_FIELD = 'widest';
/** Fingerprints remembered (the most recent). */
const MAX_ENTRIES = 100;
/** The widest weight that cannot saturate: two products of 255 x 64 still fit in 16 bits (32,640). */
const WIDEST_SAFE_WEIGHT = 64;

/** This machine's answer, read once. */
let thisCpu: boolean | undefined;

/**
 * x86 flags without AVX-512 VNNI or AVX-VNNI (from /proc/cpuinfo; `cpuinfo` for tests). Other
 * CPUs, and systems without that file, are taken to compute int8 products exactly.
 */
export function cpuSaturatesInt8(cpuinfo?: string): boolean {
  if (cpuinfo !== undefined) return saturatingFlags(cpuinfo);
  if (thisCpu === undefined) {
    try {
      thisCpu = saturatingFlags(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      thisCpu = false;
    }
  }
  return thisCpu;
}

function saturatingFlags(cpuinfo: string): boolean {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/);
  if (!flags?.includes('avx2')) return false;
  return !flags.includes('avx512_vnni') && !flags.includes('avx_vnni');
}

/** The largest magnitude among an ONNX file's int8 initializers; undefined where it has none stored in the file. */
export async function widestInt8Weight(onnx: Uint8Array): Promise<number | undefined> {
  // the ONNX schema (protobufjs) loads only on the CPUs that need it
  const { decodeModel, OnnxDataType } = await import('./export/onnx-proto.js');
  let widest: number | undefined;
  for (const tensor of decodeModel(onnx).graph?.initializer ?? []) {
    if (tensor.dataType !== OnnxDataType.INT8 || !tensor.rawData?.length) continue;
    const values = new Int8Array(tensor.rawData.buffer, tensor.rawData.byteOffset, tensor.rawData.byteLength);
    for (const v of values) widest = Math.max(widest ?? 0, Math.abs(v));
  }
  return widest;
}

export interface Int8Model {
  /** The int8 ONNX files (vision and text towers). */
  files: string[];
  fingerprint: string;
}

/**
 * The warning for `model` on this CPU (undefined: nothing to fear). `cacheDir` as for the
 * fingerprint (`null`: read the weights every time); `cpuinfo` for tests.
 */
export async function int8SaturationWarning(model: Int8Model, options: { cacheDir?: string | null; cpuinfo?: string } = {}): Promise<string | undefined> {
  if (!cpuSaturatesInt8(options.cpuinfo)) return undefined;
  const cacheFile = options.cacheDir === null ? undefined : path.join(options.cacheDir ?? defaultCacheDir(), INT8_CHECKS);
  const known = cacheFile ? (await readCacheEntries<number | null>(cacheFile, CACHE_FIELD))[model.fingerprint] : undefined;
  let widest = known;
  if (widest === undefined) {
    const perFile = await Promise.all(model.files.map(async (file) => widestInt8Weight(await readFile(file))));
    widest = perFile.reduce<number | null>((a, b) => (b === undefined ? a : Math.max(a ?? 0, b)), null);
    if (cacheFile) await mergeCacheEntries(cacheFile, CACHE_FIELD, { [model.fingerprint]: widest }, MAX_ENTRIES);
  }
  if (widest === null || widest <= WIDEST_SAFE_WEIGHT) return undefined;
  return (
    `this CPU has no VNNI, and the int8 model's weights use 8 bits (up to ${widest}): onnxruntime's int8 products saturate here, ` +
    'and embeddings drift from fp32 (text ones most). Use --variant fp32, or export int8 files with 7-bit weights: `rsclip model export <checkpoint-dir> --out <model-dir> --quantize int8`'
  );
}
