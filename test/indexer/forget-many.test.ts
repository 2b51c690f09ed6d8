/**
 * `--forget` of a folder holding more files than one function call takes arguments (about
 * 125,000): their ids were spread into push's arguments, and the run ended with "Maximum call
 * stack size exceeded" before anything was committed, so that folder could never be forgotten.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from './fake-encoder.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-forget-many-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('forgets a folder of 130,000 files', { timeout: 600_000 }, async () => {
  const count = 130_000;
  const encoder = new FakeEncoder({ dim: 4 });
  const index = path.join(work, 'index');
  const root = path.join(work, 'archive');
  const store = await openIndex(index, { model: encoder.info, create: true });
  try {
    for (let start = 0; start < count; start += 10_000) {
      await store.commit(
        Array.from({ length: Math.min(10_000, count - start) }, (_, i) => {
          const k = start + i;
          const file = { root, path: `f${Math.floor(k / 1000)}/${k}.png`, bytes: 100, mtimeMs: 1_600_000_000_000 + k, contentHash: `h${k}`, width: 8, height: 8, format: 'png' };
          return { kind: 'put' as const, file, vector: Float32Array.of(Math.cos(k), Math.sin(k), Math.cos(k * 0.37), Math.sin(k * 1.91)) };
        }),
      );
    }
  } finally {
    await store.close();
  }
  const summary = await indexInto({ roots: [], forget: [root], index, model: encoder });
  expect(summary).toMatchObject({ removed: count });
});
