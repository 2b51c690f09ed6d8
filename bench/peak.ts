/**
 * This machine's arithmetic peaks, the ceilings the image encoder's images/s is judged against:
 * 1. the instruction peak: independent chains of fp32 FMAs and of int8 dot products (AVX-512
 *    VNNI vpdpbusd, AVX-VNNI, or AVX2's vpmaddubsw + vpmaddwd where there is no VNNI), in a
 *    small C program compiled here with -march=native, on 1 thread and on every core;
 * 2. what onnxruntime's kernels reach on the encoder's own GEMM shape (ViT-B/32, batch 32:
 *    1600 tokens x 768 -> 3072): MatMul in fp32 and DynamicQuantizeMatMul in int8 (the op the
 *    int8 export uses), as single-node ONNX graphs.
 * Ops count a multiply-add as 2 (so a ViT-B/32 image is 8.8 GOP). Prints JSON.
 *
 *   npx tsx bench/peak.ts [--threads N] [--seconds 2]
 * A shared machine lowers the all-core figures; the 1-thread ones are steadier.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GraphBuilder, floatTensor, int8Tensor, MS_DOMAIN } from '../src/model/export/graph-builder.js';
import { encodeModel, OnnxDataType } from '../src/model/export/onnx-proto.js';
import { OnnxSession } from '../src/model/onnx.js';

const GIGA = 1e9;

const KERNELS_C = String.raw`
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 12 independent accumulators in named registers (an array would be kept in memory) */
#define CHAINS 12
#define EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
static double clock_s(clockid_t id) { struct timespec t; clock_gettime(id, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static volatile float sink_f;
static volatile int sink_i;

/* returns multiply-adds per iteration of one thread */
static long fma_chains(long iters) {
#if defined(__AVX512F__)
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define DECL(c) __m512 acc##c = _mm512_set1_ps((float)c);
#define STEP(c) acc##c = _mm512_fmadd_ps(acc##c, a, b);
#define SUM(c) s = _mm512_add_ps(s, acc##c);
  EACH(DECL)
  for (long i = 0; i < iters; i++) { EACH(STEP) }
  __m512 s = _mm512_setzero_ps(); EACH(SUM)
  sink_f = _mm512_reduce_add_ps(s);
  return CHAINS * 16;
#elif defined(__FMA__)
  __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define DECL(c) __m256 acc##c = _mm256_set1_ps((float)c);
#define STEP(c) acc##c = _mm256_fmadd_ps(acc##c, a, b);
#define SUM(c) s = _mm256_add_ps(s, acc##c);
  EACH(DECL)
  for (long i = 0; i < iters; i++) { EACH(STEP) }
  __m256 s = _mm256_setzero_ps(); EACH(SUM)
  float out[8]; _mm256_storeu_ps(out, s); sink_f = out[0];
  return CHAINS * 8;
#else
  return 0;
#endif
}
#undef DECL
#undef STEP
#undef SUM

static long int8_chains(long iters) {
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
  __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
#define DECL(c) __m512i acc##c = _mm512_set1_epi32(c);
#define STEP(c) acc##c = _mm512_dpbusd_epi32(acc##c, a, b);
#define SUM(c) s = _mm512_add_epi32(s, acc##c);
  EACH(DECL)
  for (long i = 0; i < iters; i++) { EACH(STEP) }
  __m512i s = _mm512_setzero_si512(); EACH(SUM)
  sink_i = _mm512_reduce_add_epi32(s);
  return CHAINS * 64;
#elif defined(__AVXVNNI__)
  __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
#define DECL(c) __m256i acc##c = _mm256_set1_epi32(c);
#define STEP(c) acc##c = _mm256_dpbusd_avx_epi32(acc##c, a, b);
#define SUM(c) s = _mm256_add_epi32(s, acc##c);
  EACH(DECL)
  for (long i = 0; i < iters; i++) { EACH(STEP) }
  __m256i s = _mm256_setzero_si256(); EACH(SUM)
  int out[8]; _mm256_storeu_si256((__m256i *)out, s); sink_i = out[0];
  return CHAINS * 32;
#elif defined(__AVX2__)
  /* u8 x s8 -> s16 pairs (vpmaddubsw), s16 pairs -> s32 (vpmaddwd), then add: 32 multiply-adds per 3 instructions */
  __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
#define DECL(c) __m256i acc##c = _mm256_set1_epi32(c);
#define STEP(c) acc##c = _mm256_add_epi32(acc##c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
#define SUM(c) s = _mm256_add_epi32(s, acc##c);
  EACH(DECL)
  for (long i = 0; i < iters; i++) { EACH(STEP) }
  __m256i s = _mm256_setzero_si256(); EACH(SUM)
  int out[8]; _mm256_storeu_si256((__m256i *)out, s); sink_i = out[0];
  return CHAINS * 32;
#else
  return 0;
#endif
}

static const char *isa_fp32(void) {
#if defined(__AVX512F__)
  return "avx512 fma";
#elif defined(__FMA__)
  return "avx2 fma";
#else
  return "none";
#endif
}
static const char *isa_int8(void) {
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
  return "avx512 vnni (vpdpbusd)";
#elif defined(__AVXVNNI__)
  return "avx-vnni (vpdpbusd ymm)";
#elif defined(__AVX2__)
  return "avx2 (vpmaddubsw + vpmaddwd)";
#else
  return "none";
#endif
}

struct job { int kind; long iters; long macs; double cpu; };
static void *run(void *p) {
  struct job *j = p;
  double start = clock_s(CLOCK_THREAD_CPUTIME_ID);
  j->macs = (j->kind == 0 ? fma_chains(j->iters) : int8_chains(j->iters)) * j->iters;
  j->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - start;
  return NULL;
}

int main(int argc, char **argv) {
  int kind = strcmp(argv[1], "int8") == 0;
  int threads = atoi(argv[2]);
  long iters = atol(argv[3]);
  pthread_t t[256]; struct job jobs[256];
  double start = now();
  for (int i = 0; i < threads; i++) { jobs[i].kind = kind; jobs[i].iters = iters; pthread_create(&t[i], NULL, run, &jobs[i]); }
  long macs = 0;
  double cpu = 0;
  for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); macs += jobs[i].macs; cpu += jobs[i].cpu; }
  printf("{\"isa\":\"%s\",\"seconds\":%f,\"cpuSeconds\":%f,\"macs\":%ld}\n", kind ? isa_int8() : isa_fp32(), now() - start, cpu, macs);
  return 0;
}
`;

interface KernelRun {
  isa: string;
  seconds: number;
  cpuSeconds: number;
  macs: number;
}

function compileKernels(dir: string): string {
  const source = path.join(dir, 'peak.c');
  const binary = path.join(dir, 'peak');
  writeFileSync(source, KERNELS_C);
  execFileSync('cc', ['-O2', '-march=native', '-pthread', '-o', binary, source], { stdio: ['ignore', 'ignore', 'inherit'] });
  return binary;
}

const gops = (ops: number, s: number) => Number((ops / s / GIGA).toFixed(1));

/**
 * GOP/s of a kernel on `count` threads (wall clock), and per CPU-second of one thread (what a
 * core does while it runs: the figure other processes on the machine do not lower).
 */
function instructionPeak(binary: string, kind: 'fp32' | 'int8', count: number, seconds: number): { isa: string; gops: number; gopsPerCoreSecond: number } {
  let iters = 1_000_000;
  for (;;) {
    const run = JSON.parse(execFileSync(binary, [kind, String(count), String(iters)], { encoding: 'utf8' })) as KernelRun;
    if (run.macs === 0) return { isa: run.isa, gops: 0, gopsPerCoreSecond: 0 };
    if (run.seconds >= seconds * 0.8) return { isa: run.isa, gops: gops(2 * run.macs, run.seconds), gopsPerCoreSecond: gops(2 * run.macs, run.cpuSeconds) };
    iters = Math.ceil((iters * seconds) / Math.max(run.seconds, 0.01));
  }
}

const GEMM = { m: 1600, k: 768, n: 3072 };

/** A one-node graph: [m, k] x [k, n] as MatMul (fp32) or DynamicQuantizeMatMul (int8 weights). */
function gemmModel(file: string, precision: 'fp32' | 'int8'): void {
  const g = new GraphBuilder();
  const x = g.input('x', OnnxDataType.FLOAT, [GEMM.m, GEMM.k]);
  const values = Float32Array.from({ length: GEMM.k * GEMM.n }, (_, i) => Math.sin(i) * 0.05);
  let y: string;
  if (precision === 'fp32') {
    y = g.node('MatMul', [x, g.initializer(floatTensor('w', [GEMM.k, GEMM.n], values))]);
  } else {
    const q = Int8Array.from(values, (v) => Math.round(v * 2540));
    const w = g.initializer(int8Tensor('w', [GEMM.k, GEMM.n], q));
    const scale = g.initializer(floatTensor('scale', [GEMM.n], new Float32Array(GEMM.n).fill(1 / 2540)));
    const zero = g.initializer(int8Tensor('zero', [GEMM.n], new Int8Array(GEMM.n)));
    y = g.node('DynamicQuantizeMatMul', [x, w, scale, zero], { domain: MS_DOMAIN });
  }
  g.output(y, 'y', OnnxDataType.FLOAT, [GEMM.m, GEMM.n]);
  writeFileSync(file, encodeModel(g.build('gemm', 'bench/peak.ts')));
}

async function onnxruntimePeak(dir: string, precision: 'fp32' | 'int8', count: number, seconds: number): Promise<{ gops: number; gopsPerCoreSecond: number }> {
  const file = path.join(dir, `gemm-${precision}.onnx`);
  gemmModel(file, precision);
  const session = await OnnxSession.open(file, { threads: count });
  const data = Float32Array.from({ length: GEMM.m * GEMM.k }, (_, i) => Math.cos(i));
  const feeds = { x: { type: 'float32' as const, data, dims: [GEMM.m, GEMM.k] } };
  await session.run(feeds, 'y');
  let runs = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() - start < seconds * 1000 || runs < 3) {
    await session.run(feeds, 'y');
    runs++;
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await session.close();
  const ops = 2 * GEMM.m * GEMM.k * GEMM.n * runs;
  return { gops: gops(ops, elapsed), gopsPerCoreSecond: gops(ops, (cpu.user + cpu.system) / 1e6) };
}

interface InstructionPeak {
  isa: string;
  /** One thread, wall clock. */
  gopsOneThread: number;
  /** Every thread, wall clock. */
  gops: number;
  /** Per CPU-second of a core: the peak a core reaches, whatever else runs on the machine. */
  gopsPerCoreSecond: number;
}

export interface Peaks {
  threads: number;
  instruction: { fp32: InstructionPeak; int8: InstructionPeak } | { unavailable: string };
  /** onnxruntime on the encoder's GEMM shape; per core-second counts every thread's CPU time. */
  onnxruntimeGemm: { shape: typeof GEMM; fp32: { gops: number; gopsPerCoreSecond: number }; int8: { gops: number; gopsPerCoreSecond: number } };
}

export async function measurePeaks(count: number, seconds = 2): Promise<Peaks> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsclip-peak-'));
  try {
    let instruction: Peaks['instruction'];
    try {
      const binary = compileKernels(dir);
      const of = (kind: 'fp32' | 'int8'): InstructionPeak => {
        const one = instructionPeak(binary, kind, 1, seconds);
        const all = instructionPeak(binary, kind, count, seconds);
        return { isa: one.isa, gopsOneThread: one.gops, gops: all.gops, gopsPerCoreSecond: Math.max(one.gopsPerCoreSecond, all.gopsPerCoreSecond) };
      };
      instruction = { fp32: of('fp32'), int8: of('int8') };
    } catch (error) {
      instruction = { unavailable: `no C compiler could build the kernels: ${(error as Error).message.split('\n')[0]}` };
    }
    return {
      threads: count,
      instruction,
      onnxruntimeGemm: { shape: GEMM, fp32: await onnxruntimePeak(dir, 'fp32', count, seconds), int8: await onnxruntimePeak(dir, 'int8', count, seconds) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  const { values: args } = parseArgs({
    options: {
      threads: { type: 'string', default: String(os.availableParallelism()) },
      seconds: { type: 'string', default: '2' },
    },
  });
  const peaks = await measurePeaks(Number(args.threads), Number(args.seconds));
  process.stdout.write(`${JSON.stringify({ bench: 'peak', cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)), ...peaks }, null, 2)}\n`);
}
