/** Plain (piped) progress of `rsclip eval`: count, share, rate and time left, one line per phase every few seconds and at its end. */
import { describe, expect, it } from 'vitest';
import { evalProgressDisplay } from '../../src/cli/eval-progress.js';

function recorder() {
  const lines: string[] = [];
  let now = 0;
  const display = evalProgressDisplay({ tty: false, write: (t) => lines.push(t.trimEnd()), now: () => now });
  return { lines, display, at: (ms: number) => (now = ms) };
}

describe('eval progress when piped', () => {
  it('times each phase from its start and prints rate and ETA, at most every 5 s and at the end', () => {
    const { lines, display, at } = recorder();
    at(1000);
    display.update({ phase: 'images', done: 0, total: 1000 }); // start: nothing to measure yet
    at(3000);
    display.update({ phase: 'images', done: 100, total: 1000 }); // 50 images/s, 900 left
    at(4000);
    display.update({ phase: 'images', done: 150, total: 1000 }); // within 5 s of the last line
    at(8000);
    display.update({ phase: 'images', done: 350, total: 1000 });
    at(21_000);
    display.update({ phase: 'images', done: 1000, total: 1000 });
    at(21_000);
    display.update({ phase: 'texts', done: 0, total: 5000 });
    at(23_000);
    display.update({ phase: 'texts', done: 5000, total: 5000 });
    expect(lines).toEqual([
      'images: 100/1000 (10%), 50.0 images/s, ETA 18s',
      'images: 350/1000 (35%), 50.0 images/s, ETA 13s',
      'images: 1000/1000 (100%), 50.0 images/s, ETA 0s',
      'texts: 5000/5000 (100%), 2500.0 texts/s, ETA 0s',
    ]);
  });

  it('times a phase that does not report its start from its first report', () => {
    const { lines, display, at } = recorder();
    at(0);
    display.update({ phase: 'search', done: 500, total: 2000 });
    at(10_000);
    display.update({ phase: 'search', done: 1500, total: 2000 });
    expect(lines).toEqual(['search: 1500/2000 (75%), 100.0 queries/s, ETA 5s']);
  });

  it('prints no rate for a phase whose only report is its end, rather than 0.0/s', () => {
    const { lines, display, at } = recorder();
    at(0);
    display.update({ phase: 'images', done: 0, total: 0 }); // every image from the index: no line at all
    display.update({ phase: 'search', done: 500, total: 500 });
    expect(lines).toEqual(['search: 500/500 (100%)']);
  });

  it('rates a phase that reports its start and then its end (the rsicd search over the index)', () => {
    const { lines, display, at } = recorder();
    at(0);
    display.update({ phase: 'search', done: 0, total: 500 });
    at(2000);
    display.update({ phase: 'search', done: 500, total: 500 });
    expect(lines).toEqual(['search: 500/500 (100%), 250.0 queries/s, ETA 0s']);
  });
});
