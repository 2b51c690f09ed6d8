/**
 * How HnswIndex replaces a vector without hnswlib's in-place update: the same vector revives the
 * item's point, another vector becomes a new point (label item + version x 2^30) and the old one
 * stays deleted, four labels per item in turn; the labels survive a save and a load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINE_DEFAULTS } from '../../src/store/index.js';
import { HnswIndex } from '../../src/store/hnsw-index.js';

const DIM = 8;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rsclip-hnsw-labels-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function vector(seed: number): Float32Array {
  const v = Float32Array.from({ length: DIM }, (_, j) => Math.sin(seed * 3.7 + j * 1.9));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function built(): HnswIndex {
  const index = HnswIndex.create(DIM, ENGINE_DEFAULTS.hnswlib);
  for (let id = 1; id <= 50; id++) index.add(id, vector(id));
  return index;
}

describe('HnswIndex labels', () => {
  it('gives a changed vector a new point and keeps the old one deleted; the same vector revives a deleted item', () => {
    const index = built();
    index.add(5, vector(500));
    expect(index.searchBestFirst(vector(500), 1)[0]).toEqual({ id: 5, score: expect.closeTo(1, 5) });
    expect(index.searchBestFirst(vector(5), 50).find((h) => h.id === 5)?.score).not.toBeCloseTo(1, 3);
    expect(index.getPoint(5)![0]).toBeCloseTo(vector(500)[0]!, 5);
    expect({ size: index.size, stored: index.storedCount }).toEqual({ size: 50, stored: 51 });
    index.markDeleted(5);
    expect(index.searchBestFirst(vector(500), 50).map((h) => h.id)).not.toContain(5);
    index.add(5, vector(500));
    expect({ size: index.size, stored: index.storedCount }).toEqual({ size: 50, stored: 51 });
    expect(index.searchBestFirst(vector(500), 1)[0]!.id).toBe(5);
    expect(index.ids()).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('keeps items, their current points and the deleted ones through a save and a load', async () => {
    const index = built();
    index.add(7, vector(700));
    index.add(7, vector(701));
    index.markDeleted(9);
    await index.save(path.join(dir, 'g.hnsw'));
    const loaded = HnswIndex.load(path.join(dir, 'g.hnsw'), DIM);
    expect(loaded.ids()).toEqual(index.ids());
    expect(loaded.details()).toEqual(index.details());
    expect(loaded.searchBestFirst(vector(701), 1)[0]).toEqual({ id: 7, score: expect.closeTo(1, 5) });
    loaded.add(9, vector(9));
    expect(loaded.storedCount).toBe(index.storedCount);
    expect(loaded.searchBestFirst(vector(9), 1)[0]!.id).toBe(9);
  });

  it('uses four labels per item in turn: the fourth change of a vector reuses the oldest label', () => {
    const index = built();
    for (let change = 1; change <= 5; change++) {
      index.add(3, vector(300 + change));
      expect(index.searchBestFirst(vector(300 + change), 1)[0]).toEqual({ id: 3, score: expect.closeTo(1, 5) });
    }
    expect({ size: index.size, stored: index.storedCount }).toEqual({ size: 50, stored: 53 });
  });

  it('refuses an item id that does not fit a label', () => {
    expect(() => built().add(2 ** 30, vector(1))).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});
