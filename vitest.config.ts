import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most test files wait on child processes, servers and the disk, so two files at once pay
    // even on 2 cores (vitest's default there is one): the suite took 787 s instead of 1,007.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    // the second names the files that were running if a worker process's death ends the run
    reporters: ['default', './test/unfinished-files-reporter.ts'],
  },
});
