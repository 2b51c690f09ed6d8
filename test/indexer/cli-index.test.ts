/**
 * `rsclip index` / `rsclip doctor` as a user runs them, with the tiny model: crash safety
 * (SIGKILL at chosen points, then a rerun), model binding, and the JSON summary.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { makePng, writeBadFiles } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

const GOOD = 24;
const BATCH = 4;
let work: string;
let archive: string;
let modelDir: string;
let badCount: number;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-cli-index-'));
  archive = path.join(work, 'archive');
  for (let i = 0; i < GOOD; i++) {
    const file = path.join(archive, `folder${i % 3}`, `tile_${String(i).padStart(3, '0')}.png`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, makePng(i + 1, 40 + i, 48));
  }
  badCount = Object.keys(writeBadFiles(archive).bad).length;
  modelDir = await tinyModelDir();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Summary {
  scanned: number;
  added: number;
  embedded: number;
  errors: number;
  unchanged: number;
  interrupted: boolean;
}

async function indexJson(indexDir: string, extra: string[] = []): Promise<Summary> {
  const result = await runCli(['index', archive, '--index', indexDir, '--model', modelDir, '--batch', String(BATCH), '--threads', '1', '--json', ...extra]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Summary;
}

/** Starts an indexer that stops at `point`, waits until it is there, runs `whilePaused`, and SIGKILLs it. */
async function killAt(indexDir: string, point: string, whilePaused: () => Promise<void> = async () => undefined): Promise<void> {
  const child = spawnCli(['index', archive, '--index', indexDir, '--model', modelDir, '--batch', String(BATCH), '--threads', '1', '--json'], {
    env: { RSCLIP_DEBUG_PAUSE_AT: point },
  });
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    let paused = false;
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!paused && stderr.includes(`RSCLIP_PAUSED ${point}`)) {
        paused = true;
        whilePaused()
          .catch((error: unknown) => reject(error as Error))
          .finally(() => child.kill('SIGKILL'));
      }
    });
    child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`indexer exited (${code}) before pausing at ${point}: ${stderr}`))));
  });
}

async function assertConsistent(indexDir: string): Promise<void> {
  const store = await openIndex(indexDir, { readonly: true });
  try {
    expect(await store.countFiles('ok')).toBe(GOOD);
    expect(await store.countFiles('error')).toBe(badCount);
    expect(await store.countFiles()).toBe(GOOD + badCount);
    expect(await store.stats()).toMatchObject({ vectors: GOOD, details: { hnsw: { size: GOOD } } });
    const ids = await store.listItemIds();
    const paths = (await store.getItems(ids)).map((item) => item.file.path);
    expect(new Set(paths).size).toBe(GOOD);
    const vectors = await store.getVectors(ids);
    for (const id of ids) {
      const [best] = await store.search(vectors.get(id)!, 1);
      expect(best!.score).toBeCloseTo(1, 4);
    }
  } finally {
    await store.close();
  }
}

describe('rsclip index (tiny model, child processes)', () => {
  it('indexes an archive with bad files, then finds nothing to do', async () => {
    const indexDir = path.join(work, 'plain');
    const first = await indexJson(indexDir);
    expect(first).toMatchObject({ scanned: GOOD + badCount, added: GOOD, embedded: GOOD, errors: badCount, interrupted: false });
    const second = await indexJson(indexDir, ['--verify']);
    expect(second).toMatchObject({ added: 0, embedded: 0, errors: 0, unchanged: GOOD + badCount, verify: { ok: true, unrepaired: [] } });
    await assertConsistent(indexDir);
    const doctor = await runCli(['doctor', '--index', indexDir, '--json']);
    expect(doctor.code).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true, repaired: [], unrepaired: [] });
    const plain = await runCli(['doctor', '--index', indexDir]);
    expect(plain.stdout).toContain(`checked ${GOOD + badCount} images, ${GOOD} vectors, ${GOOD} in the vector index: ok`);
  });

  it.each([
    ['scan', GOOD],
    ['embedded', GOOD],
    ['committed', GOOD - BATCH],
    ['checkpoint', 0],
  ])('resumes after SIGKILL at %s with no loss, no duplicates and no re-embedding (%i embedded on rerun)', async (point, embeddedOnRerun) => {
    const indexDir = path.join(work, `kill-${point}`);
    await killAt(indexDir, point, async () => {
      if (point !== 'committed') return;
      // a reader (the search server) sees committed batches while the writer is still running
      const reader = await openIndex(indexDir, { readonly: true });
      try {
        expect(await reader.countFiles('ok')).toBe(BATCH);
        const [id] = await reader.listItemIds();
        expect((await reader.search((await reader.getVectors([id!])).get(id!)!, 1))[0]!.id).toBe(id);
      } finally {
        await reader.close();
      }
    });
    const rerun = await indexJson(indexDir);
    expect(rerun.embedded).toBe(embeddedOnRerun);
    await assertConsistent(indexDir);
  });

  it('takes SIGTERM (systemd, docker stop) as Ctrl-C: the first says it stops after the batch in flight, a second ends the process by SIGTERM at once (status 143 in a shell); the rerun finishes', async () => {
    const indexDir = path.join(work, 'sigterm');
    const child = spawnCli(['index', archive, '--index', indexDir, '--model', modelDir, '--batch', String(BATCH), '--threads', '1', '--json'], { env: { RSCLIP_DEBUG_PAUSE_AT: 'committed' } });
    let stderr = '';
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, signal) => resolve([code, signal])));
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('RSCLIP_PAUSED committed')) resolve();
      });
    });
    child.kill('SIGTERM');
    await expect.poll(() => stderr).toContain('rsclip: stopping after the batch in flight (Ctrl-C again to quit at once)');
    // held at the pause: the second signal quits at once
    child.kill('SIGTERM');
    expect(await closed).toEqual([null, 'SIGTERM']);
    const rerun = await indexJson(indexDir);
    expect(rerun.embedded).toBe(GOOD - BATCH);
    await assertConsistent(indexDir);
  });

  it('refuses to update an index with a different model, naming the one it was built with', async () => {
    const indexDir = path.join(work, 'plain');
    const otherModel = path.join(work, 'other-model');
    cpSync(modelDir, otherModel, { recursive: true, filter: (src) => !/\.(bin|safetensors)$/.test(src) });
    const preprocessor = path.join(otherModel, 'preprocessor_config.json');
    const config = JSON.parse(readFileSync(preprocessor, 'utf8')) as { image_mean: number[] };
    config.image_mean = [0.5, 0.5, 0.5];
    writeFileSync(preprocessor, JSON.stringify(config));
    const result = await runCli(['index', archive, '--index', indexDir, '--model', otherModel]);
    expect(result.code).toBe(1);
    // every variant of the other model is named, with the index's
    expect(result.stderr).toMatch(/^rsclip: the index was built with model .* \(fp32, [0-9a-f]{12}\); .*other-model has fp32 \([0-9a-f]{12}\), int8 \([0-9a-f]{12}\) \(pass --model/);
  });

  it('explains a missing index to doctor', async () => {
    const result = await runCli(['doctor', '--index', path.join(work, 'nothing-here')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^rsclip: no index at .*nothing-here/);
  });
});
