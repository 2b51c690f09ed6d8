/**
 * Runs in the graph thread of a write-only store (graph-thread.ts): one graph, loaded as a writer
 * loads it (checked, replayed), kept in step with the catalog by reading what was committed since
 * its last look through a read-only connection of its own, and saved to a file the calling
 * thread then puts in place. Tasks run one at a time; errors come back as values.
 */
import { RsclipError } from '../../errors.js';
import type { GraphFileDigest } from '../graph-index.js';
import type { IndexMeta } from '../types.js';
import { Catalog } from './catalog.js';
import { GraphSync } from './graph-sync.js';

export type GraphThreadTask =
  | { op: 'open'; dir: string; meta: IndexMeta }
  /** Applies every commit since the last look; `previous`: the vectors they replaced or dropped, as they were. */
  | { op: 'catch-up'; previous: [number, Float32Array][] }
  /** Saves the graph (as of its last look) to `temp`. */
  | { op: 'save'; temp: string }
  /** The file saved last is in place: the graph is as on the disk until its next change. */
  | { op: 'saved' }
  | { op: 'close' };

/** Where the graph stands: the last commit applied, and whether it differs from the file. */
export interface GraphThreadState {
  seq: number;
  unsaved: boolean;
}

/** A failure keeps its code (ENOSPC, EROFS...): the calling thread words it as the embedded store does. */
export type GraphThreadResult =
  | { ok: true; state: GraphThreadState; digest?: GraphFileDigest }
  | { ok: false; message: string; code: string | undefined };

let open: { catalog: Catalog; sync: GraphSync } | undefined;

function opened(): { catalog: Catalog; sync: GraphSync } {
  if (!open) throw new RsclipError('INDEX_CLOSED', 'the graph thread holds no graph (it was closed, or restarted after a failure)');
  return open;
}

const stateOf = (sync: GraphSync): GraphThreadState => ({ seq: sync.appliedSeq, unsaved: sync.unsaved });

async function run(task: GraphThreadTask): Promise<GraphThreadResult> {
  switch (task.op) {
    case 'open': {
      const catalog = new Catalog(task.dir, { readonly: true });
      try {
        const sync = new GraphSync(task.dir, catalog, task.meta);
        sync.load();
        open = { catalog, sync };
        return { ok: true, state: stateOf(sync) };
      } catch (error) {
        catalog.close();
        throw error;
      }
    }
    case 'catch-up': {
      const { sync } = opened();
      sync.catchUp(task.previous);
      return { ok: true, state: stateOf(sync) };
    }
    case 'save': {
      const { sync } = opened();
      sync.relinkSuspects();
      const digest = await sync.graph.save(task.temp);
      return { ok: true, state: stateOf(sync), digest };
    }
    case 'saved': {
      const { sync } = opened();
      sync.markSaved();
      return { ok: true, state: stateOf(sync) };
    }
    case 'close': {
      open?.catalog.close();
      open = undefined;
      return { ok: true, state: { seq: 0, unsaved: false } };
    }
  }
}

export default async function graphThreadTask(task: GraphThreadTask): Promise<GraphThreadResult> {
  try {
    return await run(task);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, message: error instanceof Error ? error.message : String(error), code: typeof code === 'string' ? code : undefined };
  }
}
