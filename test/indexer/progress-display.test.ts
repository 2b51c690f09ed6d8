/**
 * What `rsclip index` shows after its last commit: nothing for a save that ends quickly; a line
 * saying what the store is doing for one that takes longer (a PostgreSQL index builds pgvector's
 * graph then: minutes for millions of vectors), and nothing more once the run has finished.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { progressDisplay } from '../../src/cli/index-cmd.js';
import type { IndexProgress } from '../../src/indexer/index.js';

const progress = (phase: IndexProgress['phase']): IndexProgress => ({ phase, scanned: 4, total: 4, done: 4, errors: 0, embedded: 4, imagesPerSecond: 2, etaSeconds: undefined });
let written: string[];

beforeEach(() => {
  vi.useFakeTimers();
  written = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

it('says what a slow save at the end of a run does, for a PostgreSQL index and for a folder', () => {
  for (const [location, said] of [
    ['postgres://rsclip@db.example/archive', /^finishing: PostgreSQL is building the index's vector graph \(pgvector's HNSW\)/],
    ['data/index', /^finishing: bringing the vector graph up to date and writing its file/],
  ] as const) {
    written = [];
    const display = progressDisplay(false, location);
    display.update(progress('save'));
    vi.advanceTimersByTime(1500);
    expect(written.some((line) => line.startsWith('finishing'))).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(written.filter((line) => line.startsWith('finishing'))).toEqual([expect.stringMatching(said)]);
    display.update(progress('finish'));
    display.stop();
  }
});

it('says nothing of a save that ended before the notice was due', () => {
  const display = progressDisplay(false, 'postgres://rsclip@db.example/archive');
  display.update(progress('save'));
  vi.advanceTimersByTime(500);
  display.update(progress('finish'));
  vi.advanceTimersByTime(10_000);
  display.stop();
  expect(written.some((line) => line.startsWith('finishing'))).toBe(false);
});

it('says nothing when quiet (--json)', () => {
  const display = progressDisplay(true, 'data/index');
  display.update(progress('save'));
  vi.advanceTimersByTime(10_000);
  expect(written).toEqual([]);
});
