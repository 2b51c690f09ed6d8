/**
 * Staged files: the partial files of `rsclip export` (or `eval compare --html`) that a killed run
 * left beside its destination are removed by the next run to that destination, and only those.
 */
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stagingFor } from '../src/staged-file.js';

const work = mkdtempSync(path.join(tmpdir(), 'rsclip-staged-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A pid no process can have (above Linux's pid_max limit of 2^22). */
const DEAD_PID = 99_999_999;

function partial(name: string, minutesOld: number): string {
  const file = path.join(work, name);
  writeFileSync(file, '');
  const when = new Date(Date.now() - minutesOld * 60_000);
  utimesSync(file, when, when);
  return file;
}

it("removes a killed run's partial files of the same destination, untouched for ten minutes, and keeps the others", async () => {
  const leftBehind = partial(`.items.geoparquet.${DEAD_PID}.partial`, 30);
  const leftWithTag = partial(`.items.geoparquet.${DEAD_PID}.1a2b3c4d.partial`, 30);
  const recent = partial(`.items.geoparquet.${DEAD_PID + 1}.partial`, 1);
  const running = partial(`.items.geoparquet.${process.pid}.partial`, 30);
  const otherDestination = partial(`.other.csv.${DEAD_PID}.partial`, 30);
  // a live export to items.geoparquet.<a number>.csv, quiet for half an hour (suspended)
  const longerName = partial(`.items.geoparquet.${DEAD_PID}.csv.${process.pid}.partial`, 30);
  const staging = await stagingFor(path.join(work, 'items.geoparquet'), 'next');
  expect(staging?.partial).toBe(path.join(work, '.items.geoparquet.next.partial'));
  expect([leftBehind, leftWithTag, recent, running, otherDestination, longerName].map(existsSync)).toEqual([false, false, true, true, true, true]);
});
