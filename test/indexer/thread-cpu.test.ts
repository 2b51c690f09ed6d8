/** The CPU clock of one thread: it counts the calling thread's work and not another thread's. */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { threadCpuSeconds } from '../../src/indexer/thread-cpu.js';

/** Busy for `ms` of this process's CPU time: on a loaded machine a wall-clock spin got as little as 90 ms of it, which the thread clock's 10 ms steps then read 11 % short. */
function spin(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe.skipIf(process.platform !== 'linux')('threadCpuSeconds [Linux]', () => {
  it("counts this thread's work, not a busy worker thread's", async () => {
    const before = threadCpuSeconds()!;
    const processBefore = process.cpuUsage();
    spin(300);
    const afterOwn = threadCpuSeconds()!;
    // compared with the process's CPU time over the same spin (other threads of the process may take some of it)
    const processUsage = process.cpuUsage(processBefore);
    const processSeconds = (processUsage.user + processUsage.system) / 1e6;
    expect(processSeconds).toBeGreaterThan(0.01);
    expect(afterOwn - before).toBeGreaterThan(0.8 * processSeconds);
    // a worker spinning for 400 ms while this thread waits
    const worker = new Worker('const end = performance.now() + 400; while (performance.now() < end); require("node:worker_threads").parentPort.postMessage("done");', { eval: true });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    expect(threadCpuSeconds()! - afterOwn).toBeLessThan(0.15);
  });
});
