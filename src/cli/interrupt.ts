/**
 * Ctrl-C, or SIGTERM (systemd, `docker stop`, a scheduler), for a command that stops cleanly
 * (`rsclip index`, `rsclip bench`): the first signal says what will happen and aborts a signal
 * (the command stops after the step in flight, and its `finally` blocks clean up); a second ends
 * the process at once by that signal, as shells expect (status 130 after Ctrl-C, 143 after
 * SIGTERM). What must not outlive the process even then (a temporary folder) is removed first.
 */
import { rmSync } from 'node:fs';
import { isRsclipError } from '../errors.js';

/** Exit statuses of a command stopped by a signal (128 + its number), as shells report them. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** What `removedOnExit` must remove however the process ends. */
const removals = new Set<() => void>();

/**
 * Ends the process at once, by `name` itself. process.exit would tear down worker threads that may be
 * inside onnxruntime's session.run, whose binding then aborts the process (SIGABRT, status 134).
 */
export function quitAtOnce(name: keyof typeof SIGNAL_EXIT_CODES): void {
  for (const remove of removals) remove();
  process.removeAllListeners(name);
  process.kill(process.pid, name);
}

/**
 * For a command with nothing to stop cleanly (an export): Ctrl-C or SIGTERM ends the process at once
 * by that signal (status 130 or 143), after `cleanUp`; once `done()` says the command's result is in
 * place, a signal is let go and the command finishes with its own status (a status of 130 would
 * say the file was not written). Returns the function that gives the signals back.
 */
export function quitOnSignal(cleanUp: () => void, done: () => boolean = () => false): () => void {
  const onSignal = (name: keyof typeof SIGNAL_EXIT_CODES): void => {
    if (done()) return;
    cleanUp();
    quitAtOnce(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

export interface SigintStop {
  /** Aborted by the first Ctrl-C or SIGTERM. */
  signal: AbortSignal;
  /** The exit status of a command stopped this way: 130 after Ctrl-C, 143 after SIGTERM. */
  readonly exitCode: number;
  /** Gives the signals back (to Node's default, or to whoever else listens). */
  release(): void;
}

/** Listens for Ctrl-C and SIGTERM until `release`; `notice` is printed on the first one. */
export function stopOnSigint(notice: string): SigintStop {
  const controller = new AbortController();
  let exitCode: number = SIGNAL_EXIT_CODES.SIGINT;
  const onSignal = (name: keyof typeof SIGNAL_EXIT_CODES): void => {
    if (controller.signal.aborted) return quitAtOnce(name);
    exitCode = SIGNAL_EXIT_CODES[name];
    process.stderr.write(`\n${notice}\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** After a command stopped by the signal (its INTERRUPTED error): says so in one line and sets the exit status; any other error is thrown on. */
export function reportStopped(stop: SigintStop, error: unknown): void {
  if (!(stop.signal.aborted && isRsclipError(error, 'INTERRUPTED'))) throw error;
  process.stderr.write(`rsclip: ${error.toOneLine()}\n`);
  process.exitCode = stop.exitCode;
}

/** Removes `dir` (recursively) if the process exits, or a second signal ends it, before the returned function is called; that function removes it too. */
export function removedOnExit(dir: string): () => void {
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  removals.add(remove);
  return () => {
    process.off('exit', remove);
    removals.delete(remove);
    remove();
  };
}
