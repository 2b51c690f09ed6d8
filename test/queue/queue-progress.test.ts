/**
 * What a coordinator shows of its queue: each worker's current rate (its last 30 seconds) and how
 * long it has been silent, jobs Redis lost, and Redis unreachable, on the progress line; each
 * worker's windows and the jobs sent again in the summary. And what `rsclip worker` says: every
 * interval, that interval's rate, and once that it is idle; a refusal's reason, once for the jobs
 * it refuses in a row for it.
 */
import { describe, expect, it, vi } from 'vitest';
import { printIndexSummary, queueProgressText } from '../../src/cli/index-cmd.js';
import { RefusalReport, WorkerReport } from '../../src/cli/worker.js';
import type { IndexProgress, IndexSummary } from '../../src/indexer/index.js';
import { WorkerRates } from '../../src/queue/worker-rates.js';

describe('worker rates', () => {
  it('a worker\'s rate is its windows of the last 30 seconds; one that stopped falls to 0 and counts its silence', () => {
    let now = 0;
    const rates = new WorkerRates(() => now);
    // a (10 windows a second for 60 s) and b (the same for its first 20 s, then nothing)
    for (now = 1000; now <= 60_000; now += 1000) {
      rates.record('a', 10);
      if (now <= 20_000) rates.record('b', 10);
    }
    now = 60_000;
    expect(rates.rates()).toEqual([
      { worker: 'a', items: 600, itemsPerSecond: 10, idleSeconds: 0 },
      { worker: 'b', items: 200, itemsPerSecond: 0, idleSeconds: 40 },
    ]);
  });

  it('a run younger than the span divides by its age', () => {
    let now = 0;
    const rates = new WorkerRates(() => now);
    now = 4000;
    rates.record('a', 64);
    now = 8000;
    expect(rates.rates()).toEqual([{ worker: 'a', items: 64, itemsPerSecond: 8, idleSeconds: 4 }]);
  });
});

describe('the progress line of a queue', () => {
  const progress = (queue: IndexProgress['queue']): IndexProgress => ({ phase: 'index', scanned: 10, total: 10, done: 4, errors: 0, embedded: 40, imagesPerSecond: 8, etaSeconds: 5, ...(queue ? { queue } : {}) });

  it('names each worker with its rate, or with its silence past 30 seconds', () => {
    const text = queueProgressText(
      progress({
        workers: [
          { worker: 'gpu1:41', items: 900, itemsPerSecond: 31.26, idleSeconds: 2 },
          { worker: 'gpu2:7', items: 100, itemsPerSecond: 0, idleSeconds: 95 },
        ],
        resent: 0,
        redisTimeoutSeconds: 300,
      }),
    );
    expect(text).toBe(' | 2 workers: gpu1:41 31.3/s, gpu2:7 no result for 2m');
  });

  it('says how many jobs were sent again and how long Redis has been away', () => {
    const text = queueProgressText(progress({ workers: [], resent: 3, unreachableSeconds: 12.4, redisTimeoutSeconds: 300 }));
    expect(text).toBe(' | 0 workers | 3 jobs sent again (Redis lost them) | Redis unreachable for 12s (the run stops at 5m)');
  });

  it('is empty without a queue', () => {
    expect(queueProgressText(progress(undefined))).toBe('');
  });
});

describe('the summary of a queue run', () => {
  const summary = (queue: IndexSummary['queue']): IndexSummary => ({
    index: 'data/index',
    scanned: 3,
    added: 3,
    updated: 0,
    removed: 0,
    reused: 0,
    embedded: 3,
    errors: 0,
    unchanged: 0,
    scenes: 0,
    resumed: 0,
    nodataWindows: 0,
    unreadableFolders: [],
    symlinkLoops: [],
    skipped: [],
    interrupted: false,
    seconds: 1,
    modelSeconds: 0.5,
    imagesPerSecond: 3,
    timing: { decodeThreads: 0, batchSize: 2, pipelineSeconds: 1, modelSeconds: 0.5, decodeSeconds: 0, storeSeconds: 0.1, mainThreadSeconds: 0.2, cpuSeconds: 0.3, ...(queue ? {} : { encoderBusyShare: 0.5 }) },
    ...(queue ? { queue } : {}),
  });
  const printed = (s: IndexSummary): string[] => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      printIndexSummary(s);
      return String(write.mock.calls[0]![0]).split('\n');
    } finally {
      write.mockRestore();
    }
  };

  it('lists each worker\'s windows, and the jobs sent again when Redis lost some', () => {
    expect(printed(summary({ workers: [{ worker: 'gpu1:41', items: 2 }, { worker: 'gpu2:7', items: 1 }], resent: 4 }))).toContain('  workers (items embedded): gpu1:41 2, gpu2:7 1; jobs sent again after Redis lost them: 4');
    expect(printed(summary({ workers: [{ worker: 'gpu1:41', items: 3 }], resent: 0 }))).toContain('  workers (items embedded): gpu1:41 3');
    expect(printed(summary(undefined)).some((line) => line.includes('workers'))).toBe(false);
  });

  it('gives the workers\' model seconds without a busy share of this process\'s encoder, which did not run', () => {
    expect(printed(summary({ workers: [{ worker: 'gpu1:41', items: 3 }], resent: 0 }))).toContain('  model 0.5s on the workers (pipeline 1.0s, batches of 2), decode 0.0s in the main thread, store 0.1s');
  });
});

describe('rsclip worker\'s report', () => {
  it('gives each interval\'s rate, and says once that it is idle', () => {
    const report = new WorkerReport(10);
    expect(report.next(0, 0)).toBe('0 jobs, 0 windows embedded, idle over the last 10s');
    expect(report.next(0, 0)).toBeUndefined();
    expect(report.next(4, 256)).toBe('4 jobs, 256 windows embedded, 25.6/s over the last 10s');
    expect(report.next(5, 320)).toBe('5 jobs, 320 windows embedded, 6.4/s over the last 10s');
    expect(report.next(5, 320)).toBe('5 jobs, 320 windows embedded, idle over the last 10s');
    expect(report.next(5, 320)).toBeUndefined();
  });

  it('says a refusal\'s reason in full once, and "the same reason" for the jobs refused after it for that reason', () => {
    const report = new RefusalReport();
    expect(report.line('run-0', 'cannot see /a')).toBe('refused job run-0: cannot see /a');
    expect(report.line('run-1', 'cannot see /a')).toBe('refused job run-1: the same reason');
    expect(report.line('run-2', 'another model')).toBe('refused job run-2: another model');
    expect(report.line('run-3', 'cannot see /a')).toBe('refused job run-3: cannot see /a');
  });
});
