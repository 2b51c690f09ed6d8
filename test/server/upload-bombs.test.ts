/**
 * Upload amplification (issue 10, item 9): four concurrent bomb uploads (PNGs and SVGs of
 * 13,000 x 13,000 pixels, 500 KB and 100 bytes) and two large legitimate ones must not stall the
 * server, which runs in this process.
 *
 * What is measured is the longest single stretch of work on the event loop, in CPU time of the
 * main thread (Linux: /proc/self/task/<pid>/stat), between ticks of a 5 ms timer. A decode on the
 * event loop keeps it busy for seconds; the header checks and the worker threads leave it free.
 * Wall-clock measures (a request's latency, perf_hooks' monitorEventLoopDelay) also count the
 * time the thread waits for a core, which on a shared 2-core machine reached 190 ms with the
 * event loop idle; CPU time does not grow when the machine is merely busy. The event-loop
 * delay is reported alongside for information.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip } from '../../src/model/index.js';
import type { RunningServer } from '../../src/server/index.js';
import { makeBlackPng, makePng } from '../fixtures/images.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';

/** The bound: /healthz answers within 100 ms during any upload. */
const MAX_BLOCKED_MS = 100;
const MAIN_THREAD_STAT = `/proc/self/task/${process.pid}/stat`;

/** CPU time (user + system) of this process's main thread, in ms (/proc counts in 1/100 s). */
function mainThreadCpuMs(): number {
  const fields = readFileSync(MAIN_THREAD_STAT, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs `work` while a 5 ms timer samples the main thread's CPU time; returns the largest amount between two ticks. */
async function longestEventLoopTaskMs<T>(work: () => Promise<T>): Promise<{ result: T; longestMs: number }> {
  let last = mainThreadCpuMs();
  let longestMs = 0;
  const timer = setInterval(() => {
    const now = mainThreadCpuMs();
    longestMs = Math.max(longestMs, now - last);
    last = now;
  }, 5);
  try {
    const result = await work();
    longestMs = Math.max(longestMs, mainThreadCpuMs() - last);
    return { result, longestMs };
  } finally {
    clearInterval(timer);
  }
}

let served: ServedIndex;
let running: RunningServer;

beforeAll(async () => {
  served = await buildServedIndex('bombs');
  running = await served.start();
  await running.ready;
}, 180_000);
afterAll(async () => {
  await running?.close();
  served?.remove();
});

const svgBomb = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="13000" height="13000"><rect width="100%" height="100%"/></svg>');

function upload(bytes: Buffer, contentType: string): Promise<{ status: number; body: { error?: { code: string; message: string }; hits?: { path: string }[] } }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type: contentType }), 'query');
  return fetch(`${running.url}api/search/image?k=3`, { method: 'POST', body: form }).then(async (res) => ({ status: res.status, body: (await res.json()) as never }));
}

describe('uploads cannot stall the server', () => {
  it.skipIf(!existsSync(MAIN_THREAD_STAT))('answers /healthz while 4 bomb uploads and 2 large images are handled: no task holds the event loop for 100 ms', async () => {
    const pngBomb = makeBlackPng(13_000, 13_000);
    expect(pngBomb.length).toBeLessThan(600_000);
    const large = makeBlackPng(4000, 4000);

    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const health: number[] = [];
    const { result, longestMs } = await longestEventLoopTaskMs(async () => {
      let settled = false;
      const uploads = Promise.all([upload(pngBomb, 'image/png'), upload(svgBomb, 'image/svg+xml'), upload(pngBomb, 'image/png'), upload(svgBomb, 'image/svg+xml'), upload(large, 'image/png'), upload(large, 'image/png')]).finally(() => (settled = true));
      while (!settled) {
        health.push((await fetch(`${running.url}healthz`)).status);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return uploads;
    });
    delay.disable();
    console.info(`longest event-loop task ${longestMs} ms of CPU; event-loop delay max ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms (wall clock, for information)`);

    expect(longestMs, 'longest stretch of main-thread CPU between two 5 ms timer ticks').toBeLessThan(MAX_BLOCKED_MS);
    const [png1, svg1, png2, svg2, large1, large2] = result;
    for (const res of [png1!, png2!]) {
      expect(res.status, JSON.stringify(res.body)).toBe(413);
      expect(res.body.error).toMatchObject({ code: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/13000x13000 .* for a query image/) });
    }
    for (const res of [svg1!, svg2!]) {
      expect(res.status, JSON.stringify(res.body)).toBe(415);
      expect(res.body.error?.message).toMatch(/SVG, a vector format/);
    }
    for (const res of [large1!, large2!]) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.hits).toHaveLength(3);
    }
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((s) => s === 200)).toBe(true);
  });

  it('decodes a query in a worker thread to the same vector as the encoder on the main thread', async () => {
    const bytes = makePng(77, 300, 200);
    const encoder = await openClip(served.modelDir, { threads: 1 });
    try {
      const [expected] = await encoder.embedImages([bytes]);
      const res = await fetch(`${running.url}api/search/image?k=6`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array(bytes) });
      const body = (await res.json()) as { hits: { path: string; score: number }[] };
      expect(res.status).toBe(200);
      // the server's scores are cosines against the same query vector: recompute one from the index
      const top = body.hits[0]!;
      const [topVector] = await encoder.embedImages([path.join(served.archive, top.path)]);
      let dot = 0;
      for (let i = 0; i < expected!.length; i++) dot += expected![i]! * topVector![i]!;
      expect(top.score).toBeCloseTo(dot, 5);
    } finally {
      await encoder.close();
    }
  });
});
