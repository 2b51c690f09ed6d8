/**
 * A tiled scene whose full decode (16,384 x 16,384 x 4 bands x 16 bit = 2 GiB) exceeds a memory cap
 * given to a child process is read window by window under that cap, every sampled pixel right;
 * the same child asked to decode the whole scene at once fails under the same cap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCappedChild } from '../fixtures/capped-child.js';
import { writeBigScene } from './big-scene.js';

const CHILD = path.join(import.meta.dirname, 'bounded-memory.child.ts');
const SIZE = 16_384;
const FULL_DECODE_BYTES = SIZE * SIZE * 4 * 2;
/** Room for the windows above what the process holds after loading: far below the full decode. */
const HEADROOM_KB = 700 * 1024;

function runChild(args: string[], capKb?: number): Promise<Record<string, unknown>> {
  return runCappedChild(CHILD, args, capKb);
}

describe('a scene larger than a memory cap', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-big-'));
  const file = path.join(dir, 'big.tif');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is read window by window under the cap, and cannot be decoded whole under it', { timeout: 300_000 }, async () => {
    writeBigScene(file, SIZE);
    const probe = await runChild(['probe', file]);
    expect(probe.ok).toBe(true);
    const capKb = Number(probe.vmPeakKb) + HEADROOM_KB;
    expect(HEADROOM_KB * 1024).toBeLessThan(FULL_DECODE_BYTES / 2);
    const windows = await runChild(['windows', file, '150'], capKb);
    expect(windows, JSON.stringify(windows)).toMatchObject({ ok: true, mismatches: 0 });
    expect(Number(windows.windows)).toBeGreaterThanOrEqual(150);
    expect(Number(windows.vmPeakKb)).toBeLessThanOrEqual(capKb);
    const whole = await runChild(['whole', file], capKb);
    expect(whole.ok, JSON.stringify(whole)).toBe(false);
    expect(String(whole.error)).toMatch(/allocation failed|out of memory/i);
  });
});
