/**
 * Scenes in other processes: a tiled scene whose full decode (16,384 x 16,384 x 4 bands x 16 bit
 * = 2 GiB) exceeds a memory cap given to the process indexes under that cap (and cannot be decoded
 * whole under it); `rsclip index` killed with SIGKILL in the middle of a scene, then run again,
 * leaves every tile in the index exactly once and embeds none twice.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planWindows } from '../../src/geo/index.js';
import { openIndex } from '../../src/store/index.js';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { tinyModelDir } from '../fixtures/model.js';
import { MOSAIC, writeMosaic } from '../fixtures/mosaic.js';
import { writeBigScene } from '../raster/big-scene.js';
import { runCappedChild } from '../fixtures/capped-child.js';

const CHILD = path.join(import.meta.dirname, 'scene-index.child.ts');
const SIZE = 16_384;
const FULL_DECODE_BYTES = SIZE * SIZE * 4 * 2;
/** Room for the windows, the model-free encoder and the index above what the process holds after loading. */
const HEADROOM_KB = 700 * 1024;

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-scene-proc-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runChild(args: string[], capKb?: number): Promise<Record<string, unknown>> {
  return runCappedChild(CHILD, args, capKb);
}

describe('a scene larger than a memory cap', () => {
  it('indexes window by window under the cap, and cannot be decoded whole under it', { timeout: 600_000 }, async () => {
    const archive = path.join(work, 'big');
    mkdirSync(archive);
    const file = path.join(archive, 'big.tif');
    writeBigScene(file, SIZE);
    const probe = await runChild(['probe', work]);
    expect(probe, JSON.stringify(probe)).toMatchObject({ ok: true });
    const capKb = Number(probe.vmPeakKb) + HEADROOM_KB;
    expect(HEADROOM_KB * 1024).toBeLessThan(FULL_DECODE_BYTES / 2);
    const indexed = await runChild(['index', file, path.join(work, 'big-index')], capKb);
    expect(indexed, JSON.stringify(indexed)).toMatchObject({ ok: true, summary: { added: 1, errors: 0, scenes: 1 } });
    const windows = planWindows(SIZE, SIZE, { inputSize: 224, scales: [4] }).length;
    const summary = indexed.summary as { embedded: number; nodataWindows: number };
    expect(summary.embedded + summary.nodataWindows).toBe(windows);
    expect(summary.embedded).toBeGreaterThan(windows / 2);
    expect(Number(indexed.vmPeakKb)).toBeLessThanOrEqual(capKb);
    const whole = await runChild(['whole', file], capKb);
    expect(whole.ok, JSON.stringify(whole)).toBe(false);
    expect(String(whole.error)).toMatch(/allocation failed|out of memory|Array buffer allocation|Invalid typed array length/i);
  });
});

describe('rsclip index killed in the middle of a scene', () => {
  it('resumes with every tile in the index exactly once and none embedded twice', { timeout: 300_000 }, async () => {
    const archive = path.join(work, 'mosaic');
    mkdirSync(archive);
    writeMosaic(path.join(work, 'mosaic.tif'));
    copyFileSync(path.join(work, 'mosaic.tif'), path.join(archive, 'mosaic.tif'));
    const modelDir = await tinyModelDir();
    const indexDir = path.join(work, 'mosaic-index');
    const args = ['index', archive, '--index', indexDir, '--model', modelDir, '--batch', '8', '--threads', '1', '--json'];
    const child = spawnCli(args, { env: { RSCLIP_DEBUG_PAUSE_AT: 'committed' } });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('RSCLIP_PAUSED committed')) child.kill('SIGKILL');
      });
      child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`indexer exited (${code}) before pausing: ${stderr}`))));
    });
    let store = await openIndex(indexDir, { readonly: true });
    const committed = await store.countItems();
    expect(committed).toBe(8);
    expect((await store.findFileByPath(path.join(archive, 'mosaic.tif')))!.complete).toBe(false);
    await store.close();

    const rerun = await runCli(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    const total = planWindows(MOSAIC.size, MOSAIC.size, { inputSize: 224 }).length;
    expect(JSON.parse(rerun.stdout)).toMatchObject({ resumed: 1, embedded: total - committed, errors: 0 });
    store = await openIndex(indexDir, { readonly: true });
    const items = await store.getItems(await store.listItemIds());
    expect(items).toHaveLength(total);
    expect(new Set(items.map((i) => i.key)).size).toBe(total);
    expect(await store.stats()).toMatchObject({ items: total, vectors: total, details: { hnsw: { size: total } } });
    expect((await store.findFileByPath(path.join(archive, 'mosaic.tif')))!.complete).toBe(true);
    await store.close();
  });
});
