/**
 * Ctrl-C for a command that stops cleanly (`rsclip index`, `rsclip bench`): the first SIGINT says what
 * will happen and aborts a signal (the command stops after the step in flight, and its `finally`
 * blocks clean up); a second exits at once with 130. What must not outlive the process even then
 * (a temporary folder) is removed by an 'exit' listener, which process.exit still runs.
 */
import { rmSync } from 'node:fs';

export interface SigintStop {
  /** Aborted by the first Ctrl-C. */
  signal: AbortSignal;
  /** Gives SIGINT back (to Node's default, or to whoever else listens). */
  release(): void;
}

/** Listens for Ctrl-C until `release`; `notice` is printed on the first one. */
export function stopOnSigint(notice: string): SigintStop {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${notice}\n`);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.off('SIGINT', onSigint) };
}

/** Removes `dir` (recursively) if the process exits before the returned function is called; that function removes it too. */
export function removedOnExit(dir: string): () => void {
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  return () => {
    process.off('exit', remove);
    remove();
  };
}
