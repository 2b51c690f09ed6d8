/**
 * The warning for int8 models whose weights saturate on x86 CPUs without VNNI: the CPU told from
 * its flags, the weights read from the ONNX files (rsclip's 7-bit export passes, an 8-bit weight
 * does not), the answer remembered by fingerprint, and openClip saying it.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { decodeModel, encodeModel, OnnxDataType } from '../../src/model/export/onnx-proto.js';
import { cpuSaturatesInt8, int8SaturationWarning, widestInt8Weight } from '../../src/model/int8-saturation.js';
import { openClip, openModelDirectory } from '../../src/model/index.js';
import { tinyModelDir } from '../fixtures/model.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-int8-saturation-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cpu = (flags: string): string => `processor\t: 0\nmodel name\t: x\nflags\t\t: fpu sse4_2 ${flags}\n\nprocessor\t: 1\n`;
const ZEN3 = cpu('avx avx2 fma');
const SKYLAKE_SP = cpu('avx avx2 avx512f avx512bw');
const ZEN4 = cpu('avx avx2 avx512f avx512bw avx512_vnni');
const ALDER_LAKE = cpu('avx avx2 avx_vnni');

it('tells the CPUs whose int8 products saturate from their flags', () => {
  expect([ZEN3, SKYLAKE_SP, ZEN4, ALDER_LAKE].map((info) => cpuSaturatesInt8(info))).toEqual([true, true, false, false]);
  // not x86, or no AVX2: taken as exact
  expect(cpuSaturatesInt8('processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n')).toBe(false);
  expect(cpuSaturatesInt8(cpu('sse4_1'))).toBe(false);
});

let eightBit: Promise<string> | undefined;
/** A copy of the tiny model whose int8 vision weights include a full 8-bit value. */
const eightBitModel = (): Promise<string> => (eightBit ??= writeEightBitModel());

async function writeEightBitModel(): Promise<string> {
  const dir = path.join(work, 'eight-bit');
  cpSync(await tinyModelDir(), dir, { recursive: true });
  const file = path.join(dir, 'onnx', 'vision_model_quantized.onnx');
  const model = decodeModel(readFileSync(file));
  const weight = model.graph.initializer.find((t) => t.dataType === OnnxDataType.INT8 && t.rawData.length > 1)!;
  const raw = Uint8Array.from(weight.rawData);
  raw[0] = 0x81; // -127
  weight.rawData = raw;
  writeFileSync(file, encodeModel(model));
  return dir;
}

it('reads the widest int8 weight: rsclip\'s export stays within 7 bits', async () => {
  const tiny = openModelDirectory(await tinyModelDir(), { variant: 'int8' });
  for (const file of [tiny.onnx.vision, tiny.onnx.text]) {
    const widest = await widestInt8Weight(readFileSync(file));
    expect(widest).toBeGreaterThan(50);
    expect(widest).toBeLessThanOrEqual(63);
  }
  expect(await widestInt8Weight(readFileSync(openModelDirectory(await tinyModelDir(), { variant: 'fp32' }).onnx.vision))).toBeUndefined();
  expect(await widestInt8Weight(readFileSync(openModelDirectory(await eightBitModel(), { variant: 'int8' }).onnx.vision))).toBe(127);
});

it('warns for 8-bit weights on such a CPU only, and remembers the answer by fingerprint', async () => {
  const files = openModelDirectory(await eightBitModel(), { variant: 'int8' }).onnx;
  const model = { files: [files.vision, files.text], fingerprint: 'f'.repeat(64) };
  const cacheDir = path.join(work, 'cache');
  expect(await int8SaturationWarning(model, { cacheDir, cpuinfo: ZEN3 })).toMatch(/^this CPU has no VNNI, and the int8 model's weights use 8 bits \(up to 127\).*--quantize int8`$/);
  expect(await int8SaturationWarning(model, { cacheDir, cpuinfo: ZEN4 })).toBeUndefined();
  // remembered: the files are not read again
  const missing = { ...model, files: [path.join(work, 'gone.onnx')] };
  expect(await int8SaturationWarning(missing, { cacheDir, cpuinfo: ZEN3 })).toMatch(/up to 127/);
  await expect(int8SaturationWarning(missing, { cacheDir: null, cpuinfo: ZEN3 })).rejects.toThrow(/ENOENT/);
  const tiny = openModelDirectory(await tinyModelDir(), { variant: 'int8' });
  expect(await int8SaturationWarning({ files: [tiny.onnx.vision, tiny.onnx.text], fingerprint: 'e'.repeat(64) }, { cacheDir, cpuinfo: ZEN3 })).toBeUndefined();
});

it.runIf(cpuSaturatesInt8())('openClip says it on this CPU, once per open of such a model', async () => {
  const warnings: Error[] = [];
  const listener = (w: Error): number => warnings.push(w);
  process.on('warning', listener);
  try {
    const encoder = await openClip(await eightBitModel(), { variant: 'int8', threads: 1, cacheDir: null });
    await encoder.close();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['RSCLIP_INT8_SATURATES']);
});
