/**
 * Where a worker-thread module lives, from the module that starts it: .ts when running from the
 * sources (tests, tsx), .js when built. From the sources the thread loads tsx by its absolute
 * location, so it starts whatever the working directory (a bare `tsx` resolves from there).
 */
import { setMaxListeners } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { move, transferableSymbol, valueSymbol, type Piscina } from 'piscina';

export function workerModule(name: string, importerUrl: string): { filename: string; execArgv?: string[] } {
  const fromSources = importerUrl.endsWith('.ts');
  const filename = fileURLToPath(new URL(`./${name}.${fromSources ? 'ts' : 'js'}`, importerUrl));
  if (!fromSources) return { filename };
  const tsx = pathToFileURL(createRequire(importerUrl).resolve('tsx')).href;
  return { filename, execArgv: ['--import', tsx] };
}

type RunOptions = Parameters<Piscina['run']>[1];

/**
 * `pool.run` where a thread failing outside a task (one that cannot start, say) fails the tasks
 * waiting with its error: piscina would emit it as an 'error' event, which ends the process
 * when nothing listens, and leaves the tasks waiting forever when something does.
 */
export function failingTogether<Task, Result>(pool: Piscina<Task, Result>): (task: Task, options?: RunOptions) => Promise<Result> {
  // one abort listener per task in flight: as many as the pool queues, not a leak
  const newController = (): AbortController => {
    const made = new AbortController();
    setMaxListeners(0, made.signal);
    return made;
  };
  let controller = newController();
  pool.on('error', (error: unknown) => {
    const failed = controller;
    controller = newController();
    failed.abort(error);
  });
  return async (task, options = {}) => {
    const { signal } = controller;
    try {
      return await pool.run(task, { ...options, signal });
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    }
  };
}

/**
 * The buffers a task may move to a thread instead of copying: those the views span whole (a
 * view into a larger buffer would take the rest with it), each once (a transfer list may not
 * repeat one).
 */
export function transferable(views: readonly ArrayBufferView[]): ArrayBuffer[] {
  const buffers = views.filter((v) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer).map((v) => v.buffer as ArrayBuffer);
  return [...new Set(buffers)];
}

/** A task's result whose `buffers` move back to the calling thread instead of being copied (piscina's protocol for it). */
export function movingBack<T extends object>(result: T, buffers: readonly ArrayBuffer[]): T {
  if (buffers.length === 0) return result;
  return move({ [transferableSymbol]: [...buffers], [valueSymbol]: result }) as T;
}
