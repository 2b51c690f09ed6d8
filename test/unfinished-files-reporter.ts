/**
 * Names the test files, and the tests in them, that were running when the run ended before they
 * did. When a worker process dies (a signal, a crash in native code), vitest stops the whole
 * run at once with "Worker exited unexpectedly" and prints nothing that says which file it was
 * running; this reporter, in vitest's main process, prints it as that process exits. A run that
 * ends normally prints nothing.
 */
import path from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

interface Running {
  since: number;
  /** The full names of the tests under way, by their ids (two tests may share a name). */
  tests: Map<string, string>;
}

export default class UnfinishedFilesReporter implements Reporter {
  readonly #running = new Map<string, Running>();

  constructor() {
    // 'exit' listeners run when the process ends through process.exit(), as vitest's does then;
    // first, since vitest's own listener calls process.exit() again, which skips those after it
    process.prependOnceListener('exit', () => this.#report());
  }

  onTestModuleQueued(module: TestModule): void {
    this.#running.set(module.moduleId, { since: performance.now(), tests: new Map() });
  }

  onTestModuleEnd(module: TestModule): void {
    this.#running.delete(module.moduleId);
  }

  onTestCaseReady(test: TestCase): void {
    this.#running.get(test.module.moduleId)?.tests.set(test.id, test.fullName);
  }

  onTestCaseResult(test: TestCase): void {
    this.#running.get(test.module.moduleId)?.tests.delete(test.id);
  }

  #report(): void {
    if (this.#running.size === 0) return;
    const now = performance.now();
    const lines = [...this.#running].map(([file, { since, tests }]) => {
      const running = tests.size > 0 ? `; running: ${[...tests.values()].map((name) => JSON.stringify(name)).join(', ')}` : '';
      return `  ${path.relative(process.cwd(), file)} (for ${((now - since) / 1000).toFixed(1)} s${running})`;
    });
    // a pipe or a file: written before the process ends
    process.stderr.write(`\n[rsclip tests] the run ended while these test files were running (one of their worker processes may have died):\n${lines.join('\n')}\n`);
  }
}
